// The page as a person handles it: keyboard, a phone-sized screen, hostile text, long
// histories.

import { chatItem, expect, group, messageByText, openChat, person, send, sendApi, test } from './fixtures.ts';

test('keyboard: Enter sends, Shift+Enter breaks the line, Esc closes dialogs and ends an edit; the log is announced', async ({ browser, server }) => {
  const ann = await person(browser, server, 'Ann');
  const bob = await person(browser, server, 'Bob', { noOpen: true });
  const chatId = await group(ann, 'Keys', [bob]);
  await ann.page.reload();
  await openChat(ann, chatId);
  const a = ann.page;
  const log = a.locator('#message-list');
  await expect(log).toHaveAttribute('role', 'log');
  await expect(log).toHaveAttribute('aria-live', 'polite');

  const input = a.locator('#message-input');
  await expect(input).toBeFocused();
  await input.pressSequentially('line one');
  await input.press('Shift+Enter');
  await input.pressSequentially('line two');
  await input.press('Enter');
  await expect(messageByText(ann, 'line one\nline two')).toBeVisible();
  await expect(input).toHaveValue('');

  // ↑ in the empty composer edits the last own message; Esc gives up.
  await input.press('ArrowUp');
  await expect(input).toHaveValue('line one\nline two');
  await expect(a.locator('.edit-save-btn')).toBeVisible();
  await input.press('Escape');
  await expect(a.locator('.edit-save-btn')).toHaveCount(0);
  await expect(input).toHaveValue('');

  // Esc closes the members dialog and the confirmation, and focus comes back.
  await a.locator('#members-btn').click();
  await expect(a.getByRole('dialog')).toBeVisible();
  // …also after a search (its button is disabled while it runs, which drops the focus).
  await a.locator('#user-search-input').fill(bob.username);
  await a.locator('#search-btn').click();
  await expect(a.locator('.user-result', { hasText: bob.username })).toBeVisible();
  await a.keyboard.press('Escape');
  await expect(a.getByRole('dialog')).toHaveCount(0);
  await expect(a.locator('#members-btn')).toBeFocused();
  await a.locator('#leave-chat-btn').click();
  await expect(a.locator('#confirmation-cancel-btn')).toBeFocused();
  await a.keyboard.press('Escape');
  await expect(a.getByRole('dialog')).toHaveCount(0);
  await expect(chatItem(ann, chatId)).toBeVisible();

  // Icon buttons have names a screen reader can say.
  await expect(a.getByRole('button', { name: 'Send' })).toBeVisible();
  await expect(a.getByRole('button', { name: 'Chat options' })).toBeVisible();
});

test('375 px: chats and messages are two tabs, and the conversation stays live', async ({ browser, server }) => {
  const phone = { width: 375, height: 740 };
  const ann = await person(browser, server, 'Ann', { viewport: phone });
  const bob = await person(browser, server, 'Bob', { viewport: phone });
  const chatId = await group(ann, 'Pocket', [bob]);
  for (const p of [ann, bob]) await expect(chatItem(p, chatId)).toBeVisible();

  const a = ann.page;
  const pageWidth = () => a.evaluate(() => document.documentElement.scrollWidth);
  await expect(a.locator('#chats-tab')).toBeVisible();
  await expect(a.locator('.chat-pane')).toBeHidden();
  await sendApi(bob, chatId, 'a long last message that must be cut short in the list rather than widen the page');
  await expect(chatItem(ann, chatId).locator('.last-message')).toContainText('a long last message');
  expect(await pageWidth(), 'the chat list fits the screen').toBeLessThanOrEqual(375);
  await expect(a.locator('#messages-tab')).toBeInViewport({ ratio: 1 });
  await openChat(ann, chatId);
  await expect(a.locator('.sidebar')).toBeHidden();
  await expect(a.locator('#messages-tab')).toHaveAttribute('aria-selected', 'true');
  await openChat(bob, chatId);

  await send(bob, 'hello from a phone');
  await expect(messageByText(ann, 'hello from a phone')).toBeVisible();
  await send(ann, 'hello back');
  await expect(messageByText(bob, 'hello back')).toBeVisible();
  // Nothing is wider than the screen.
  expect(await pageWidth(), 'the conversation fits the screen').toBeLessThanOrEqual(375);

  await a.getByRole('button', { name: 'Back to chats' }).click();
  await expect(a.locator('.sidebar')).toBeVisible();
  await expect(a.locator('.chat-pane')).toBeHidden();
  await a.locator('#messages-tab').click();
  await expect(a.locator('#message-list')).toBeVisible();

  // A link to the chat (the address keeps ?chat=) opens it, on the messages tab.
  expect(new URL(a.url()).search).toBe(`?chat=${chatId}`);
  await a.reload();
  await expect(messageByText(ann, 'hello back')).toBeVisible();
  await expect(a.locator('#messages-tab')).toHaveAttribute('aria-selected', 'true');
  await expect(a).toHaveURL(new RegExp(`\\?chat=${chatId}$`));
});

