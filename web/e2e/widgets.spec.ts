// The widgets (SPEC §11) on the demo pages, as a site uses them: two or three people, each in
// a browser context of their own, on both transports. The DM widget on a person's page talks
// to someone idle on /messages/; the room widget's count moves live for members and visitors.

import type { Locator, Page } from '@playwright/test';
import {
  anonymous,
  escapeRe,
  expect,
  expectNoSockets,
  messageByText,
  openChat,
  person,
  send,
  signInWithForm,
  TRANSPORTS,
  unique,
  type Person,
} from './fixtures.ts';

/** A stored message of a widget's list whose content is exactly `text`. */
function inList(page: Page, list: string, text: string): Locator {
  return page.locator(`${list} [data-message-id]`).filter({
    has: page.locator('.message-content', { hasText: new RegExp(`^${escapeRe(text)}$`) }),
  });
}

const dmMessage = (p: Person, text: string) => inList(p.page, '#widget-message-list', text);
const roomMessage = (p: Person, text: string) => inList(p.page, '.room-message-list', text);

/** Picks the first emoji of the picker that `button` opens; returns it. */
async function react(p: Person, button: Locator): Promise<string> {
  await button.click();
  const first = p.page.locator('emoji-picker button[id^="emo-"]').first();
  await expect(first).toBeVisible();
  const emoji = (await first.textContent())!.trim();
  await first.click();
  await expect(p.page.locator('emoji-picker')).toHaveCount(0);
  return emoji;
}

/** Edits an own message from its context menu, in the composer `input`. */
async function edit(p: Person, message: Locator, input: string, text: string): Promise<void> {
  await message.hover();
  await message.locator('.context-menu-btn').click();
  await p.page.locator('.context-menu .edit-btn').click();
  await p.page.locator(input).fill(text);
  await p.page.locator('.edit-save-btn').click();
}

async function remove(p: Person, message: Locator): Promise<void> {
  await message.hover();
  await message.locator('.context-menu-btn').click();
  await p.page.locator('.context-menu .delete-btn').click();
}

