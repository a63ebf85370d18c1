// Two (or three) people side by side, each in a browser context of their own, against the
// real local worker: everything arrives live, without a reload — on both transports (with
// polling, within the poll interval and without a WebSocket).

import { chatItem, expect, expectNoSockets, group, messageByText, openChat, person, send, sendApi, TRANSPORTS } from './fixtures.ts';

for (const [transport, test] of TRANSPORTS) {
  test.describe(`the messages page over ${transport}`, () => {

    test('a new chat: members dialog, rename, and a live conversation with typing and read status', async ({ browser, server }) => {
      const ann = await person(browser, server, 'Ann');
      const bob = await person(browser, server, 'Bob');
      const a = ann.page;

      // New chat: a group of one that opens the members dialog.
      await a.locator('#new-chat-btn').click();
      const dialog = a.getByRole('dialog');
      await expect(dialog).toBeVisible();
      await expect(a.locator('#user-search-input')).toBeFocused();
      await a.locator('#user-search-input').fill(bob.username);
      await a.locator('#search-btn').click();
      const add = a.locator('.add-user-btn', { hasText: bob.username });
      await expect(add).toContainText(bob.name);
      await add.click();
      await expect(a.locator('.user-result', { hasText: bob.username })).toContainText('Member');
      await a.locator('#manage-members-tab').click();
      await expect(a.locator('.member-item', { hasText: bob.username })).toBeVisible();
      await expect(a.locator('.member-item')).toHaveCount(2);
      await a.keyboard.press('Escape');
      await expect(dialog).toHaveCount(0);

      // Rename by clicking the title.
      await a.locator('#current-chat-name').click();
      await a.locator('.chat-title-input').fill('Launch plan');
      await a.locator('.chat-title-save-btn').click();
      await expect(a.locator('#current-chat-name')).toHaveText('Launch plan');
      const chatId = Number(await a.locator('.chat-item.active').getAttribute('data-chat-id'));

      // Bob's list shows the chat without a reload, and he opens it.
      await expect(chatItem(bob, chatId).locator('.chat-title')).toHaveText('Launch plan');
      await openChat(bob, chatId);

      // Enter sends; Bob sees it live, on the left; Ann's is on the right.
      await send(ann, 'Hello Bob');
      await expect(messageByText(bob, 'Hello Bob').locator('.message-bubble')).toHaveClass(/message-bubble-other/);
      const mine = messageByText(ann, 'Hello Bob');
      await expect(mine.locator('.message-bubble')).toHaveClass(/message-bubble-own/);
      await expect(a.locator('#message-input')).toHaveValue('');
      // Bob has the chat open, so the message is read: Ann's read status says so.
      await expect(mine.locator('.read-status')).toHaveAttribute('data-status', 'read');
      await expect(mine.locator('.read-status')).toContainText('Read');

      // Typing shows while Bob types, and ends with his message.
      await bob.page.locator('#message-input').pressSequentially('Hi Ann', { delay: 20 });
      await expect(a.locator('#typing-indicator')).toHaveText(`${bob.name} is typing…`);
      await bob.page.locator('#message-input').press('Enter');
      await expect(messageByText(ann, 'Hi Ann')).toBeVisible();
      await expect(a.locator('#typing-indicator')).toHaveText('');
      await expect(messageByText(ann, 'Hi Ann').locator('.sender-name')).toHaveText(bob.name);
      expectNoSockets(transport, ann, bob);
    });

    test('edits, deletions and reactions arrive live; a timestamp on click says "Edited"', async ({ browser, server }) => {
      const ann = await person(browser, server, 'Ann');
      const bob = await person(browser, server, 'Bob');
      const chatId = await group(ann, 'Reviews', [bob]);
      await ann.page.reload();
      await openChat(ann, chatId);
      await expect(chatItem(bob, chatId)).toBeVisible();
      await openChat(bob, chatId);

      await send(ann, 'first draft');
      await expect(messageByText(bob, 'first draft')).toBeVisible();

      // Edit from the context menu, in the main input.
      const msg = messageByText(ann, 'first draft');
      await msg.locator('.context-menu-btn').click();
      await expect(ann.page.locator('.context-menu')).toBeVisible();
      await ann.page.locator('.context-menu .edit-btn').click();
      await expect(ann.page.locator('#message-input')).toHaveValue('first draft');
      await ann.page.locator('#message-input').fill('final draft');
      await ann.page.locator('.edit-save-btn').click();
      const edited = messageByText(bob, 'final draft');
      await expect(edited).toBeVisible();
      await expect(messageByText(bob, 'first draft')).toHaveCount(0);
      await expect(edited.locator('.message-timestamp')).toHaveCount(0);
      await edited.locator('.message-bubble').click();
      await expect(edited.locator('.message-timestamp')).toContainText('Edited');

      // A reaction from the picker (loaded on demand, data from our own server).
      await edited.locator('.emoji-btn').click();
      const firstEmoji = bob.page.locator('emoji-picker button[id^="emo-"]').first();
      await expect(firstEmoji).toBeVisible();
      const emoji = (await firstEmoji.textContent())!.trim();
      await firstEmoji.click();
      await expect(bob.page.locator('emoji-picker')).toHaveCount(0);
      const pillOnAnn = messageByText(ann, 'final draft').locator('.reaction', { hasText: emoji });
      await expect(pillOnAnn.locator('.reaction-count')).toHaveText('1');
      // Ann joins in by clicking the pill; Bob removes his own.
      await pillOnAnn.click();
      const pillOnBob = edited.locator('.reaction', { hasText: emoji });
      await expect(pillOnBob.locator('.reaction-count')).toHaveText('2');
      await expect(pillOnBob).toHaveClass(/reaction-own/);
      await pillOnBob.click();
      await expect(pillOnAnn.locator('.reaction-count')).toHaveText('1');
      await expect(pillOnBob).not.toHaveClass(/reaction-own/);

      // Delete from the context menu: gone for both (deleted indicators are off by default).
      const own = messageByText(ann, 'final draft');
      await own.locator('.context-menu-btn').click();
      await ann.page.locator('.context-menu .delete-btn').click();
      await expect(messageByText(bob, 'final draft')).toHaveCount(0);
      await expect(messageByText(ann, 'final draft')).toHaveCount(0);
      // Only own messages have edit and delete.
      await sendApi(bob, chatId, 'from bob');
      await expect(messageByText(ann, 'from bob').locator('.context-menu-btn')).toHaveCount(0);
      expectNoSockets(transport, ann, bob);
    });

    test('the chat list: new chats appear, unread counts rise and clear, newest first', async ({ browser, server }) => {
      const ann = await person(browser, server, 'Ann');
      const bob = await person(browser, server, 'Bob');
      await expect(bob.page.getByText('No chats yet — start one.')).toBeVisible();
      const older = await group(ann, 'Older chat', [bob]);
      const newer = await group(ann, 'Newer chat', [bob]);
      await expect(chatItem(bob, newer)).toBeVisible();
      await expect(bob.page.locator('#chat-list .chat-item')).toHaveCount(2);
      await expect(chatItem(bob, newer).locator('.unread-indicator')).toHaveCount(0);

      await sendApi(ann, older, 'ping one');
      await sendApi(ann, older, 'ping two');
      const item = chatItem(bob, older);
      await expect(item.locator('.unread-indicator')).toHaveText('2');
      await expect(item.locator('.last-message')).toContainText('ping two');
      // The chat with the newest message is first.
      await expect(bob.page.locator('#chat-list .chat-item').first()).toHaveAttribute('data-chat-id', String(older));

      await openChat(bob, older);
      await expect(item.locator('.unread-indicator')).toHaveCount(0);
      await expect(messageByText(bob, 'ping two')).toBeVisible();
      // A message to the chat Bob is reading does not count as unread.
      await sendApi(ann, older, 'ping three');
      await expect(messageByText(bob, 'ping three')).toBeVisible();
      await expect(item.locator('.unread-indicator')).toHaveCount(0);
      // …but one to another chat does.
      await sendApi(ann, newer, 'elsewhere');
      await expect(chatItem(bob, newer).locator('.unread-indicator')).toHaveText('1');

      // Search filters the list.
      await bob.page.locator('#chat-search').fill('Newer');
      await expect(bob.page.locator('#chat-list .chat-item')).toHaveCount(1);
      await bob.page.locator('#chat-search').fill('');
      await expect(bob.page.locator('#chat-list .chat-item')).toHaveCount(2);
      expectNoSockets(transport, ann, bob);
    });

    test('leaving asks first; when the admin leaves, the longest-standing member takes over', async ({ browser, server }) => {
      const ann = await person(browser, server, 'Ann');
      const bob = await person(browser, server, 'Bob');
      const cy = await person(browser, server, 'Cy');
      const chatId = await group(ann, 'Handover', [bob, cy]);
      for (const p of [ann, bob, cy]) {
        await expect(chatItem(p, chatId)).toBeVisible();
        await openChat(p, chatId);
      }
      await expect(ann.page.locator('#members-btn')).toBeVisible();
      await expect(bob.page.locator('#members-btn')).toHaveCount(0);

      await ann.page.locator('#leave-chat-btn').click();
      await expect(ann.page.locator('#confirmation-confirm-btn')).toBeVisible();
      await ann.page.locator('#confirmation-cancel-btn').click();
      await expect(chatItem(ann, chatId)).toBeVisible();
      await ann.page.locator('#leave-chat-btn').click();
      await ann.page.locator('#confirmation-confirm-btn').click();
      await expect(chatItem(ann, chatId)).toHaveCount(0);

      // Bob joined before Cy: he is the admin now, and can manage members.
      await expect(bob.page.locator('#members-btn')).toBeVisible();
      await expect(cy.page.locator('#members-btn')).toHaveCount(0);
      await expect(bob.page.locator('.members-summary')).toHaveText('2 members');

      await bob.page.locator('#members-btn').click();
      await bob.page.locator('#manage-members-tab').click();
      await bob.page.locator('.member-item', { hasText: cy.username }).locator('.remove-member-btn').click();
      await expect(bob.page.locator('.member-item')).toHaveCount(1);
      await bob.page.locator('#close-dialog-btn').click();
      // Cy's socket is closed by the server and the chat leaves Cy's list.
      await expect(chatItem(cy, chatId)).toHaveCount(0);
      expectNoSockets(transport, ann, bob, cy);
    });

    test('deleting a chat from the ⋮ menu asks first and removes it for everyone', async ({ browser, server }) => {
      const ann = await person(browser, server, 'Ann');
      const bob = await person(browser, server, 'Bob');
      const chatId = await group(ann, 'Short-lived', [bob]);
      await ann.page.reload();
      await openChat(ann, chatId);
      await expect(chatItem(bob, chatId)).toBeVisible();
      await openChat(bob, chatId);
      await expect(bob.page.locator('#chat-menu-btn')).toHaveCount(0); // not an admin

      await ann.page.locator('#chat-menu-btn').click();
      await ann.page.locator('#delete-chat-btn').click();
      await expect(ann.page.getByRole('dialog')).toContainText('deleted for everyone');
      await ann.page.locator('#confirmation-confirm-btn').click();
      await expect(chatItem(ann, chatId)).toHaveCount(0);
      await expect(chatItem(bob, chatId)).toHaveCount(0);
      await expect(bob.page.locator('.toast')).toContainText('deleted');
      await expect(bob.page.locator('#message-list')).toHaveCount(0);
      expectNoSockets(transport, ann, bob);
    });
  });
}
