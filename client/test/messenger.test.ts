// The Messenger against a fake server: start-up, optimistic sends and their retries, events
// that arrive while a list is loading, opening a chat, admin hand-over, signing out.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { ApiError } from '../src/errors.ts';
import { Messenger } from '../src/messenger.ts';
import type { Rest } from '../src/rest.ts';
import { DEFAULT_CONFIG, type Chat, type ChatPage, type Message, type MessagePage } from '../src/types.ts';
import { chat, flush, message, SocketServer, user } from './fakes.ts';

const ME = user(1, 'me');
const page = <T>(results: T[]) => ({ count: results.length, next: null, previous: null, results });

/** A fake of the REST calls the Messenger makes; each call can be delayed or failed. */
class FakeApi {
  chats: Chat[] = [chat(1, { last_message: message(3) })];
  messages: Message[] = [message(3), message(2)];
  sends: Array<{ chat: number; content: string; client_id: string }> = [];
  sendFailures: ApiError[] = [];
  listGate: Promise<void> | null = null;
  meError: ApiError | null = null;
  marks: number[] = [];
  nextId = 100;

  rest(): Rest {
    const api = this;
    const fake: Partial<Rest> = {
      me: async () => {
        if (api.meError) throw api.meError;
        return { ...ME, email: '' };
      },
      config: async () => ({ ...DEFAULT_CONFIG }),
      events: async () => {
        throw new ApiError(404, 'Not found.');
      },
      typing: async () => ({}),
      socketUrl: (path: string) => `ws://test${path}`,
      listChats: async (): Promise<ChatPage> => {
        if (api.listGate) await api.listGate;
        return page(api.chats.map((c) => structuredClone(c)));
      },
      getChat: async (id: number) => {
        const c = api.chats.find((x) => x.id === id);
        if (!c) throw new ApiError(404, 'Not found.');
        return structuredClone(c);
      },
      listMessages: async (): Promise<MessagePage> => page(structuredClone(api.messages)),
      markRead: async (chatId: number) => {
        api.marks.push(chatId);
        return { marked_count: 0, last_read_message_id: 0 };
      },
      sendMessage: async (chatId: number, content: string, client_id: string) => {
        api.sends.push({ chat: chatId, content, client_id });
        const failure = api.sendFailures.shift();
        if (failure) throw failure;
        const old = api.messages.find((m) => m.client_id === client_id);
        if (old) return old;
        const m = message(api.nextId++, { chat: chatId, content, client_id, sender: ME, read_by: [ME.id] });
        api.messages.unshift(m);
        return m;
      },
    };
    return fake as Rest;
  }
}

async function settle(ms = 0): Promise<void> {
  await flush();
  if (ms) mock.timers.tick(ms);
  await flush();
}