test('names, titles and messages are text: markup and javascript: links stay inert', async ({ browser, server }) => {
  const payload = '<img src=x onerror=alert(1)>';
  const mallory = await person(browser, server, 'Mallory', { first: payload, last: '<script>alert(2)</script>' });
  const bob = await person(browser, server, 'Bob');
  const chatId = await group(mallory, '<img src=x onerror=alert(3)>', [bob]);
  const texts = [
    payload,
    'javascript:alert(4)',
    '<a href="javascript:alert(5)">click me</a>',
    '[click](javascript:alert(6))',
    'https://example.com/ok and javascript://%0aalert(7)',
  ];
  for (const t of texts) await sendApi(mallory, chatId, t);
  await expect(chatItem(bob, chatId).locator('.chat-title')).toHaveText('<img src=x onerror=alert(3)>');
  await openChat(bob, chatId);
  const b = bob.page;
  for (const t of texts) await expect(messageByText(bob, t)).toHaveCount(1);
  await expect(b.locator('#current-chat-name')).toHaveText('<img src=x onerror=alert(3)>');
  await expect(messageByText(bob, payload).locator('.sender-name')).toHaveText(`${payload} <script>alert(2)</script>`);

  // No element came out of the text; the only link is the http(s) one.
  await expect(b.locator('#message-list img[src="x"], .sidebar img[src="x"], header img[src="x"]')).toHaveCount(0);
  await expect(b.locator('#message-list script')).toHaveCount(0);
  const hrefs = await b.locator('#message-list a').evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href));
  expect(hrefs).toEqual(['https://example.com/ok']);
  // Clicking the would-be links runs nothing (the dialog handler of `person` would throw).
  await messageByText(bob, 'javascript:alert(4)').locator('.message-content').click();
  await messageByText(bob, '[click](javascript:alert(6))').locator('.message-content').click();
  await expect(b.locator('#message-list')).toBeVisible();
});

test('a long history: newest at the bottom, older pages on scrolling up, without a jump', async ({ browser, server }) => {
  const ann = await person(browser, server, 'Ann');
  const bob = await person(browser, server, 'Bob', { noOpen: true });
  const chatId = await group(bob, 'History', [ann]);
  // 120 messages, in batches (the API answers each send in a few ms).
  for (let i = 1; i <= 120; i += 10) {
    await Promise.all(Array.from({ length: 10 }, (_, k) => sendApi(bob, chatId, `history ${i + k}`)));
  }
  await ann.page.reload();
  await openChat(ann, chatId);
  const list = ann.page.locator('#message-list');
  const items = list.locator('[data-message-id]');
  await expect(items.last()).toBeInViewport();
  const firstPage = await items.count();
  expect(firstPage).toBe(50);

  const oldestShown = items.first();
  const oldestId = await oldestShown.getAttribute('data-message-id');
  await list.evaluate((el) => (el.scrollTop = 0));
  await expect(items).toHaveCount(100);
  // The message that was at the top is still in view: the older page went above it.
  await expect(list.locator(`[data-message-id="${oldestId}"]`)).toBeInViewport();
  await list.evaluate((el) => (el.scrollTop = 0));
  await expect(items).toHaveCount(120);
  await expect(list.locator('.chat-start')).toBeVisible();

  // A new message while scrolled up does not pull the view down; a pill offers to.
  await sendApi(bob, chatId, 'newest one');
  await expect(ann.page.locator('.new-below')).toHaveText(/1 new message/);
  await expect(messageByText(ann, 'newest one')).not.toBeInViewport();
  await ann.page.locator('.new-below').click();
  await expect(messageByText(ann, 'newest one')).toBeInViewport();
});

test('the chat list pages as it scrolls; avatars come from avatar_url; dark mode follows the system', async ({ browser, server }) => {
  const ann = await person(browser, server, 'Ann', { colorScheme: 'dark' });
  const bob = await person(browser, server, 'Bob', { noOpen: true });
  // CHATS_PER_PAGE is 10: twelve chats make two pages.
  for (let i = 1; i <= 12; i++) await group(bob, `Chat ${String(i).padStart(2, '0')}`, [ann]);
  await ann.page.reload();
  const items = ann.page.locator('#chat-list .chat-item');
  await expect(items.first().locator('.chat-title')).toHaveText('Chat 12');
  // The next page loads when the end of the list scrolls into view.
  await ann.page.locator('.chat-list-wrap').evaluate((el) => (el.scrollTop = el.scrollHeight));
  await expect(items).toHaveCount(12);
  await expect(items.last().locator('.chat-title')).toHaveText('Chat 01');
  await expect(ann.page.locator('.load-more-chats')).toHaveCount(0);

  // The signed-in user's avatar is the API's avatar_url.
  const me = await (await ann.context.request.get('/messages/api/auth/me/')).json();
  await expect(ann.page.locator('.sidebar-header img.avatar')).toHaveAttribute('src', me.avatar_url);
  // Dark: the page's background is dark.
  const bg = await ann.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = bg.match(/\d+/g)!.map(Number);
  expect(r! + g! + b!, `a dark background (${bg})`).toBeLessThan(150);
});