for (const [transport, t] of TRANSPORTS) {
  t.describe(`widgets over ${transport}`, () => {
    t('DM: a message from a profile reaches the messages page live, and everything comes back to the widget', async ({ browser, server }) => {
      t.setTimeout(120_000);
      const ann = await person(browser, server, 'Ann', { noOpen: true });
      const bob = await person(browser, server, 'Bob');
      const a = ann.page;

      // Ann on Bob's page: the floating button, then the window bottom-right.
      await a.goto(`/messages/demo/people/${bob.id}/`);
      const toggle = a.locator('#chat-toggle-btn');
      await expect(toggle).toContainText(`Message ${bob.name}`);
      await toggle.click();
      const win = a.locator('#fixed-chat-widget');
      await expect(win).toBeVisible();
      await expect(win.locator('.em-title')).toHaveText(bob.name);
      await expect(a.locator('#widget-message-list')).toContainText('No messages yet');
      await expect(a.locator('#widget-message-input')).toBeFocused();
      const box = (await win.boundingBox())!;
      const viewport = a.viewportSize()!;
      expect(box.x + box.width, 'at the right edge').toBeGreaterThan(viewport.width - 40);
      expect(box.y + box.height, 'at the bottom').toBeGreaterThan(viewport.height - 40);
      expect(box.height / viewport.height, 'about 75 % of the viewport high').toBeGreaterThan(0.6);
      expect(box.height / viewport.height).toBeLessThanOrEqual(0.76);

      // The first send creates the DM; Bob, idle on /messages/, gets it without a reload.
      await a.locator('#widget-message-input').fill('Hi Bob, from your profile');
      await a.locator('#widget-send-btn').click();
      await expect(dmMessage(ann, 'Hi Bob, from your profile').locator('.message-bubble')).toHaveClass(/message-bubble-own/);
      await expect(a.locator('#widget-message-input')).toHaveValue('');
      const dm = bob.page.locator('#chat-list .chat-item').filter({ hasText: ann.name });
      await expect(dm.locator('.unread-indicator')).toHaveText('1');
      await expect(dm.locator('.last-message')).toContainText('Hi Bob, from your profile');
      const chatId = Number(await dm.getAttribute('data-chat-id'));
      await openChat(bob, chatId);
      await expect(messageByText(bob, 'Hi Bob, from your profile')).toBeVisible();
      // Bob read it: the widget's tick says so.
      await expect(dmMessage(ann, 'Hi Bob, from your profile').locator('.read-status')).toHaveAttribute('data-status', 'read');

      // The reply reaches the widget (Enter sends there too).
      await send(bob, 'Hi Ann! Good to hear from you');
      const reply = dmMessage(ann, 'Hi Ann! Good to hear from you');
      await expect(reply.locator('.message-bubble')).toHaveClass(/message-bubble-other/);
      await a.locator('#widget-message-input').fill('Shall we meet on Thursday?');
      await a.locator('#widget-message-input').press('Enter');
      await expect(messageByText(bob, 'Shall we meet on Thursday?')).toBeVisible();

      // Reactions both ways: Bob reacts on the page, Ann joins in and leaves from the widget.
      const emoji = await react(bob, messageByText(bob, 'Hi Bob, from your profile').locator('.emoji-btn'));
      const pillForAnn = dmMessage(ann, 'Hi Bob, from your profile').locator('.reaction', { hasText: emoji });
      await expect(pillForAnn.locator('.reaction-count')).toHaveText('1');
      await pillForAnn.click();
      const pillForBob = messageByText(bob, 'Hi Bob, from your profile').locator('.reaction', { hasText: emoji });
      await expect(pillForBob.locator('.reaction-count')).toHaveText('2');
      await pillForAnn.click();
      await expect(pillForBob.locator('.reaction-count')).toHaveText('1');
      await reply.hover();
      const emoji2 = await react(ann, reply.locator('.emoji-btn'));
      await expect(messageByText(bob, 'Hi Ann! Good to hear from you').locator('.reaction', { hasText: emoji2 }).locator('.reaction-count')).toHaveText('1');

      // Edits both ways.
      await edit(ann, dmMessage(ann, 'Shall we meet on Thursday?'), '#widget-message-input', 'Shall we meet on Friday?');
      await expect(messageByText(bob, 'Shall we meet on Friday?')).toBeVisible();
      await expect(messageByText(bob, 'Shall we meet on Thursday?')).toHaveCount(0);
      await edit(bob, messageByText(bob, 'Hi Ann! Good to hear from you'), '#message-input', 'Hi Ann! Friday works');
      await expect(dmMessage(ann, 'Hi Ann! Friday works')).toBeVisible();
      await dmMessage(ann, 'Hi Ann! Friday works').locator('.message-bubble').click();
      await expect(dmMessage(ann, 'Hi Ann! Friday works').locator('.message-timestamp')).toContainText('Edited');

      // Deletions both ways (indicators are off by default: the messages disappear).
      await remove(bob, messageByText(bob, 'Hi Ann! Friday works'));
      await expect(dmMessage(ann, 'Hi Ann! Friday works')).toHaveCount(0);
      await remove(ann, dmMessage(ann, 'Shall we meet on Friday?'));
      await expect(messageByText(bob, 'Shall we meet on Friday?')).toHaveCount(0);

      // Closing ends the widget's live connection.
      const before = ann.sockets.length;
      await a.locator('#widget-close-btn').click();
      await expect(win).toHaveCount(0);
      await expect(toggle).toBeFocused();
      if (transport === 'websocket') {
        expect(before, 'the widget had a socket open').toBeGreaterThan(0);
        for (const ws of ann.sockets) await expect.poll(() => ws.isClosed(), { message: ws.url() }).toBe(true);
      } else {
        const polls: string[] = [];
        a.on('request', (r) => r.url().includes('/messages/api/events/') && polls.push(r.url()));
        await a.waitForTimeout(2500);
        expect(polls, 'no polling after closing').toEqual([]);
      }
      // Reopening shows the conversation, with nothing twice.
      await toggle.click();
      await expect(dmMessage(ann, 'Hi Bob, from your profile')).toHaveCount(1);
      await expect(a.locator('#widget-message-list [data-message-id]')).toHaveCount(1);
      expectNoSockets(transport, ann, bob);
    });

    t('DM: not shown on your own page; a visitor signs in and comes back to it', async ({ browser, server }) => {
      const ann = await person(browser, server, 'Ann', { noOpen: true });
      const bob = await person(browser, server, 'Bob', { noOpen: true });

      await ann.page.goto(`/messages/demo/people/${ann.id}/`);
      await expect(ann.page.locator('.em-dm')).toHaveAttribute('data-state', 'hidden');
      await expect(ann.page.locator('#chat-toggle-btn')).toHaveCount(0);

      const visitor = await anonymous(browser, server);
      const here = `/messages/demo/people/${bob.id}/`;
      await visitor.page.goto(here);
      const link = visitor.page.getByRole('link', { name: 'Sign in to chat' });
      await expect(link).toBeVisible();
      await expect(visitor.page.locator('#chat-toggle-btn')).toHaveCount(0);
      await expect(link).toHaveAttribute('href', `/login/?next=${encodeURIComponent(here)}`);
      await link.click();
      await expect(visitor.page).toHaveURL(/\/login\/\?next=/);
      await signInWithForm(visitor.page, ann.username);
      await expect(visitor.page).toHaveURL(new RegExp(`${escapeRe(here)}$`));
      await expect(visitor.page.locator('#chat-toggle-btn')).toContainText(`Message ${bob.name}`);
      expectNoSockets(transport, visitor);
    });

    t('Room: counts go 1 → 2 → 3 as people join, live for visitors too; messages, reactions, edits and deletions both ways; leaving', async ({ browser, server }) => {
      t.setTimeout(150_000);
      const key = unique('room');
      const [ann, bob, cy] = [
        await person(browser, server, 'Ann', { noOpen: true }),
        await person(browser, server, 'Bob', { noOpen: true }),
        await person(browser, server, 'Cy', { noOpen: true }),
      ];
      const count = (p: Person) => p.page.locator('.room-widget .member-count');
      for (const p of [ann, bob, cy]) {
        await p.page.goto(`/messages/demo/rooms/${key}/`);
        await expect(count(p)).toHaveText('0 members');
        await expect(p.page.locator('.room-widget')).toContainText('Join the room to see messages');
        await expect(p.page.locator('.room-message-list')).toHaveCount(0);
      }

      // Viewing joined nobody. Ann joins (making the room), then Bob; Cy watches.
      await ann.page.locator('.join-room-btn').click();
      await expect(ann.page.locator('.room-message-list')).toBeVisible();
      await expect(ann.page.locator('.leave-room-btn-header')).toBeVisible();
      for (const p of [ann, bob, cy]) await expect(count(p)).toHaveText('1 member');
      await bob.page.locator('.join-room-btn').click();
      for (const p of [ann, bob, cy]) await expect(count(p)).toHaveText('2 members');
      await expect(cy.page.locator('.room-message-list')).toHaveCount(0);

      // Messages both ways.
      await ann.page.locator('.room-message-input').fill('Welcome to the room!');
      await ann.page.locator('.room-send-btn').click();
      await expect(roomMessage(bob, 'Welcome to the room!').locator('.sender-name')).toHaveText(ann.name);
      await bob.page.locator('.room-message-input').fill('Glad to be here');
      await bob.page.locator('.room-message-input').press('Enter');
      await expect(roomMessage(ann, 'Glad to be here')).toBeVisible();

      // Cy joins: 3 for everyone, and Cy sees the conversation.
      await cy.page.locator('.join-room-btn').click();
      for (const p of [ann, bob, cy]) await expect(count(p)).toHaveText('3 members');
      await expect(roomMessage(cy, 'Welcome to the room!')).toBeVisible();

      // Reactions, edits, deletions both ways.
      const welcome = roomMessage(bob, 'Welcome to the room!');
      await welcome.hover();
      const emoji = await react(bob, welcome.locator('.emoji-btn'));
      await expect(roomMessage(ann, 'Welcome to the room!').locator('.reaction', { hasText: emoji }).locator('.reaction-count')).toHaveText('1');
      await roomMessage(ann, 'Welcome to the room!').locator('.reaction', { hasText: emoji }).click();
      await expect(welcome.locator('.reaction', { hasText: emoji }).locator('.reaction-count')).toHaveText('2');
      await edit(ann, roomMessage(ann, 'Welcome to the room!'), '.room-message-input', 'Welcome, everyone!');
      await expect(roomMessage(bob, 'Welcome, everyone!')).toBeVisible();
      await edit(bob, roomMessage(bob, 'Glad to be here'), '.room-message-input', 'Glad to be here, thanks');
      await expect(roomMessage(ann, 'Glad to be here, thanks')).toBeVisible();
      await remove(bob, roomMessage(bob, 'Glad to be here, thanks'));
      await expect(roomMessage(ann, 'Glad to be here, thanks')).toHaveCount(0);
      await remove(ann, roomMessage(ann, 'Welcome, everyone!'));
      await expect(roomMessage(bob, 'Welcome, everyone!')).toHaveCount(0);

      // Bob leaves: the others see 2, and Bob gets the join button (and the lock) back.
      await bob.page.locator('.leave-room-btn-header').click();
      for (const p of [ann, bob, cy]) await expect(count(p)).toHaveText('2 members');
      await expect(bob.page.locator('.join-room-btn')).toBeVisible();
      await expect(bob.page.locator('.room-widget')).toContainText('Join the room to see messages');
      await expect(bob.page.locator('.room-message-list')).toHaveCount(0);
      // …and the room is in the members' chat list on the messages page.
      await ann.page.goto('/messages/');
      await expect(ann.page.locator('#chat-list .chat-item .chat-title', { hasText: `Page “${key}”` })).toBeVisible();
      expectNoSockets(transport, ann, bob, cy);
    });

    t('Room: a visitor sees the sign-in link and comes back to the page', async ({ browser, server }) => {
      const ann = await person(browser, server, 'Ann', { noOpen: true });
      const key = unique('room');
      const visitor = await anonymous(browser, server);
      const here = `/messages/demo/rooms/${key}/`;
      await visitor.page.goto(here);
      const link = visitor.page.locator('.room-widget').getByRole('link', { name: 'Sign in to chat' });
      await expect(link).toBeVisible();
      await expect(visitor.page.locator('.room-widget .join-room-btn')).toHaveCount(0);
      await link.click();
      await signInWithForm(visitor.page, ann.username);
      await expect(visitor.page).toHaveURL(new RegExp(`${escapeRe(here)}$`));
      await expect(visitor.page.locator('.room-widget .member-count')).toHaveText('0 members');
      await expect(visitor.page.locator('.room-widget .join-room-btn')).toBeVisible();
      expectNoSockets(transport, visitor);
    });
  });
}
