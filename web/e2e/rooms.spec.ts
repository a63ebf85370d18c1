// Public rooms on the messages page (SPEC §10, §11): the rooms dialog lists rooms, member or
// not, with their counts; joining opens the room, which joins the chat list; a room's header
// counts its members; leaving takes it out of the list. On both transports.

import { chatItem, expect, expectNoSockets, messageByText, person, send, TRANSPORTS, unique } from './fixtures.ts';

for (const [transport, test] of TRANSPORTS) {
  test(`the rooms dialog: browse, search, join; the room in the list, live, and leaving it (${transport})`, async ({ browser, server }) => {
    const ann = await person(browser, server, 'Ann', { noOpen: true });
    const bob = await person(browser, server, 'Bob');
    const title = unique('Town square ');
    const made = await ann.context.request.post('/messages/api/rooms/', { data: { key: unique('square'), title } });
    expect(made.status(), await made.text()).toBe(201);
    const room = await made.json();
    const b = bob.page;

    await b.locator('#browse-rooms-btn').click();
    const dialog = b.getByRole('dialog');
    await expect(dialog).toBeVisible();
    await b.locator('#room-search-input').fill(title);
    const item = b.locator('.room-item', { hasText: title });
    await expect(item).toHaveCount(1);
    await expect(item.locator('.room-title')).toHaveText(title);
    await expect(item.locator('.member-count')).toHaveText('1 member');
    await item.locator('.join-room-btn').click();
    await expect(dialog).toHaveCount(0);
    await expect(b.locator('#current-chat-name')).toHaveText(title);
    await expect(b.locator('.members-summary')).toHaveText('2 members');
    await expect(chatItem(bob, room.id)).toBeVisible();

    // Ann, a member, sees Bob's message arrive in the room on her messages page.
    await ann.page.goto(`/messages/?chat=${room.id}`);
    await expect(ann.page.locator('.members-summary')).toHaveText('2 members');
    await send(bob, 'Hello, square');
    await expect(messageByText(ann, 'Hello, square')).toBeVisible();

    // Browsing again: the room is one Bob is in (Open, not Join).
    await b.locator('#browse-rooms-btn').click();
    await b.locator('#room-search-input').fill(title);
    await expect(item.locator('.join-room-btn')).toHaveCount(0);
    await expect(item.locator('.member-count')).toHaveText('2 members');
    await b.keyboard.press('Escape');

    // Leaving (with confirmation) takes it out of Bob's list; Ann's count drops.
    await b.locator('#leave-chat-btn').click();
    await b.locator('#confirmation-confirm-btn').click();
    await expect(chatItem(bob, room.id)).toHaveCount(0);
    await expect(ann.page.locator('.members-summary')).toHaveText('1 member');
    expectNoSockets(transport, ann, bob);
  });
}
