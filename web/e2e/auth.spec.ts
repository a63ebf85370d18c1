// Signing up, in and out through the pages (SPEC §11): redirects, `next`, errors, throttling,
// and the security headers every page carries.

import { expect, openMessages, PASSWORD, person, test, unique } from './fixtures.ts';

test('an anonymous visitor of /messages/ is sent to the sign-in page, and signs up from there', async ({ page }) => {
  const resp = await page.goto('/messages/');
  expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe('/login/?next=/messages/');
  expect(resp?.status()).toBe(200);
  await expect(page.locator('input[name=username]')).toBeFocused();

  await page.getByRole('link', { name: 'Create an account' }).click();
  await expect(page).toHaveURL(/\/signup\/\?next=%2Fmessages%2F$/);
  const username = unique('newcomer');
  await page.locator('input[name=first_name]').fill('Nora');
  await page.locator('input[name=last_name]').fill('Newcomer');
  await page.locator('input[name=username]').fill(username);
  await page.locator('input[name=password]').fill('short');
  await page.locator('button[type=submit]').click();
  await expect(page.locator('#password-error')).toContainText('at least 8 characters');
  await expect(page.locator('input[name=username]')).toHaveValue(username);

  await page.locator('input[name=password]').fill(PASSWORD);
  await page.locator('button[type=submit]').click();
  await expect(page).toHaveURL(/\/messages\/$/);
  await expect(page.locator('.me-name')).toHaveText('Nora Newcomer');
  await expect(page.getByText('No chats yet — start one.')).toBeVisible();
});

test('signing in goes to a same-site next; another site in next is ignored', async ({ browser, server }) => {
  const ann = await person(browser, server, 'Ann', { noOpen: true });
  const page = ann.page;
  await ann.context.clearCookies();

  const signIn = async (next: string, password = PASSWORD) => {
    await page.goto(`/login/?next=${encodeURIComponent(next)}`);
    await page.locator('input[name=username]').fill(ann.username);
    await page.locator('input[name=password]').fill(password);
    await page.locator('button[type=submit]').click();
  };

  await signIn('/messages/', 'wrong-password');
  await expect(page.getByRole('alert')).toContainText('Please enter a correct username and password');
  await expect(page.locator('input[name=username]')).toHaveValue(ann.username);

  await signIn('/messages/?chat=123');
  await expect(page).toHaveURL(`${server.base}/messages/?chat=123`);

  for (const evil of ['https://evil.example/', '//evil.example/x', '/\\evil.example', 'javascript:alert(1)']) {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page).toHaveURL(/\/login\/$/);
    await signIn(evil);
    await expect(page, `next=${evil}`).toHaveURL(`${server.base}/messages/`);
  }

  // Signed in already: the sign-in page goes straight on.
  await page.goto('/login/?next=/messages/');
  await expect(page).toHaveURL(`${server.base}/messages/`);
});

test('signing out ends the session: the page and the API refuse the old cookie', async ({ browser, server }) => {
  const bo = await person(browser, server, 'Bo');
  const before = await bo.context.cookies();
  await bo.page.getByRole('button', { name: 'Sign out' }).click();
  await expect(bo.page).toHaveURL(/\/login\/$/);
  await bo.page.goto('/messages/');
  await expect(bo.page).toHaveURL(/\/login\/\?next=\/messages\/$/);
  // The old cookie, put back, is revoked server-side.
  await bo.context.addCookies(before);
  const me = await bo.context.request.get('/messages/api/auth/me/');
  expect(me.status()).toBe(401);
});

test('the sign-in form is throttled like the API login', async ({ browser, server }) => {
  const cy = await person(browser, server, 'Cy', { noOpen: true });
  await cy.context.clearCookies();
  const page = cy.page;
  for (let i = 0; i < 5; i++) {
    await page.goto('/login/');
    await page.locator('input[name=username]').fill(cy.username);
    await page.locator('input[name=password]').fill(`wrong-${i}`);
    await page.locator('button[type=submit]').click();
    await expect(page.getByRole('alert')).toContainText('correct username and password');
  }
  // Now even the right password waits.
  await page.locator('input[name=password]').fill(PASSWORD);
  const [resp] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/login/') && r.request().method() === 'POST'), page.locator('button[type=submit]').click()]);
  expect(resp.status()).toBe(429);
  expect(Number(resp.headers()['retry-after'])).toBeGreaterThan(0);
  await expect(page.getByRole('alert')).toContainText('Too many failed attempts');
});

test('pages carry a CSP without inline script, frame-ancestors, nosniff; nothing inline runs', async ({ browser, server }) => {
  const dee = await person(browser, server, 'Dee', { noOpen: true });
  const violations: string[] = [];
  dee.page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  const resp = await dee.page.goto('/messages/');
  await expect(dee.page.locator('#new-chat-btn')).toBeVisible();
  const h = resp!.headers();
  const csp = h['content-security-policy'] ?? '';
  expect(csp).toContain("script-src 'self';");
  const scriptSrc = csp.split(';').find((d) => d.trim().startsWith('script-src')) ?? '';
  expect(scriptSrc).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
  expect(csp).toMatch(/frame-ancestors 'self'$/);
  expect(h['x-content-type-options']).toBe('nosniff');
  expect(h['referrer-policy']).toBe('same-origin');
  expect(h['cache-control']).toContain('no-cache');
  // Every script is a file of ours; no inline handlers.
  const scripts = await dee.page.locator('script').evaluateAll((els) => els.map((e) => (e as HTMLScriptElement).src));
  expect(scripts.length).toBeGreaterThan(0);
  for (const src of scripts) expect(src).toMatch(new RegExp(`^${server.base}/messages/static/`));
  // Hashed files are cached for a year.
  const js = await dee.context.request.get(scripts[0]!);
  expect(js.headers()['cache-control']).toContain('max-age=31536000');
  const login = await dee.context.request.get('/login/', { maxRedirects: 0 });
  expect(login.headers()['content-security-policy']).toContain("script-src 'self'");
  expect(violations).toEqual([]);
});
