// CPU profile of the send path (issue 11): where one message's CPU goes in the worker's
// runtime. Usage (a local worker with an inspector port, e.g. `make profile`):
//
//   node bench/profile.mjs <http base> <inspector port> [receivers] [messages] [senders]
//
// It registers users, makes a group, opens a chat socket per receiver, then sends `messages`
// through `POST /chats/{id}/messages/` from `senders` concurrent users, paced at 20/s, while
// the runtime's sampling profiler (Chrome DevTools Protocol over the inspector) runs. It
// prints the functions with the most self time, grouped (wasm: our Rust by module path; JS by
// file), per message. Uses the `ws` package wrangler itself depends on.
import WebSocket from "ws";
import { inspector } from "./cdp.mjs";

const [base, inspectorPort, receiversArg, messagesArg, sendersArg] = process.argv.slice(2);
const receivers = Number(receiversArg ?? 10);
const messages = Number(messagesArg ?? 200);
const senders = Number(sendersArg ?? 4);
const run = Date.now().toString(36);

async function api(method, path, token, body) {
  const r = await fetch(base + path, {
    method,
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (r.status >= 400) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function user(i) {
  const r = await api("POST", "/messages/api/auth/register/", null, {
    username: `prof${run}x${i}`,
    password: "correct-horse-9",
  });
  return { id: r.user.id, token: r.token };
}


const users = [];
for (let i = 0; i < Math.max(receivers, senders); i++) users.push(await user(i));
const chat = await api("POST", "/messages/api/chats/", users[0].token, {
  chat_type: "group",
  title: "Profile",
  member_ids: users.slice(1).map((u) => u.id),
});
const wsBase = base.replace(/^http/, "ws");
let delivered = 0;
const sockets = await Promise.all(
  users.slice(0, receivers).map(
    (u) =>
      new Promise((ok, fail) => {
        // PROFILE_VIA=stream: the receivers hold user streams instead of chat sockets.
        const path = process.env.PROFILE_VIA === "stream" ? "/messages/api/ws/" : `/messages/api/chats/${chat.id}/ws/`;
        const ws = new WebSocket(`${wsBase}${path}`, {
          headers: { authorization: `Bearer ${u.token}` },
        });
        ws.on("message", (m) => {
          if (String(m).includes('"new_message"')) delivered += 1;
        });
        ws.on("open", () => ok(ws)).on("error", fail);
      }),
  ),
);

const cdp = await inspector(inspectorPort);
await cdp.send("Profiler.enable");
await cdp.send("Profiler.setSamplingInterval", { interval: 500 });
await cdp.send("Profiler.start");
const started = Date.now();
let next = 0;
await Promise.all(
  Array.from({ length: senders }, async (_, s) => {
    for (;;) {
      const n = next++;
      if (n >= messages) return;
      const due = started + n * 50; // 20 messages per second
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
      await api("POST", `/messages/api/chats/${chat.id}/messages/`, users[s].token, {
        content: `m${n}`,
        client_id: `c${run}-${n}`,
      });
    }
  }),
);
const deadline = Date.now() + 5000;
while (delivered < messages * receivers && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 20));
}
const { result } = await cdp.send("Profiler.stop");
cdp.close();
sockets.forEach((ws) => ws.close());

// Self time per function, then per group.
const profile = result.profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i]);
  const dt = profile.timeDeltas[i] ?? 0;
  const f = node.callFrame;
  const name = f.functionName || "(anonymous)";
  const where = f.url ? f.url.split("/").slice(-1)[0] : "";
  const key = `${name} ${where}`.trim();
  self.set(key, (self.get(key) ?? 0) + dt);
}
const totalUs = [...self.values()].reduce((a, b) => a + b, 0);
const idleUs = [...self.entries()]
  .filter(([k]) => k.startsWith("(idle)") || k.startsWith("(program)"))
  .reduce((a, [, v]) => a + v, 0);
const busyMs = (totalUs - idleUs) / 1000;
const group = (k) => {
  if (k.startsWith("(")) return k.split(" ")[0];
  const rust = k.match(/^(?:<)?(edge_messaging|worker|serde_json|serde_wasm_bindgen|wasm_bindgen|js_sys|alloc|core|std|hashbrown|emojis|chrono|url)(::[a-z_0-9]+)?/);
  if (rust) return `wasm ${rust[1]}${rust[2] ?? ""}`;
  if (/\.wasm/.test(k) || /^wasm-function/.test(k)) return "wasm (unnamed)";
  const file = k.split(" ").slice(1).join(" ");
  return `js ${file || "(runtime)"}`;
};
const groups = new Map();
for (const [k, v] of self) groups.set(group(k), (groups.get(group(k)) ?? 0) + v);
const top = (m, n) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
console.log(
  `profile: ${messages} messages to ${receivers} sockets (${delivered} deliveries) in ${((Date.now() - started) / 1000).toFixed(1)} s; busy ${busyMs.toFixed(0)} ms = ${(busyMs / messages).toFixed(2)} ms per message`,
);
console.log("\n| group | ms per message | share of busy |\n|---|---:|---:|");
for (const [g, v] of top(groups, 20)) {
  if (g === "(idle)" || g === "(program)") continue;
  console.log(`| ${g} | ${(v / 1000 / messages).toFixed(3)} | ${((v / 1000 / busyMs) * 100).toFixed(1)} % |`);
}
// Callers: the chain of parents of each sampled node, to say what a hot frame is part of.
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (id) => {
  const f = byId.get(id).callFrame;
  return `${f.functionName || "(anonymous)"}${f.url ? " " + f.url.split("/").slice(-1)[0] : ""}:${f.lineNumber}`;
};
const callers = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  const f = byId.get(id).callFrame;
  const key = `${f.functionName || "(anonymous)"} ${f.url ? f.url.split("/").slice(-1)[0] : ""}`.trim();
  const chain = [];
  for (let p = parent.get(id); p !== undefined && chain.length < 4; p = parent.get(p)) chain.push(label(p));
  const m = callers.get(key) ?? new Map();
  const c = chain.join(" < ");
  m.set(c, (m.get(c) ?? 0) + (profile.timeDeltas[i] ?? 0));
  callers.set(key, m);
}
console.log("\n| function | ms per message | most of it under |\n|---|---:|---|");
for (const [k, v] of top(self, 40)) {
  if (k.startsWith("(idle)") || k.startsWith("(program)")) continue;
  const [chain] = top(callers.get(k) ?? new Map(), 1)[0] ?? [""];
  const cell = (t) => t.slice(0, 110).replace(/\|/g, "\\|");
  console.log(`| ${cell(k)} | ${(v / 1000 / messages).toFixed(3)} | ${cell(chain)} |`);
}
