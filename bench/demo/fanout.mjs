// One fan-out run of `make bench-demo` (bench/README.md, "Side by side with Cloudflare's chat
// demo"), against our worker or against the demo, with the npm `ws` client and
// permessage-deflate on, as browsers do. Driven by bench/demo.rs over stdin/stdout:
//
//   argv[2]  the run as JSON (see `cfg` below)
//   stdout   JSON lines: {"event":"ready"} once every socket is open (and, on the demo, has
//            seen every other join), {"event":"sent"} once every delivery arrived (or the
//            timeout passed) plus a grace period for duplicates, then {"event":"result",...}
//   stdin    "go" starts sending (after the caller's CPU snapshot), "close" closes the
//            sockets (after the second snapshot) and prints the result
//
// Our side: receivers are chat sockets; messages are `POST /messages/api/chats/{id}/messages/`
// from `senders` users, each on its own kept-alive connection; a message is identified by its
// client_id and every frame's `seq` must be the previous one's + 1. The demo's side: every
// member, senders included, holds a socket on the room; a message is sent on the sender's
// socket and identified by its text; the demo's `timestamp` (strictly increasing per room)
// must grow on every socket.
//
// Pacing: "paced" sends message i at start + i / rate seconds from sender i mod senders,
// whether or not earlier sends answered (an open loop). "fast" runs `senders` closed loops:
// each sender sends its next message once its previous one was accepted, which for a POST is
// its 201 and for the demo (no answer to a sent frame) is the message coming back on the
// sender's own socket. Latency is from the start of a send to the arrival on a socket.

import http from "node:http";
import readline from "node:readline";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import WebSocket from "ws";

const cfg = JSON.parse(process.argv[2]);
// side: "ours" | "demo"; base: "http://127.0.0.1:PORT"; receivers; messages; mode: "paced" |
// "fast"; rate (msg/s, paced); senders; tag (unique per run); timeout_s; grace_ms;
// connect_parallel. Ours: chat, tokens (one per receiver, the first `senders` send). Demo: room.
const N = cfg.messages;
const R = cfg.receivers;
const S = cfg.senders;
if (S > R) throw new Error("more senders than receivers");

const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

// The same text on both sides (the demo limits a message to 256 characters).
const texts = Array.from(
  { length: N },
  (_, i) => `Message ${i} of run ${cfg.tag}: a typical sentence or two of chat text, about as long as people write them.`,
);
const byText = new Map(texts.map((t, i) => [t, i]));
const clientId = (i) => `${cfg.tag}-${i}`;
const clientPrefix = `${cfg.tag}-`;

const sentAt = new Float64Array(N).fill(NaN);
const acked = new Float64Array(N).fill(NaN); // POST answered / echo on the sender's socket
let delivered = 0;
let firstArrival = Infinity;
let lastArrival = 0;
let errors = 0;
let firstError = null;
const error = (what) => {
  errors += 1;
  if (firstError === null) firstError = String(what).slice(0, 300);
};
let payloadBytes = 0; // frames' payloads after inflating (JSON text length)
let allArrived = null; // resolved when delivered == N * R
const allArrivedP = new Promise((r) => (allArrived = r));

/// One receiving socket's record.
class Receiver {
  constructor(k) {
    this.k = k;
    this.arrived = new Float64Array(N).fill(NaN);
    this.duplicates = 0;
    this.outOfOrder = 0;
    this.last = null; // ours: seq; demo: timestamp
    this.joined = new Set(); // demo: names seen joining
    this.ws = null;
    this.waiters = new Map(); // demo senders: index -> resolve, for the closed loop
  }

  order(v) {
    if (cfg.side === "ours") {
      if (this.last !== null && v !== this.last + 1) this.outOfOrder += 1;
    } else if (this.last !== null && !(v > this.last)) {
      this.outOfOrder += 1;
    }
    this.last = v;
  }

  deliver(i, t) {
    if (!Number.isNaN(this.arrived[i])) {
      this.duplicates += 1;
      return;
    }
    this.arrived[i] = t;
    delivered += 1;
    if (t < firstArrival) firstArrival = t;
    if (t > lastArrival) lastArrival = t;
    const w = this.waiters.get(i);
    if (w) {
      this.waiters.delete(i);
      w(t);
    }
    if (delivered === N * R) allArrived();
  }

