// Screenshots of the main states, light and dark, desktop and 375 px. `make screenshots` writes
// them to docs/screenshots/ (shown in the README); in `make e2e` they go to test-results/ and
// the test checks that each state renders.

import { join } from 'node:path';
import { expect, group, messageByText, openChat, person, sendApi, test, type Person } from './fixtures.ts';
import { ROOT } from './server.ts';

test('screenshots of the main states', async ({ browser, server }, info) => {
  test.setTimeout(120_000);
  const dir = process.env.E2E_SCREENSHOTS ? join(ROOT, 'docs', 'screenshots') : info.outputPath();
  const shot = async (p: Person, name: string) => {
    await p.page.screenshot({ path: join(dir, `${name}.png`) });
  };

  const ann = await person(browser, server, 'Ann', { last: 'Archer', noOpen: true });
  const bob = await person(browser, server, 'Bob', { last: 'Baker', noOpen: true });
  const cy = await person(browser, server, 'Cy', { last: 'Cole', noOpen: true });
  const team = await group(ann, 'Design review', [bob, cy]);
  await group(bob, 'Launch plan', [ann, cy]).then((id) => sendApi(bob, id, 'Draft timeline is in the doc — comments welcome'));
  const dm = await (await ann.context.request.post('/messages/api/chats/', { data: { chat_type: 'dm', member_ids: [cy.id] } })).json();
  await sendApi(cy, dm.id, 'Lunch at 12:30?');
  const script: Array<[Person, string]> = [
    [ann, 'Morning! Are we still on for the review at 10?'],
    [bob, 'Yes — the slides are in the shared folder.'],
    [cy, 'I’ll be a few minutes late, sorry.'],
    [ann, 'No problem. Agenda: https://example.com/agenda'],
    [bob, 'Looks good. I added the new onboarding flow to section 3, so we can walk through it together.'],
    [ann, 'Great, thanks Bob 🙌'],
  ];
  const ids: number[] = [];
  for (const [who, text] of script) ids.push(await sendApi(who, team, text));
  await bob.context.request.post(`/messages/api/messages/${ids[3]}/reactions/`, { data: { emoji: '👍' } });
  await cy.context.request.post(`/messages/api/messages/${ids[3]}/reactions/`, { data: { emoji: '👍' } });
  await cy.context.request.post(`/messages/api/messages/${ids[4]}/reactions/`, { data: { emoji: '🎉' } });
  await bob.context.request.post(`/messages/api/chats/${team}/mark-as-read/`, { data: {} });
  // Three rooms: Ann made one, Cy two; Bob joined the meetup's.
  for (const [who, key, title] of [
    [cy, 'meetup-berlin', 'Community meetup, Berlin'],
    [cy, 'release-notes-1-0', 'Release notes 1.0'],
    [ann, 'weekly-demo', 'Weekly demo: what shipped'],
  ] as const) {
    const made = await who.context.request.post('/messages/api/rooms/', { data: { key, title } });
    expect(made.status(), await made.text()).toBe(201);
    if (key === 'meetup-berlin') await bob.context.request.post(`/messages/api/rooms/${(await made.json()).id}/join/`);
  }

  for (const scheme of ['light', 'dark'] as const) {
    const ctx = await browser.newContext({ baseURL: server.base, colorScheme: scheme, viewport: { width: 1180, height: 720 }, locale: 'en-GB' });
    await ctx.addCookies(await ann.context.cookies());
    const page = await ctx.newPage();
    const me: Person = { ...ann, context: ctx, page };
    await page.goto('/messages/');
    await openChat(me, team);
    await expect(messageByText(me, 'Great, thanks Bob 🙌')).toBeVisible();
    await expect(page.locator('.reaction')).toHaveCount(2);
    await page.locator('#message-input').fill('Sounds good — see you there');
    await shot(me, `desktop-${scheme}`);
    if (scheme === 'light') {
      await page.locator('#members-btn').click();
      await page.locator('#user-search-input').fill('o');
      await page.locator('#search-btn').click();
      await expect(page.locator('.user-result').first()).toBeVisible();
      await shot(me, 'members-dialog');
      await page.keyboard.press('Escape');
      await expect(page.getByRole('dialog')).toHaveCount(0);
      await page.locator('#browse-rooms-btn').click();
      // (In make e2e, rooms of other tests of this worker are listed too.)
      for (const title of ['Weekly demo: what shipped', 'Release notes 1.0', 'Community meetup, Berlin']) {
        await expect(page.locator('.room-item', { hasText: title })).toBeVisible();
      }
      await shot(me, 'rooms-dialog');
      await page.keyboard.press('Escape');
    }
    await ctx.close();
  }

  const phone = await browser.newContext({ baseURL: server.base, viewport: { width: 375, height: 740 }, colorScheme: 'light', locale: 'en-GB', isMobile: true, hasTouch: true });
  await phone.addCookies(await bob.context.cookies());
  const page = await phone.newPage();
  const me: Person = { ...bob, context: phone, page };
  await page.goto('/messages/');
  await expect(page.locator('.chat-item')).toHaveCount(3);
  await shot(me, 'mobile-chats');
  await openChat(me, team);
  await expect(messageByText(me, 'Great, thanks Bob 🙌')).toBeVisible();
  await shot(me, 'mobile-messages');
  await phone.close();

  const anon = await browser.newContext({ baseURL: server.base, viewport: { width: 900, height: 640 }, colorScheme: 'dark' });
  const login = await anon.newPage();
  await login.goto('/messages/');
  await expect(login.locator('input[name=username]')).toBeVisible();
  await login.screenshot({ path: join(dir, 'login-dark.png') });
  await anon.close();
});

