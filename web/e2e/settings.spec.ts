// Settings the page and the widgets read from GET /messages/api/config/: a setting that forbids
// an action hides its control, SHOW_DELETED_MESSAGE_INDICATORS keeps deleted messages as
// "This message was deleted", and the host page's CSS reaches the hooks but not the rest.

import { createHmac } from 'node:crypto';
import { anonymous, expect, group, messageByText, openChat, person, send, sendApi, test, testWith } from './fixtures.ts';

const off = testWith('e2e-settings-off', {
  vars: {
    ALLOW_EDITING_OWN_MESSAGES: 'false',
    ALLOW_DELETING_OWN_MESSAGES: 'false',
    ALLOW_ADDING_REACTIONS: 'false',
    ENABLE_CHAT_ROOMS: 'false',
    ENABLE_DMS: 'false',
  },
});

off('settings that forbid editing, deleting, reacting, rooms and DMs hide their controls, on the page and in the widgets', async ({ browser, server }) => {
  const ann = await person(browser, server, 'Ann');
  const bob = await person(browser, server, 'Bob', { noOpen: true });
  const chatId = await group(ann, 'Quiet', [bob]);
  await sendApi(bob, chatId, 'from bob');
  await ann.page.reload();
  await openChat(ann, chatId);
  const a = ann.page;
  await send(ann, 'from ann');
  const own = messageByText(ann, 'from ann');
  await expect(own).toBeVisible();
  await own.hover();
  await expect(own.locator('.context-menu-btn')).toHaveCount(0);
  await expect(own.locator('.emoji-btn')).toHaveCount(0);
  await expect(messageByText(ann, 'from bob').locator('.emoji-btn')).toHaveCount(0);
  // ↑ does not start an edit either.
  await a.locator('#message-input').press('ArrowUp');
  await expect(a.locator('.edit-save-btn')).toHaveCount(0);
  await expect(a.locator('#browse-rooms-btn')).toBeHidden();

  // The widgets: no DM button, no room.
  await a.goto(`/messages/demo/people/${bob.id}/`);
  await expect(a.locator('.em-dm')).toHaveAttribute('data-state', 'hidden');
  await expect(a.locator('#chat-toggle-btn')).toHaveCount(0);
  await a.goto('/messages/demo/rooms/quiet-room/');
  await expect(a.locator('.room-widget')).toHaveAttribute('data-state', 'hidden');
  await expect(a.locator('.room-widget')).toBeHidden();
});

// Settings that are off by default, on (SSO_DEMO: the published demo key signs in `demo:` people).
const deleted = testWith('e2e-settings-on', { vars: { SHOW_DELETED_MESSAGE_INDICATORS: 'true', ALLOW_RENAMING_DMS: 'true', SSO_DEMO: 'true' } });

deleted('SHOW_DELETED_MESSAGE_INDICATORS: a deleted message stays as "This message was deleted" for both, in the page and the widget', async ({ browser, server }) => {
  const ann = await person(browser, server, 'Ann', { noOpen: true });
  const bob = await person(browser, server, 'Bob');
  const a = ann.page;
  await a.goto(`/messages/demo/people/${bob.id}/`);
  await a.locator('#chat-toggle-btn').click();
  await a.locator('#widget-message-input').fill('to be deleted');
  await a.locator('#widget-message-input').press('Enter');
  await a.locator('#widget-message-input').fill('to be kept');
  await a.locator('#widget-message-input').press('Enter');
  const dm = bob.page.locator('#chat-list .chat-item').filter({ hasText: ann.name });
  await expect(dm).toBeVisible();
  await openChat(bob, Number(await dm.getAttribute('data-chat-id')));
  const onBob = messageByText(bob, 'to be deleted');
  await expect(onBob).toBeVisible();
  const id = await onBob.getAttribute('data-message-id');

  const inWidget = a.locator(`#widget-message-list [data-message-id="${id}"]`);
  await inWidget.hover();
  await inWidget.locator('.context-menu-btn').click();
  await a.locator('.context-menu .delete-btn').click();
  for (const item of [inWidget, bob.page.locator(`#message-list [data-message-id="${id}"]`)]) {
    await expect(item.locator('.deleted-indicator')).toHaveText('This message was deleted');
    await expect(item.locator('.message-content')).toHaveCount(0);
  }
  await expect(messageByText(bob, 'to be kept')).toBeVisible();
  // ALLOW_RENAMING_DMS: the DM's title is a button that renames.
  await expect(bob.page.locator('button#current-chat-name')).toBeVisible();
});

test('the defaults: deleted messages disappear, a DM cannot be renamed, and the host page styles the hooks but nothing else', async ({ browser, server }) => {
  const ann = await person(browser, server, 'Ann', { noOpen: true });
  const bob = await person(browser, server, 'Bob', { noOpen: true });
  const r = await ann.context.request.post('/messages/api/chats/', { data: { chat_type: 'dm', member_ids: [bob.id] } });
  const dm = (await r.json()).id as number;
  await ann.page.goto(`/messages/?chat=${dm}`);
  await expect(ann.page.locator('span#current-chat-name')).toHaveText(bob.name);
  await expect(ann.page.locator('button#current-chat-name')).toHaveCount(0);

  // The demo site's stylesheet has `button { text-transform: uppercase; font: … Georgia }`:
  // the widget keeps its own look. A rule for a hook reaches it.
  const a = ann.page;
  await a.goto(`/messages/demo/people/${bob.id}/`);
  const toggle = a.locator('#chat-toggle-btn');
  await expect(toggle).toBeVisible();
  const look = await toggle.evaluate((el) => {
    const s = getComputedStyle(el);
    return { transform: s.textTransform, font: s.fontFamily, spacing: s.letterSpacing };
  });
  expect(look.transform).toBe('none');
  expect(look.font).not.toContain('Georgia');
  expect(look.spacing).toBe('normal');
  await a.addStyleTag({ content: '#chat-toggle-btn { outline: 3px solid rgb(255, 0, 0); }' });
  await expect(toggle).toHaveCSS('outline-color', 'rgb(255, 0, 0)');
  // …and the widgets' rules stay inside: the host's own buttons keep the site's look.
  const hostButton = a.locator('.session button');
  await expect(hostButton).toHaveCSS('font-family', /Georgia/);
});