  onMessage(data) {
    const t = now();
    payloadBytes += data.length;
    let v;
    try {
      v = JSON.parse(data);
    } catch {
      return error(`socket ${this.k}: not JSON: ${String(data).slice(0, 80)}`);
    }
    if (cfg.side === "ours") {
      if (typeof v.seq === "number") this.order(v.seq);
      if (v.type === "error") return error(`socket ${this.k}: ${JSON.stringify(v)}`);
      if (v.type !== "new_message") return;
      const c = v.message && v.message.client_id;
      if (typeof c !== "string" || !c.startsWith(clientPrefix)) return;
      const i = Number(c.slice(clientPrefix.length));
      if (Number.isInteger(i) && i >= 0 && i < N) this.deliver(i, t);
    } else {
      if (v.error) return error(`socket ${this.k}: ${v.error}`);
      if (v.joined) {
        this.joined.add(v.joined);
        if (this.onJoined) this.onJoined();
        return;
      }
      if (v.ready || v.quit) return;
      if (typeof v.message !== "string") return;
      this.order(v.timestamp);
      const i = byText.get(v.message);
      if (i !== undefined) this.deliver(i, t);
    }
  }
}

const receivers = Array.from({ length: R }, (_, k) => new Receiver(k));
const wsBase = cfg.base.replace(/^http/, "ws");
let deflate = 0;

/// Opens receiver k's socket; on the demo also joins (sends the name, waits for "ready").
function open(rx) {
  return new Promise((resolve, reject) => {
    const demo = cfg.side === "demo";
    const url = demo
      ? `${wsBase}/api/room/${cfg.room}/websocket`
      : `${wsBase}/messages/api/chats/${cfg.chat}/ws/`;
    const headers = demo ? {} : { Authorization: `Bearer ${cfg.tokens[rx.k]}` };
    const ws = new WebSocket(url, { perMessageDeflate: true, headers });
    rx.ws = ws;
    const timer = setTimeout(() => reject(new Error(`socket ${rx.k} not open within 30 s`)), 30_000);
    ws.on("error", (e) => {
      clearTimeout(timer);
      if (rx.ready) error(`socket ${rx.k}: ${e.message}`);
      reject(e);
    });
    ws.on("unexpected-response", (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`socket ${rx.k}: HTTP ${res.statusCode}`));
    });
    ws.on("open", () => {
      if (String(ws.extensions).includes("permessage-deflate")) deflate += 1;
      if (!demo) {
        rx.ready = true;
        clearTimeout(timer);
        resolve();
        return;
      }
      ws.send(JSON.stringify({ name: `m${rx.k}` }));
    });
    ws.on("message", (data, isBinary) => {
      const text = isBinary ? data : data.toString();
      if (demo && !rx.ready && text === '{"ready":true}') {
        rx.ready = true;
        clearTimeout(timer);
        resolve();
        return;
      }
      rx.onMessage(text);
    });
    ws.on("close", () => {
      rx.closed = true;
    });
  });
}

/// Opens every socket, `connect_parallel` at a time. On the demo the senders join first, one
/// by one (so they lead the room's broadcast loop, as the first members would), and the run
/// waits until every socket has seen every member join, so the joins' broadcasts are over
/// before anything is measured.
async function connectAll() {
  let next = 0;
  if (cfg.side === "demo") {
    for (; next < S; next++) await open(receivers[next]);
  }
  const workers = Array.from({ length: cfg.connect_parallel }, async () => {
    while (next < R) await open(receivers[next++]);
  });
  await Promise.all(workers);
  if (cfg.side === "demo") {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const short = receivers.filter((rx) => rx.joined.size < R).length;
        reject(new Error(`${short} sockets did not see all ${R} joins within 60 s`));
      }, 60_000);
      const check = () => {
        if (receivers.every((rx) => rx.joined.size >= R)) {
          clearTimeout(timer);
          for (const rx of receivers) rx.onJoined = null;
          resolve();
        }
      };
      for (const rx of receivers) rx.onJoined = check;
      check();
    });
  }
}