test('screenshots of the widgets on the demo pages', async ({ browser, server }, info) => {
  test.setTimeout(120_000);
  const dir = process.env.E2E_SCREENSHOTS ? join(ROOT, 'docs', 'screenshots') : info.outputPath();
  const ann = await person(browser, server, 'Ann', { last: 'Archer', noOpen: true });
  const bob = await person(browser, server, 'Bob', { last: 'Baker', noOpen: true });
  const dm = await (await ann.context.request.post('/messages/api/chats/', { data: { chat_type: 'dm', member_ids: [bob.id] } })).json();
  const lines: Array<[Person, string]> = [
    [ann, 'Hi Bob! I saw your talk on edge databases, great stuff.'],
    [bob, 'Thanks Ann! Glad you liked it.'],
    [ann, 'Would you share the slides?'],
    [bob, 'Sure — here they are: https://example.com/slides'],
  ];
  const ids: number[] = [];
  for (const [who, text] of lines) ids.push(await sendApi(who, dm.id, text));
  await ann.context.request.post(`/messages/api/messages/${ids[3]}/reactions/`, { data: { emoji: '🙏' } });
  await bob.context.request.post(`/messages/api/chats/${dm.id}/mark-as-read/`, { data: {} });

  const ctx = await browser.newContext({ baseURL: server.base, viewport: { width: 1180, height: 720 }, colorScheme: 'light', locale: 'en-GB' });
  await ctx.addCookies(await ann.context.cookies());
  const page = await ctx.newPage();
  await page.goto(`/messages/demo/people/${bob.id}/`);
  await page.locator('#chat-toggle-btn').click();
  await expect(page.locator('#widget-message-list [data-message-id]')).toHaveCount(4);
  await page.locator('#widget-message-input').fill('Thank you!');
  await page.screenshot({ path: join(dir, 'widget-dm.png') });
  await ctx.close();
});

test('screenshots of the room widget', async ({ browser, server }, info) => {
  test.setTimeout(120_000);
  const dir = process.env.E2E_SCREENSHOTS ? join(ROOT, 'docs', 'screenshots') : info.outputPath();
  const ann = await person(browser, server, 'Ann', { last: 'Archer', noOpen: true });
  const bob = await person(browser, server, 'Bob', { last: 'Baker', noOpen: true });
  const cy = await person(browser, server, 'Cy', { last: 'Cole', noOpen: true });
  // The demo's own launch video page (its room is made here, as a first join would).
  const key = 'launch-video';
  const made = await ann.context.request.post('/messages/api/rooms/', { data: { key, title: 'Launch video: Edge Messaging in 90 seconds' } });
  expect(made.status(), await made.text()).toBe(201);
  const room = await made.json();
  await bob.context.request.post(`/messages/api/rooms/${room.id}/join/`);
  const lines: Array<[Person, string]> = [
    [ann, 'Premiere in five minutes 🎬'],
    [bob, 'Ready! The part about the widgets is my favourite.'],
    [ann, 'Drop your questions here, we answer them live.'],
  ];
  const ids: number[] = [];
  for (const [who, text] of lines) ids.push(await sendApi(who, room.id, text));
  await bob.context.request.post(`/messages/api/messages/${ids[0]}/reactions/`, { data: { emoji: '🎉' } });

  for (const [who, name] of [
    [ann, 'widget-room'],
    [cy, 'widget-room-visitor'],
  ] as const) {
    const ctx = await browser.newContext({ baseURL: server.base, viewport: { width: 1180, height: 720 }, colorScheme: 'light', locale: 'en-GB' });
    await ctx.addCookies(await who.context.cookies());
    const page = await ctx.newPage();
    await page.goto(`/messages/demo/rooms/${key}/`);
    await expect(page.locator('.room-widget .member-count')).toHaveText('2 members');
    if (who === ann) await expect(page.locator('.room-message-list [data-message-id]')).toHaveCount(3);
    else await expect(page.locator('.room-widget')).toContainText('Join the room to see messages');
    await page.screenshot({ path: join(dir, `${name}.png`) });
    await ctx.close();
  }
});