/** A host site's token for `sub`, signed with the published demo key (as a site's backend would). */
function demoToken(sub: string, name: string): string {
  const b64 = (v: object | Buffer) => (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v))).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = b64({ alg: 'HS256', typ: 'JWT', kid: 'demo' });
  const body = b64({ sub, aud: 'edge-messaging', iat: now, exp: now + 600, name });
  const sig = createHmac('sha256', 'edge-messaging-demo-secret-PUBLIC-never-use-in-production').update(`${head}.${body}`).digest();
  return `${head}.${body}.${b64(sig)}`;
}

deleted('a host site signs its visitor in to the widgets with EdgeMessaging.signIn(token): the cookie, the sockets, everything', async ({ browser, server }) => {
  const bob = await person(browser, server, 'Bob', { noOpen: true });
  const visitor = await anonymous(browser, server);
  const v = visitor.page;
  await v.goto(`/messages/demo/people/${bob.id}/`);
  await expect(v.getByRole('link', { name: 'Sign in to chat' })).toBeVisible();

  const sub = `demo:${Date.now().toString(36)}`;
  await v.evaluate((t) => (window as unknown as { EdgeMessaging: { signIn(t: string): void } }).EdgeMessaging.signIn(t), demoToken(sub, 'Dora Demo'));
  await expect(v.locator('#chat-toggle-btn')).toContainText(`Message ${bob.name}`);
  await expect(v.getByRole('link', { name: 'Sign in to chat' })).toHaveCount(0);
  const me = await (await visitor.context.request.get('/messages/api/auth/me/')).json();
  expect(me.display_name).toBe('Dora Demo');

  // The session is this origin's cookie: the live connection works as for anyone.
  await v.locator('#chat-toggle-btn').click();
  await v.locator('#widget-message-input').fill('Hello from a host site');
  await v.locator('#widget-message-input').press('Enter');
  await bob.page.goto('/messages/');
  const dm = bob.page.locator('#chat-list .chat-item').filter({ hasText: 'Dora Demo' });
  await openChat(bob, Number(await dm.getAttribute('data-chat-id')));
  await send(bob, 'Welcome, Dora');
  await expect(v.locator('#widget-message-list [data-message-id]').filter({ hasText: 'Welcome, Dora' })).toBeVisible();

  // A refused token leaves the visitor as they were.
  await v.evaluate(() => (window as unknown as { EdgeMessaging: { signIn(t: string): void } }).EdgeMessaging.signIn('not-a-token'));
  await expect(v.locator('#chat-toggle-btn')).toBeVisible();
});

deleted('the demo site signs its people in with data-token on the embed script: the widgets, the messages page and DMs know them', async ({ browser, server }) => {
  const ada = await anonymous(browser, server);
  await ada.page.goto('/messages/demo/site/');
  await ada.page.getByRole('link', { name: 'Sign in to the site as Ada Lovelace' }).click();
  await expect(ada.page).toHaveURL(/\/messages\/demo\/site\/ada\/$/);
  // The page carries the token; the widgets exchange it before anything else.
  const token = await ada.page.locator('script[data-token]').getAttribute('data-token');
  expect(token?.split('.')).toHaveLength(3);
  await expect(ada.page.locator('.room-widget .join-room-btn')).toBeVisible();
  await expect(ada.page.getByRole('link', { name: 'Sign in to chat' })).toHaveCount(0);
  const me = await (await ada.context.request.get('/messages/api/auth/me/')).json();
  expect(me.display_name).toBe('Ada Lovelace');
  await ada.page.locator('.room-widget .join-room-btn').click();
  await expect(ada.page.locator('.room-widget .member-count')).toContainText('member');

  // A second person of the site finds Ada among its people and messages her.
  const grace = await anonymous(browser, server);
  await grace.page.goto('/messages/demo/site/grace/');
  await expect(grace.page.locator('.room-widget .join-room-btn')).toBeVisible();
  await grace.page.getByRole('link', { name: /Message Ada Lovelace/ }).click();
  await expect(grace.page.locator('#chat-toggle-btn')).toContainText('Message Ada Lovelace');
  await grace.page.locator('#chat-toggle-btn').click();
  await grace.page.locator('#widget-message-input').fill('Hello Ada, from the site');
  await grace.page.locator('#widget-message-input').press('Enter');
  await ada.page.goto('/messages/');
  await expect(ada.page.locator('#chat-list .chat-item').filter({ hasText: 'Grace Hopper' })).toBeVisible();

  // The page holds a credential: never cached.
  const res = await grace.context.request.get('/messages/demo/site/grace/');
  expect(res.headers()['cache-control']).toBe('no-store');
});

test('without SSO_DEMO the demo site says how to turn it on and signs no token', async ({ browser, server }) => {
  const v = await anonymous(browser, server);
  await v.page.goto('/messages/demo/site/ada/');
  await expect(v.page.getByText('SSO_DEMO:true')).toBeVisible();
  await expect(v.page.locator('script[data-token]')).toHaveCount(0);
  expect((await v.context.request.get('/messages/demo/site/nobody/')).status()).toBe(404);
});
