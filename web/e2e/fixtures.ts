// Test fixtures: one local worker per Playwright worker process, and people — each a browser
// context of their own (own cookies), signed up over the API so tests start where they matter.

import { test as base, expect, type Browser, type BrowserContext, type Page, type WebSocket } from '@playwright/test';
import { LocalWorker, type WorkerOptions } from './server.ts';

export { expect };

export const PASSWORD = 'correct-horse-9';

export interface Person {
  context: BrowserContext;
  page: Page;
  id: number;
  username: string;
  name: string;
  /** Every WebSocket this person's pages opened (polling must open none). */
  sockets: WebSocket[];
}

let counter = 0;

/** A username unique to this run: the tests of one worker share its database. */
export function unique(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${process.pid.toString(36)}${++counter}`;
}

export interface PersonOptions {
  colorScheme?: 'light' | 'dark';
  viewport?: { width: number; height: number };
  /** Sign up but do not open /messages/ yet. */
  noOpen?: boolean;
  first?: string;
  last?: string;
}

export async function person(browser: Browser, server: LocalWorker, first: string, options: PersonOptions = {}): Promise<Person> {
  const context = await browser.newContext({
    baseURL: server.base,
    colorScheme: options.colorScheme ?? 'light',
    viewport: options.viewport ?? { width: 1100, height: 760 },
    locale: 'en-GB',
    timezoneId: 'Europe/London',
  });
  const username = unique(first.toLowerCase().replace(/[^a-z]/g, '') || 'user');
  const r = await context.request.post('/messages/api/auth/register/', {
    data: { username, password: PASSWORD, first_name: options.first ?? first, last_name: options.last ?? '' },
  });
  expect(r.status(), await r.text()).toBe(201);
  const body = await r.json();
  const sockets: WebSocket[] = [];
  context.on('page', (p) => watch(p, sockets));
  const page = await context.newPage();
  if (!options.noOpen) await openMessages(page);
  return { context, page, id: body.user.id, username, name: body.user.display_name, sockets };
}

/** A visitor who is not signed in. */
export async function anonymous(browser: Browser, server: LocalWorker): Promise<{ context: BrowserContext; page: Page; sockets: WebSocket[] }> {
  const context = await browser.newContext({ baseURL: server.base, viewport: { width: 1100, height: 760 }, locale: 'en-GB', timezoneId: 'Europe/London' });
  const sockets: WebSocket[] = [];
  context.on('page', (p) => watch(p, sockets));
  const page = await context.newPage();
  return { context, page, sockets };
}

function watch(page: Page, sockets: WebSocket[]): void {
  // Any dialog (alert, confirm) would mean script ran where it must not: fail loudly.
  page.on('dialog', (d) => {
    throw new Error(`unexpected ${d.type()} dialog: ${d.message()}`);
  });
  page.on('websocket', (ws) => sockets.push(ws));
}

/** Signs in through the login form (the page must show it). */
export async function signInWithForm(page: Page, username: string): Promise<void> {
  await page.locator('input[name=username]').fill(username);
  await page.locator('input[name=password]').fill(PASSWORD);
  await page.locator('button[type=submit]').click();
}

export async function openMessages(page: Page, query = ''): Promise<void> {
  await page.goto(`/messages/${query}`);
  await expect(page.locator('#new-chat-btn')).toBeVisible();
  await expect(page.locator('#chat-list')).toBeAttached();
}

/** A group over the API, `owner` its admin. */
export async function group(owner: Person, title: string, members: Person[]): Promise<number> {
  const r = await owner.context.request.post('/messages/api/chats/', {
    data: { chat_type: 'group', title, member_ids: members.map((m) => m.id) },
  });
  expect(r.status(), await r.text()).toBe(201);
  return (await r.json()).id;
}

export async function sendApi(who: Person, chatId: number, content: string): Promise<number> {
  const r = await who.context.request.post(`/messages/api/chats/${chatId}/messages/`, { data: { content } });
  expect(r.status(), await r.text()).toBe(201);
  return (await r.json()).id;
}

export function chatItem(p: Person, chatId: number) {
  return p.page.locator(`#chat-list .chat-item[data-chat-id="${chatId}"]`);
}

/** Opens a chat from the sidebar and waits for its messages. */
export async function openChat(p: Person, chatId: number): Promise<void> {
  await chatItem(p, chatId).click();
  await expect(p.page.locator('#message-list')).toBeVisible();
  await expect(p.page.locator('#message-list .pane-loading')).toHaveCount(0);
}

/** Types into the composer and presses Enter. */
export async function send(p: Person, text: string): Promise<void> {
  const input = p.page.locator('#message-input');
  await input.fill(text);
  await input.press('Enter');
}

/** The message items (stored ones) whose content is exactly `text`. */
export function messageByText(p: Person, text: string) {
  return p.page.locator('#message-list [data-message-id]').filter({
    has: p.page.locator('.message-content', { hasText: new RegExp(`^${escapeRe(text)}$`) }),
  });
}

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A test whose worker (one per test process) runs with `options` (settings as vars). */
export function testWith(name: string, options: WorkerOptions = {}) {
  return base.extend<{}, { server: LocalWorker }>({
    server: [
      // eslint-disable-next-line no-empty-pattern
      async ({}, use) => {
        const server = new LocalWorker(name, options);
        await server.start();
        await use(server);
        await server.stop();
      },
      { scope: 'worker', timeout: 180_000 },
    ],
    baseURL: async ({ server }, use) => {
      await use(server.base);
    },
  });
}

/** The default settings (TRANSPORT=websocket). */
export const test = testWith('e2e');

/** POLL_INTERVAL_MS of the polling worker: short, so the tests stay quick. */
export const POLL_MS = 1000;

/** TRANSPORT=polling: the pages and widgets must open no WebSocket. */
export const pollingTest = testWith('e2e-polling', { vars: { TRANSPORT: 'polling', POLL_INTERVAL_MS: String(POLL_MS) } });

/** Both transports: `for (const [transport, t] of TRANSPORTS) t.describe(transport, …)`. */
export const TRANSPORTS = [
  ['websocket', test],
  ['polling', pollingTest],
] as const;

/** With polling, nobody opened a WebSocket. */
export function expectNoSockets(transport: string, ...people: Array<{ sockets: WebSocket[] }>): void {
  if (transport !== 'polling') return;
  for (const p of people) expect(p.sockets.map((s) => s.url()), 'polling opens no WebSocket').toEqual([]);
}
