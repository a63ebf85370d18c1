// `make bench-web` (part of `make bench`): how fast the messages page paints on a local worker,
// in Debian's chromium. Not a test: it prints a table.
//
//   - page load (navigation start) → chat list painted, and → first message list painted
//     (`/messages/?chat=<id>`), each over LOADS fresh loads, signed in, 20 chats seeded;
//   - Enter pressed in one browser → the message painted in another (two contexts, the
//     chat-socket transport of today), over SENDS messages one at a time.
//
// Times are taken inside the pages (`performance.timeOrigin + performance.now()`, one clock
// for both contexts of the one browser), at the animation frame that shows the element.
// Targets (issue 14): painted ≤ 1 s; Enter → paint p95 ≤ 300 ms.

import { chromium, type Page } from 'playwright';
import { LocalWorker } from '../e2e/server.ts';

const LOADS = Number(process.env.BENCH_LOADS ?? 10);
const SENDS = Number(process.env.BENCH_SENDS ?? 40);
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const server = new LocalWorker('bench-web');
await server.start();
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

try {
  const ctx = async (name: string) => {
    const context = await browser.newContext({ baseURL: server.base, viewport: { width: 1200, height: 800 } });
    const username = `${name}${Date.now().toString(36)}`;
    const r = await context.request.post('/messages/api/auth/register/', { data: { username, password: 'correct-horse-9', first_name: name } });
    const id = (await r.json()).user.id as number;
    return { context, id };
  };
  const ann = await ctx('ann');
  const bob = await ctx('bob');
  let chatId = 0;
  for (let i = 0; i < 20; i++) {
    const r = await ann.context.request.post('/messages/api/chats/', { data: { chat_type: 'group', title: `Chat ${i}`, member_ids: [bob.id] } });
    chatId = (await r.json()).id;
    await ann.context.request.post(`/messages/api/chats/${chatId}/messages/`, { data: { content: `hello ${i}` } });
  }
  for (let i = 0; i < 50; i++) await bob.context.request.post(`/messages/api/chats/${chatId}/messages/`, { data: { content: `history ${i}` } });

  /** ms from navigation start to the frame that shows `selector`. */
  const paintTime = async (page: Page, url: string, selector: string): Promise<number> => {
    await page.goto(url, { waitUntil: 'commit' });
    const h = await page.waitForFunction((sel) => (document.querySelector(sel) ? performance.now() : null), selector, { polling: 'raf', timeout: 30_000 });
    return (await h.jsonValue()) as number;
  };

  const page = await ann.context.newPage();
  await paintTime(page, '/messages/', '.chat-item'); // warm the caches once, as a returning visitor
  const list: number[] = [];
  const messages: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    list.push(await paintTime(page, '/messages/', '.chat-item'));
    messages.push(await paintTime(page, `/messages/?chat=${chatId}`, '#message-list [data-message-id]'));
  }

  // Enter in Ann's page → painted in Bob's.
  const a = await ann.context.newPage();
  const b = await bob.context.newPage();
  for (const p of [a, b]) {
    await p.goto(`/messages/?chat=${chatId}`);
    await p.waitForSelector('#message-list [data-message-id]');
  }
  await b.evaluate(() => {
    const seen: Record<string, number> = {};
    (window as unknown as { __seen: Record<string, number> }).__seen = seen;
    new MutationObserver((records) => {
      for (const r of records)
        for (const n of r.addedNodes) {
          const text = (n as Element).querySelector?.('[data-message-id] .message-content')?.textContent;
          if (text?.startsWith('bench ') && !(text in seen)) requestAnimationFrame(() => (seen[text] = performance.timeOrigin + performance.now()));
        }
    }).observe(document.getElementById('message-list')!, { childList: true, subtree: true });
  });
  await a.evaluate(() => {
    const sent: Record<string, number> = {};
    (window as unknown as { __sent: Record<string, number> }).__sent = sent;
    const input = document.getElementById('message-input') as HTMLTextAreaElement;
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') sent[input.value] = performance.timeOrigin + performance.now();
    }, true);
  });
  const latency: number[] = [];
  for (let i = 0; i < SENDS; i++) {
    const text = `bench ${i}`;
    await a.locator('#message-input').fill(text);
    await a.locator('#message-input').press('Enter');
    await b.waitForFunction((t) => (window as unknown as { __seen: Record<string, number> }).__seen[t] !== undefined, text);
    const t0 = await a.evaluate((t) => (window as unknown as { __sent: Record<string, number> }).__sent[t]!, text);
    const t1 = await b.evaluate((t) => (window as unknown as { __seen: Record<string, number> }).__seen[t]!, text);
    latency.push(t1 - t0);
  }

  const row = (what: string, xs: number[], target: string) =>
    console.log(`| ${what.padEnd(46)} | ${pct(xs, 50).toFixed(0).padStart(6)} ms | ${pct(xs, 95).toFixed(0).padStart(6)} ms | ${Math.max(...xs).toFixed(0).padStart(6)} ms | ${target.padEnd(12)} |`);
  console.log(`\nweb UI on a local worker (${LOADS} loads, ${SENDS} sends; chromium ${browser.version()})\n`);
  console.log(`| ${'measure'.padEnd(46)} | ${'p50'.padStart(9)} | ${'p95'.padStart(9)} | ${'max'.padStart(9)} | ${'target'.padEnd(12)} |`);
  console.log(`|${'-'.repeat(48)}|${'-'.repeat(11)}|${'-'.repeat(11)}|${'-'.repeat(11)}|${'-'.repeat(14)}|`);
  row('page load → chat list painted', list, '≤ 1000 ms');
  row('page load → first message list painted', messages, '≤ 1000 ms');
  row('Enter in one browser → painted in the other', latency, 'p95 ≤ 300 ms');
} finally {
  await browser.close();
  await server.stop();
}
