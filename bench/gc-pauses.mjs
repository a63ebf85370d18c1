// The runtime's garbage-collection pauses during `make bench`'s fan-out runs (issue 12: what
// sets a run's p99). Usage (`make gc-pauses` runs both):
//
//   node bench/gc-pauses.mjs <bench log>
//
// It waits for the bench to print its runtime's inspector port, attaches over the Chrome
// DevTools Protocol when the fan-out phase starts, samples the isolate every 0.2 ms until the
// room phase starts, and prints per fan-out run the time spent collecting garbage and each
// collection over 5 ms, then the longest busy stretches and what ran in them. The sampler adds
// its own cost to every run alike: compare runs with each other, not with an unobserved bench.
import { inspector } from "./cdp.mjs";
import { readFileSync } from "node:fs";

const [logFile] = process.argv.slice(2);
if (!logFile) throw new Error("usage: node bench/gc-pauses.mjs <bench log>");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const lines = () => {
  try {
    return readFileSync(logFile, "utf8").split("\n");
  } catch {
    return [];
  }
};

// The port, then the fan-out's first run.
let port = null;
for (let waited = 0; ; waited += 100) {
  if (waited > 30 * 60 * 1000) throw new Error(`no fan-out phase in ${logFile} within 30 min`);
  const all = lines();
  port ??= all.map((l) => l.match(/^bench: the runtime's inspector is on port (\d+)/)).find(Boolean)?.[1];
  if (port && all.some((l) => l.startsWith("bench: fan-out"))) break;
  if (all.some((l) => l.startsWith("error") || l.includes("panicked"))) throw new Error(`the bench failed; see ${logFile}`);
  await sleep(100);
}

const cdp = await inspector(port);
const send = cdp.send;
await send("Profiler.enable");
await send("Profiler.setSamplingInterval", { interval: 200 });
await send("Profiler.start");
const started = Date.now();
// Each run's start, in ms since the sampler started (the bench log's lines as they appear).
const marks = [];
/** Per mark (its index), when its first send went, as the bench log said. */
const sends = new Map();
let seen = lines().findIndex((l) => l.startsWith("bench: fan-out"));
for (;;) {
  await sleep(20);
  const all = lines();
  for (; seen < all.length - 1; seen++) {
    const l = all[seen];
    if (l.startsWith("bench: fan-out to ")) marks.push([Date.now() - started, l.slice(18).replace(/, \d+ messages.*/, "")]);
    if (l === "bench: sending" && marks.length) sends.set(marks.length - 1, Date.now() - started);
    if (l.startsWith("bench: room") || l.startsWith("### ")) marks.push([Date.now() - started, null]);
  }
  if (marks.some(([, l]) => l === null) || Date.now() - started > 20 * 60 * 1000) break;
}
const { result } = await send("Profiler.stop");
cdp.close();

const profile = result.profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
let t = 0;
const samples = profile.samples.map((s, i) => {
  t += profile.timeDeltas[i] ?? 0;
  return [t / 1000, byId.get(s).callFrame.functionName || "(anonymous)"];
});
/** The index of the mark of the run under way at `ms`. */
const markOf = (ms) => marks.reduce((found, [at], k) => (at <= ms ? k : found), -1);
/** The run under way at `ms`, named with its number among runs of its kind ("100 user streams #2"). */
const runOf = (ms) => {
  const k = markOf(ms);
  const label = k < 0 ? null : marks[k][1];
  return label === null ? null : `${label} #${marks.slice(0, k + 1).filter(([, l]) => l === label).length}`;
};
/** Stretches of consecutive samples that `pick` accepts (gaps under 1 ms joined). */
const stretches = (pick) => {
  const out = [];
  let cur = null;
  for (const [ms, name] of samples) {
    if (!pick(name)) continue;
    if (cur && ms - cur.end < 1) {
      cur.end = ms;
      cur.names.set(name, (cur.names.get(name) ?? 0) + 1);
    } else {
      if (cur) out.push(cur);
      cur = { start: ms, end: ms, names: new Map([[name, 1]]) };
    }
  }
  if (cur) out.push(cur);
  return out;
};

const perRun = new Map(marks.filter(([, l]) => l !== null).map(([at]) => [runOf(at), { ms: 0, long: [] }]));
for (const gc of stretches((n) => n === "(garbage collector)")) {
  const run = perRun.get(runOf(gc.start));
  if (!run) continue;
  const length = gc.end - gc.start + 0.2;
  run.ms += length;
  if (length > 5) run.long.push(length.toFixed(0));
}
console.log("Garbage collection per fan-out run (the runtime's sampling profiler, 0.2 ms):");
console.log("| run | GC ms | collections over 5 ms (ms) |\n|---|---:|---|");
for (const [run, { ms, long }] of perRun) console.log(`| ${run} | ${ms.toFixed(0)} | ${long.join(", ") || "none"} |`);
const busy = stretches((n) => n !== "(idle)" && n !== "(program)").sort((a, b) => b.end - b.start - (a.end - a.start));
console.log("\nThe longest busy stretches (what the samples in them were):");
for (const b of busy.slice(0, 10)) {
  const top = [...b.names].sort((x, y) => y[1] - x[1]).slice(0, 3).map(([k, v]) => `${k.slice(0, 60)} ×${v}`).join(", ");
  console.log(`- ${(b.end - b.start).toFixed(1)} ms in ${runOf(b.start) ?? "between runs"}: ${top}`);
}
// To hold beside BENCH_LATENCY_CSV's "sent ms": each stretch over 20 ms, timed from its run's
// first send (±20 ms: this script polls the bench log).
console.log("\nBusy stretches over 20 ms, per run, from its first send (ms: start +length what):");
const long = stretches((n) => n !== "(idle)" && n !== "(program)").filter((b) => b.end - b.start > 20);
for (const [k, [, label]] of marks.entries()) {
  if (label === null || !sends.has(k)) continue;
  const here = long.filter((b) => markOf(b.start) === k);
  const what = (b) => (b.names.get("(garbage collector)") ?? 0) * 2 > (b.end - b.start) / 0.2 ? "GC" : "other";
  const list = here.map((b) => `${(b.start - sends.get(k)).toFixed(0)} +${(b.end - b.start).toFixed(0)} ${what(b)}`);
  console.log(`- ${runOf(marks[k][0])}: ${list.join("; ") || "none"}`);
}