// ---- sending ----

const agents = Array.from({ length: S }, () => new http.Agent({ keepAlive: true, maxSockets: 8 }));
const postLatency = [];
let d1Trips = 0;
let d1Ms = 0;
let timed = 0;
let sendErrors = 0;

/// `d1;desc="1";dur=3.2` → [1, 3.2].
function serverTiming(h) {
  if (!h) return null;
  const d1 = h.split(",").find((m) => m.trim().startsWith("d1"));
  if (!d1) return null;
  let trips = NaN;
  let dur = NaN;
  for (const part of d1.split(";").slice(1)) {
    const [k, v] = part.trim().split("=");
    const val = (v || "").replace(/"/g, "");
    if (k === "desc") trips = Number(val);
    if (k === "dur") dur = Number(val);
  }
  return [trips, dur];
}

/// POSTs message i as sender s; resolves when the answer was read.
function post(s, i) {
  return new Promise((resolve) => {
    const body = JSON.stringify({ content: texts[i], client_id: clientId(i) });
    const t = now();
    sentAt[i] = t;
    const req = http.request(
      `${cfg.base}/messages/api/chats/${cfg.chat}/messages/`,
      {
        method: "POST",
        agent: agents[s],
        headers: {
          Authorization: `Bearer ${cfg.tokens[s]}`,
          "Content-Type": "application/json",
          "Content-Length": Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const done = now();
          acked[i] = done;
          postLatency.push(done - t);
          const st = serverTiming(res.headers["server-timing"]);
          if (st && Number.isFinite(st[0])) {
            d1Trips += st[0];
            d1Ms += Number.isFinite(st[1]) ? st[1] : 0;
            timed += 1;
          }
          if (res.statusCode !== 201) {
            sendErrors += 1;
            error(`POST ${i}: ${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 200)}`);
          }
          resolve();
        });
      },
    );
    req.on("error", (e) => {
      sendErrors += 1;
      error(`POST ${i}: ${e.message}`);
      resolve();
    });
    req.setTimeout(30_000, () => req.destroy(new Error("no answer within 30 s")));
    req.end(body);
  });
}

/// Sends message i on demo sender s's socket; resolves when it came back on that socket.
function demoSend(s, i) {
  const rx = receivers[s];
  const echoed = new Promise((resolve) => rx.waiters.set(i, resolve));
  sentAt[i] = now();
  rx.ws.send(JSON.stringify({ message: texts[i] }), (e) => {
    if (e) {
      sendErrors += 1;
      error(`send ${i}: ${e.message}`);
      rx.waiters.get(i)?.(NaN);
    }
  });
  return echoed.then((t) => {
    acked[i] = t;
  });
}

/// Opens each sender's kept-alive connection before the run (a `GET /healthz`), as the demo's
/// senders have their sockets open: the first POST of a run should not pay a TCP handshake.
function warmUp() {
  return Promise.all(
    agents.map(
      (agent) =>
        new Promise((resolve, reject) => {
          const req = http.get(`${cfg.base}/healthz`, { agent }, (res) => {
            res.resume();
            res.on("end", resolve);
          });
          req.on("error", reject);
        }),
    ),
  );
}

const send = (s, i) => (cfg.side === "ours" ? post(s, i) : demoSend(s, i));

let timerLagMax = 0;
let sentCount = 0;

async function paced(start, deadline) {
  const pending = [];
  for (let i = 0; i < N; i++) {
    const due = start + (i * 1000) / cfg.rate;
    await sleep(due - now());
    if (now() > deadline) break;
    timerLagMax = Math.max(timerLagMax, now() - due);
    sentCount += 1;
    pending.push(send(i % S, i));
  }
  await Promise.race([Promise.all(pending), sleep(deadline - now())]);
}

async function fast(deadline) {
  let next = 0;
  const loops = Array.from({ length: S }, async (_, s) => {
    while (next < N && now() < deadline) {
      const i = next++;
      sentCount += 1;
      await Promise.race([send(s, i), sleep(deadline - now())]);
    }
  });
  await Promise.all(loops);
}

// ---- the run ----

function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1];
}

