// The runtime's inspector over the Chrome DevTools Protocol, for bench/profile.mjs and
// bench/gc-pauses.mjs. Uses the `ws` package wrangler itself depends on.
import WebSocket from "ws";

/** The first target of the inspector on `port`: `send(method, params)` answers its reply. */
export async function inspector(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((ok, fail) => ws.on("open", ok).on("error", fail));
  let id = 0;
  const pending = new Map();
  ws.on("message", (m) => {
    const msg = JSON.parse(m);
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    }
  });
  const send = (method, params = {}) =>
    new Promise((ok) => {
      id += 1;
      pending.set(id, ok);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => ws.close() };
}
