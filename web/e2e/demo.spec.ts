// The demo site (/messages/demo/): plain HTML pages that use the widgets as any site would,
// under the same Content-Security-Policy as every page, with embed.js revalidated and the
// widgets' files cached by hash.

import { anonymous, expect, person, test } from './fixtures.ts';

test('the demo site: people for members only, person and room pages, no inline script, widgets under the CSP', async ({ browser, server }) => {
  const ann = await person(browser, server, 'Ann', { noOpen: true });
  const bob = await person(browser, server, 'Bob', { noOpen: true });
  const a = ann.page;
  const violations: string[] = [];
  a.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) violations.push(m.text());
  });

  const asked: string[] = [];
  a.on('request', (r) => r.url().includes('/messages/api/') && asked.push(new URL(r.url()).pathname));
  const resp = await a.goto('/messages/demo/');
  const h = resp!.headers();
  expect(h['content-security-policy']).toContain("script-src 'self';");
  expect(h['cache-control']).toContain('no-cache');
  // People, yourself marked; content pages; the messages page.
  await expect(a.locator('.person-card', { hasText: bob.username })).toBeVisible();
  await expect(a.locator('.person-card', { hasText: ann.username })).toContainText('you');
  await expect(a.getByRole('link', { name: 'your messages' })).toHaveAttribute('href', '/messages/');
  // A page without widgets asks the API nothing (embed.js waits for EdgeMessaging.mount()).
  await a.waitForFunction(() => 'EdgeMessaging' in window);
  await a.waitForLoadState('networkidle');
  expect(asked).toEqual([]);
  await a.locator('.content-card').first().click();
  await expect(a).toHaveURL(/\/messages\/demo\/rooms\/launch-video\/$/);
  await expect(a.locator('[data-messaging-room="launch-video"]')).toHaveAttribute('data-title', /Launch video/);
  await expect(a.locator('.room-widget')).toHaveAttribute('data-state', /ready|hidden|failed/);

  await a.goto('/messages/demo/');
  await a.locator('.person-card', { hasText: bob.username }).click();
  await expect(a.locator('h1')).toHaveText(bob.name);
  await expect(a.locator('#chat-toggle-btn')).toBeVisible();
  // The only script is embed.js; it loads the widgets' hashed code and CSS.
  const scripts = await a.locator('script').evaluateAll((els) => els.map((e) => (e as HTMLScriptElement).src));
  expect(scripts).toEqual([`${server.base}/messages/static/embed.js`]);
  const embed = await ann.context.request.get('/messages/static/embed.js');
  expect(embed.headers()['cache-control']).toBe('no-cache');
  const css = await a.locator('link[rel=stylesheet][href*="/messages/static/embed-"]').getAttribute('href');
  const cssResp = await ann.context.request.get(css!);
  expect(cssResp.headers()['cache-control']).toContain('max-age=31536000');
  expect(violations).toEqual([]);

  // A page that adds a widget later mounts it with EdgeMessaging.mount().
  await a.evaluate(() => {
    const el = document.createElement('div');
    el.dataset.messagingRoom = 'added-later';
    el.dataset.title = 'Added later';
    document.querySelector('main')!.appendChild(el);
    (window as unknown as { EdgeMessaging: { mount(): void } }).EdgeMessaging.mount();
  });
  await expect(a.locator('[data-messaging-room="added-later"] .room-widget')).toHaveAttribute('data-state', 'ready');
  await expect(a.locator('[data-messaging-room="added-later"] .room-title')).toHaveText('Added later');
  await expect(a.locator('.em-dm')).toHaveCount(1);

  // Not found: an unknown person, a key that is not plain.
  expect((await ann.context.request.get('/messages/demo/people/99999999/')).status()).toBe(404);
  expect((await ann.context.request.get('/messages/demo/rooms/a%20b/')).status()).toBe(404);
  expect((await ann.context.request.get('/messages/demo/nothing/')).status()).toBe(404);
  expect((await ann.context.request.post('/messages/demo/')).status()).toBe(405);

  // A visitor sees no people and no names, and can sign in from every page.
  const visitor = await anonymous(browser, server);
  await visitor.page.goto('/messages/demo/');
  await expect(visitor.page.locator('.person-card')).toHaveCount(0);
  await expect(visitor.page.getByText('Sign in to see who is here')).toBeVisible();
  await visitor.page.goto(`/messages/demo/people/${bob.id}/`);
  await expect(visitor.page.locator('main')).not.toContainText(bob.name);
  await expect(visitor.page.locator('main')).not.toContainText(bob.username);
});