const lines = readline.createInterface({ input: process.stdin });
const commands = lines[Symbol.asyncIterator]();
async function expect(word) {
  const { value, done } = await commands.next();
  if (done || value.trim() !== word) throw new Error(`expected "${word}" on stdin, got ${value}`);
}

async function main() {
  const t0 = now();
  await connectAll();
  if (cfg.side === "ours") await warmUp();
  const connectMs = now() - t0;
  out({ event: "ready", connect_ms: connectMs, deflate });
  await expect("go");
  const wire = () => receivers.reduce((sum, rx) => sum + (rx.ws._socket ? rx.ws._socket.bytesRead : 0), 0);
  const wire0 = wire();
  const payload0 = payloadBytes;
  // How late this process's event loop ran (a busy client or a starved core): arrival times
  // are taken on it, so its delay is an error bar on every latency.
  // (It samples with a 10 ms timer and reports whole intervals: the 10 ms are taken off.)
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();

  const start = now();
  const deadline = start + cfg.timeout_s * 1000;
  if (cfg.mode === "paced") await paced(start, deadline);
  else await fast(deadline);
  await Promise.race([allArrivedP, sleep(deadline - now())]);
  await sleep(cfg.grace_ms);
  loopDelay.disable();
  const wireBytes = wire() - wire0;
  const frameBytes = payloadBytes - payload0;
  out({ event: "sent" });
  await expect("close");

  // Every (socket, message) pair: its latency from the send's start.
  const lat = [];
  let dups = 0;
  let ooo = 0;
  let slowest = null;
  for (const rx of receivers) {
    dups += rx.duplicates;
    ooo += rx.outOfOrder;
    for (let i = 0; i < N; i++) {
      const a = rx.arrived[i];
      if (Number.isNaN(a) || Number.isNaN(sentAt[i])) continue;
      const ms = a - sentAt[i];
      lat.push(ms);
      if (!slowest || ms > slowest.ms) slowest = { i, ms, ack_ms: acked[i] - sentAt[i] };
    }
  }
  lat.sort((a, b) => a - b);
  postLatency.sort((a, b) => a - b);
  const elapsed = lastArrival - start;
  const closes = receivers.map(
    (rx) =>
      new Promise((resolve) => {
        if (rx.closed || !rx.ws) return resolve();
        rx.ws.once("close", resolve);
        rx.ws.close(1000);
        setTimeout(() => {
          rx.ws.terminate();
          resolve();
        }, 5000);
      }),
  );
  await Promise.all(closes);
  for (const a of agents) a.destroy();
  out({
    event: "result",
    side: cfg.side,
    mode: cfg.mode,
    receivers: R,
    messages: N,
    sent: sentCount,
    expected: N * R,
    delivered,
    duplicates: dups,
    out_of_order: ooo,
    errors,
    send_errors: sendErrors,
    first_error: firstError,
    connect_ms: connectMs,
    deflate,
    elapsed_ms: elapsed,
    deliveries_per_s: elapsed > 0 ? (delivered * 1000) / elapsed : 0,
    p50_ms: quantile(lat, 0.5),
    p99_ms: quantile(lat, 0.99),
    max_ms: lat.length ? lat[lat.length - 1] : null,
    post_p50_ms: quantile(postLatency, 0.5),
    post_p99_ms: quantile(postLatency, 0.99),
    d1_trips_mean: timed ? d1Trips / timed : null,
    d1_ms_mean: timed ? d1Ms / timed : null,
    timed,
    timer_lag_max_ms: timerLagMax,
    loop_delay_p99_ms: Math.max(0, loopDelay.percentile(99) / 1e6 - 10),
    loop_delay_max_ms: Math.max(0, loopDelay.max / 1e6 - 10),
    // Bytes the receivers read from their TCP sockets during the sends, and the frames' JSON
    // after inflating: their ratio shows permessage-deflate at work.
    wire_bytes_per_delivery: delivered ? wireBytes / delivered : null,
    frame_bytes_per_delivery: delivered ? frameBytes / delivered : null,
    slowest,
  });
  process.exit(0);
}

main().catch((e) => {
  out({ event: "failed", error: String(e && e.stack ? e.stack : e) });
  process.exit(2);
});
