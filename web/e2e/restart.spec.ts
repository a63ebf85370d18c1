// The worker restarts mid-conversation (same port, same state), on both transports: the pages recover by
// themselves — reconnect, resume from the last seq, retry the send that failed — and show
// every message exactly once.

import { expect, expectNoSockets, messageByText, openChat, person, send, sendApi, test } from './fixtures.ts';
import { LocalWorker } from './server.ts';

for (const transport of ['websocket', 'polling'] as const) {
  test(`a worker restart mid-conversation: both pages recover on their own and show every message once (${transport})`, async ({ browser }) => {
    test.setTimeout(180_000);
    const vars: Record<string, string> = transport === 'polling' ? { TRANSPORT: 'polling', POLL_INTERVAL_MS: '1000' } : {};
    const server = new LocalWorker(`restart-${transport}`, { vars });
    await server.start();
    try {
      const ann = await person(browser, server, 'Ann');
      const bob = await person(browser, server, 'Bob');
      const r = await ann.context.request.post('/messages/api/chats/', {
        data: { chat_type: 'group', title: 'Restart', member_ids: [bob.id] },
      });
      const chatId = (await r.json()).id as number;
      await ann.page.reload();
      await openChat(ann, chatId);
      await expect(bob.page.locator(`.chat-item[data-chat-id="${chatId}"]`)).toBeVisible();
      await openChat(bob, chatId);

      await send(ann, 'before 1');
      await send(bob, 'before 2');
      await expect(messageByText(ann, 'before 2')).toBeVisible();
      await expect(messageByText(bob, 'before 1')).toBeVisible();

      await server.stop();
      await expect(ann.page.locator('.connection-banner')).toContainText('Reconnecting');
      // Sent while the server is down: shown at once, delivered when it is back.
      await send(ann, 'during the outage');
      await send(ann, 'and right after it');
      await expect(ann.page.locator('.message-row.pending', { hasText: 'during the outage' })).toBeVisible();
      await expect(ann.page.locator('.message-row.pending', { hasText: 'and right after it' })).toBeVisible();

      await server.start();
      // Someone else writes as soon as it is up (the pages must resume, not just reconnect).
      const other = await person(browser, server, 'Cy', { noOpen: true });
      await ann.context.request.post(`/messages/api/chats/${chatId}/members/add/`, { data: { user_ids: [other.id] } });
      await sendApi(other, chatId, 'after restart');

      const all = ['before 1', 'before 2', 'during the outage', 'and right after it', 'after restart'];
      for (const p of [ann, bob]) {
        await expect(p.page.locator('.connection-banner')).toHaveCount(0, { timeout: 30_000 });
        for (const text of all) await expect(messageByText(p, text), `${p.name} sees “${text}”`).toHaveCount(1, { timeout: 30_000 });
        await expect(p.page.locator('.message-row.pending')).toHaveCount(0);
      }
      // Cy's send and the retried ones may be stored in either order (the retried ones keep
      // theirs): the pages show the server's.
      const stored = await (await ann.context.request.get(`/messages/api/chats/${chatId}/messages/`)).json();
      const order = (stored.results as Array<{ content: string }>).map((m) => m.content).reverse();
      expect([...order].sort(), 'stored exactly once each').toEqual([...all].sort());
      expect(order.indexOf('during the outage'), 'sends queued over the outage are stored in the order written').toBeLessThan(
        order.indexOf('and right after it'),
      );
      for (const p of [ann, bob]) {
        const shown = await p.page.locator('#message-list [data-message-id] .message-content').allTextContents();
        expect(shown, `${p.name}: every message once, in the server's order`).toEqual(order);
      }
      expectNoSockets(transport, ann, bob);
    } finally {
      await server.stop();
    }
  });
}