describe('Messenger', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  const start = async (api = new FakeApi()) => {
    const sockets = new SocketServer();
    const m = new Messenger({ rest: api.rest(), live: { socket: sockets.factory }, newClientId: (() => {
      let n = 0;
      return () => `client-${++n}`;
    })() });
    await m.init();
    return { m, api, sockets };
  };

  test('starts: the user, the settings, the fallback transport, the chat list', async () => {
    const { m } = await start();
    assert.equal(m.state.phase, 'ready');
    assert.equal(m.state.me?.id, ME.id);
    assert.equal(m.state.transport, 'chat-socket', 'no user stream on the server yet');
    assert.deepEqual(
      m.state.chats.chats.map((c) => c.id),
      [1],
    );
    m.stop();
  });

  test('an anonymous visitor is signed out (the page sends them to /login/)', async () => {
    const api = new FakeApi();
    api.meError = new ApiError(401, 'Authentication credentials were not provided.');
    const { m } = await start(api);
    assert.equal(m.state.phase, 'signed_out');
  });

  test('opening a chat loads its newest page, then opens its socket from that page’s seq', async () => {
    const { m, sockets } = await start();
    await m.openChat(1);
    await settle();
    assert.deepEqual(
      m.state.messages[1]!.messages.map((x) => x.id),
      [2, 3],
    );
    assert.equal(sockets.last.url, 'ws://test/messages/api/chats/1/ws/?since=3');
    m.stop();
  });

  test('a message from someone else in the open chat is marked read at once (they see "Read")', async () => {
    const { m, api, sockets } = await start();
    await m.openChat(1);
    sockets.last.open();
    assert.deepEqual(api.marks, [], 'nothing unread on opening: no request');
    sockets.last.receive({ type: 'new_message', seq: 4, message: message(4, { chat: 1 }) });
    await settle();
    assert.deepEqual(api.marks, [1]);
    assert.equal(m.state.chats.chats[0]!.unread_count, 0);
    // Hidden: messages count as unread until the page is shown again.
    m.setVisible(false);
    sockets.last.receive({ type: 'new_message', seq: 5, message: message(5, { chat: 1 }) });
    await settle();
    assert.equal(m.state.chats.chats[0]!.unread_count, 1);
    assert.deepEqual(api.marks, [1]);
    m.setVisible(true);
    await settle();
    assert.deepEqual(api.marks, [1, 1]);
    assert.equal(m.state.chats.chats[0]!.unread_count, 0);
    m.stop();
  });

  test('a send shows at once, becomes the stored message, and its event does not duplicate it', async () => {
    const { m, api, sockets } = await start();
    await m.openChat(1);
    assert.equal(m.send('  hello  '), true);
    assert.deepEqual(
      m.state.messages[1]!.pending.map((p) => [p.content, p.status]),
      [['hello', 'sending']],
    );
    await settle();
    const held = m.state.messages[1]!;
    assert.deepEqual(held.pending, []);
    assert.equal(held.messages.at(-1)!.content, 'hello');
    assert.equal(m.state.chats.chats[0]!.last_message?.content, 'hello', 'the list shows it too');
    sockets.last.open();
    sockets.last.receive({ type: 'new_message', seq: 100, message: held.messages.at(-1) });
    assert.equal(m.state.messages[1]!.messages.filter((x) => x.content === 'hello').length, 1);
    assert.deepEqual(api.sends, [{ chat: 1, content: 'hello', client_id: 'client-1' }]);
    assert.equal(m.send('   '), false, 'blank: nothing to send');
    m.stop();
  });

  test('a send that fails on the network is retried with the same client_id', async () => {
    const { m, api } = await start();
    await m.openChat(1);
    api.sendFailures = [new ApiError(0, 'offline'), new ApiError(503, 'unavailable')];
    m.send('again');
    await settle(500);
    await settle(1000);
    await settle();
    assert.deepEqual(
      api.sends.map((s) => s.client_id),
      ['client-1', 'client-1', 'client-1'],
    );
    assert.equal(m.state.messages[1]!.messages.filter((x) => x.content === 'again').length, 1);
    assert.deepEqual(m.state.messages[1]!.pending, []);
    m.stop();
  });

  test('a send written while an earlier one is retrying waits for it: the server stores them in the order written', async () => {
    const { m, api } = await start();
    await m.openChat(1);
    api.sendFailures = [new ApiError(0, 'offline')];
    m.send('first');
    m.send('second');
    await settle();
    assert.deepEqual(
      api.sends.map((s) => s.content),
      ['first'],
      'the second waits while the first is retrying',
    );
    await settle(500);
    await settle();
    assert.deepEqual(
      api.sends.map((s) => s.content),
      ['first', 'first', 'second'],
    );
    assert.deepEqual(
      m.state.messages[1]!.messages.slice(-2).map((x) => x.content),
      ['first', 'second'],
    );
    assert.deepEqual(m.state.messages[1]!.pending, []);
    m.stop();
  });

  test('a send that gets through while the live connection waits out its backoff reconnects it at once', async () => {
    const { m, sockets } = await start();
    await m.openChat(1);
    await settle();
    sockets.last.open();
    sockets.last.drop(1006);
    assert.equal(m.state.connection.status, 'reconnecting');
    const opened = sockets.sockets.length;
    m.send('back?');
    await settle();
    assert.equal(sockets.sockets.length, opened + 1, 'a new socket without waiting for the retry timer');
    m.stop();
  });

  test('a refused send (4xx) is marked failed with the reason, and is not retried', async () => {
    const { m, api } = await start();
    await m.openChat(1);
    api.sendFailures = [new ApiError(403, 'You do not have permission to perform this action.')];
    m.send('nope');
    await settle();
    assert.deepEqual(
      m.state.messages[1]!.pending.map((p) => p.status),
      ['failed'],
    );
    assert.match(m.state.notices[0]!.text, /permission/);
    await settle(10_000);
    assert.equal(api.sends.length, 1, 'not retried');
    assert.deepEqual(m.state.notices, [], 'the toast goes away by itself');
    m.stop();
  });

  test('an event that arrives while the list is loading is applied after the page (not lost under it)', async () => {
    const { m, api, sockets } = await start();
    await m.openChat(1);
    sockets.last.open();
    let release!: () => void;
    api.listGate = new Promise((r) => (release = r));
    const refreshing = m.refreshChats();
    // The server's list was read before this message was sent.
    sockets.last.receive({ type: 'new_message', seq: 4, message: message(4, { content: 'late', chat: 1 }) });
    release();
    await refreshing;
    assert.equal(m.state.chats.chats[0]!.last_message?.content, 'late');
    m.stop();
  });

  test('when the admin leaves, the new admin learns it from the chat refresh', async () => {
    const api = new FakeApi();
    api.chats = [chat(1, { members: [user(7), ME, user(3)], admins: [7] })];
    const { m, sockets } = await start(api);
    await m.openChat(1);
    sockets.last.open();
    api.chats = [chat(1, { members: [ME, user(3)], admins: [ME.id] })];
    sockets.last.receive({ type: 'member_removed', seq: 9, user_id: 7 });
    await settle();
    assert.deepEqual(m.state.chats.chats[0]!.admins, [ME.id]);
    m.stop();
  });

  test('being removed from the open chat closes it with a notice', async () => {
    const { m, api, sockets } = await start();
    await m.openChat(1);
    sockets.last.open();
    api.chats = [];
    sockets.last.receive({ type: 'member_removed', seq: 9, user_id: ME.id });
    await settle();
    assert.equal(m.state.openChatId, null);
    assert.deepEqual(m.state.chats.chats, []);
    assert.match(m.state.notices.at(-1)!.text, /removed/);
    m.stop();
  });
});
