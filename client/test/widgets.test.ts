// The widgets' stores against a fake server: the DM widget finds a DM without creating it and
// creates it on the first send; it is hidden for yourself and when DMs are off; closing ends
// its connection. The room widget never joins (or creates) by viewing, joins (creating the
// room if nobody has), follows the count as a visitor over a watcher socket or by polling,
// and goes back to watching after leaving. Plus the member counts in the pure state and the
// `single` scope of the Messenger.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { ApiError } from '../src/errors.ts';
import { connectWidget, RoomWatcher } from '../src/live.ts';
import type { Rest } from '../src/rest.ts';
import { applyChatListEvent, emptyChatList, upsertChat } from '../src/state.ts';
import { DEFAULT_CONFIG, type Chat, type Message, type Room, type UiConfig } from '../src/types.ts';
import { DmWidget, RoomWidget, type WidgetContext } from '../src/widgets.ts';
import { chat, flush, message, SocketServer, user } from './fakes.ts';

const ME = { ...user(1, 'me'), email: '' };
const BOB = user(2, 'bob');
const page = <T>(results: T[]) => ({ count: results.length, next: null, previous: null, results });

async function settle(ms = 0): Promise<void> {
  await flush();
  if (ms) mock.timers.tick(ms);
  await flush();
}

function room(id: number, over: Partial<Room> = {}): Room {
  return { ...chat(id, { chat_type: 'room', title: 'Launch', members: [BOB], admins: [2] }), key: 'video:1', member_count: 1, is_member: false, ...over } as Room;
}

/** The calls the widgets make, recorded; rooms and DMs held in memory. */
class FakeApi {
  calls: string[] = [];
  dm: Chat | null = null;
  rooms = new Map<string, Room>();
  messages: Message[] = [];
  nextId = 50;
  eventsMissing = true;

  rest(): Rest {
    const api = this;
    const call = (name: string) => api.calls.push(name);
    const fake: Partial<Rest> = {
      user: async (id: number) => {
        call(`user ${id}`);
        if (id !== BOB.id) throw new ApiError(404, 'Not found.');
        return BOB;
      },
      findDm: async () => {
        call('findDm');
        return api.dm ? structuredClone(api.dm) : null;
      },
      createChat: async (body) => {
        call(`createChat ${body.chat_type}`);
        api.dm ??= chat(api.nextId++, { chat_type: 'dm', title: 'bob', members: [ME, BOB], admins: [] });
        return structuredClone(api.dm);
      },
      getChat: async (id: number) => {
        call(`getChat ${id}`);
        const r = [...api.rooms.values()].find((x) => x.id === id && x.is_member);
        if (r) return structuredClone(r);
        if (api.dm?.id === id) return structuredClone(api.dm);
        throw new ApiError(404, 'Not found.');
      },
      listMessages: async (id: number) => {
        call(`listMessages ${id}`);
        return page(api.messages.filter((m) => m.chat === id));
      },
      sendMessage: async (chatId: number, content: string, client_id: string) => {
        call(`send ${chatId} ${content}`);
        const m = message(api.nextId++, { chat: chatId, content, client_id, sender: ME, read_by: [ME.id] });
        api.messages.unshift(m);
        return m;
      },
      markRead: async () => ({ marked_count: 0, last_read_message_id: 0 }),
      typing: async () => ({}),
      events: async () => {
        call('events');
        if (api.eventsMissing) throw new ApiError(404, 'Not found.');
        return { events: [], cursor: 'c1', has_more: false };
      },
      socketUrl: (path: string) => `ws://test${path}`,
      roomByKey: async (key: string) => {
        call(`roomByKey ${key}`);
        const r = api.rooms.get(key);
        if (!r) throw new ApiError(404, 'Not found.');
        return structuredClone(r);
      },
      getRoom: async (id: number) => {
        call(`getRoom ${id}`);
        const r = [...api.rooms.values()].find((x) => x.id === id);
        if (!r) throw new ApiError(404, 'Not found.');
        return structuredClone(r);
      },
      createRoom: async (body) => {
        call(`createRoom ${body.key}`);
        const existing = api.rooms.get(body.key!);
        if (existing) return { room: structuredClone(existing), created: false };
        const r = room(api.nextId++, { key: body.key!, title: body.title, member_count: 1, is_member: true, members: [ME], admins: [ME.id] });
        api.rooms.set(body.key!, r);
        return { room: structuredClone(r), created: true };
      },
      joinRoom: async (id: number) => {
        call(`joinRoom ${id}`);
        const r = [...api.rooms.values()].find((x) => x.id === id)!;
        if (!r.is_member) Object.assign(r, { is_member: true, member_count: r.member_count + 1, members: [...r.members, ME] });
        return structuredClone(r);
      },
      leaveRoom: async (id: number) => {
        call(`leaveRoom ${id}`);
        const r = [...api.rooms.values()].find((x) => x.id === id)!;
        Object.assign(r, { is_member: false, member_count: r.member_count - 1, members: r.members.filter((u) => u.id !== ME.id) });
      },
    };
    return fake as Rest;
  }
}

function context(api: FakeApi, sockets: SocketServer, config: Partial<UiConfig> = {}): WidgetContext {
  return { rest: api.rest(), me: ME, config: { ...DEFAULT_CONFIG, ...config }, live: { socket: sockets.factory } };
}

describe('DmWidget', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  test('is hidden on your own page, when DMs are off, and for nobody; anonymous visitors are asked to sign in', async () => {
    const api = new FakeApi();
    const sockets = new SocketServer();
    const self = new DmWidget(context(api, sockets), ME.id);
    await self.start();
    assert.equal(self.state.phase, 'hidden');
    const off = new DmWidget(context(api, sockets, { enable_dms: false }), BOB.id);
    await off.start();
    assert.equal(off.state.phase, 'hidden');
    const nobody = new DmWidget(context(api, sockets), 999);
    await nobody.start();
    assert.equal(nobody.state.phase, 'hidden');
    const anon = new DmWidget({ ...context(api, sockets), me: null }, BOB.id);
    await anon.start();
    assert.equal(anon.state.phase, 'signed_out');
    assert.ok(!api.calls.some((c) => c.startsWith('createChat')), 'nothing was created');
  });

  test('opening finds no DM and creates none; the first send creates it, then sends', async () => {
    const api = new FakeApi();
    const sockets = new SocketServer();
    const w = new DmWidget(context(api, sockets), BOB.id);
    await w.start();
    assert.equal(w.state.phase, 'ready');
    assert.equal(w.state.other?.username, 'bob');
    assert.equal(w.state.chat, null as Chat | null);
    await w.open();
    await settle();
    assert.equal(sockets.sockets.length, 0, 'no chat: no socket yet');
    assert.ok(!api.calls.some((c) => c.startsWith('createChat')));

    assert.equal(await w.send('hello'), true);
    await settle();
    const id = api.dm!.id;
    assert.deepEqual(
      api.calls.filter((c) => c.startsWith('createChat') || c.startsWith('send')),
      ['createChat dm', `send ${id} hello`],
    );
    assert.equal(w.state.chat?.id, id);
    assert.equal(sockets.last.url, `ws://test/messages/api/chats/${id}/ws/?since=0`, 'its own chat socket');
    const held = w.state.messenger!.state.messages[id]!;
    assert.deepEqual(
      held.messages.map((m) => m.content),
      ['hello'],
    );

    // A second send does not create again.
    await w.send('again');
    await settle();
    assert.equal(api.calls.filter((c) => c.startsWith('createChat')).length, 1);
    w.close();
  });

  test('an existing DM is found on start (its unread count on the button), and closing closes its socket', async () => {
    const api = new FakeApi();
    api.dm = chat(7, { chat_type: 'dm', members: [ME, BOB], unread_count: 2 });
    api.messages = [message(3, { chat: 7, content: 'old news' })];
    const sockets = new SocketServer();
    const w = new DmWidget(context(api, sockets), BOB.id);
    await w.start();
    assert.equal(w.state.unread, 2);
    await w.open();
    await settle();
    assert.equal(w.state.unread, 0);
    assert.equal(w.state.messenger!.state.openChatId, 7);
    assert.deepEqual(
      w.state.messenger!.state.messages[7]!.messages.map((m) => m.content),
      ['old news'],
    );
    const sock = sockets.last;
    assert.equal(sock.url, 'ws://test/messages/api/chats/7/ws/?since=3');
    sock.open();
    w.close();
    assert.equal(sock.closedWith, 1000, 'closing the window closed its connection');
    assert.equal(w.state.messenger, null);
    assert.equal(w.state.open, false);
  });

  test('with polling it opens no socket, and a DM the other person starts is picked up from chat_added', async () => {
    const api = new FakeApi();
    api.eventsMissing = false;
    const sockets = new SocketServer();
    const w = new DmWidget(context(api, sockets, { transport: 'polling', poll_interval_ms: 1000 }), BOB.id);
    await w.start();
    await w.open();
    await settle();
    assert.equal(w.state.messenger!.state.transport, 'polling');
    // Bob writes first: the stream says chat_added.
    api.dm = chat(9, { chat_type: 'dm', members: [ME, BOB] });
    const m = w.state.messenger!;
    (m as unknown as { onLive(e: unknown): void }).onLive({ type: 'chat_added', chat: api.dm });
    await settle();
    await settle();
    assert.equal(m.state.openChatId, 9);
    // A chat that is not the DM with Bob is not taken in, and other chats' events (the poll
    // brings every chat's) are ignored: no reloads.
    const before = api.calls.length;
    (m as unknown as { onLive(e: unknown): void }).onLive({ type: 'chat_added', chat: chat(10) });
    (m as unknown as { onLive(e: unknown): void }).onLive({ type: 'new_message', chat_id: 77, seq: 4, message: message(4, { chat: 77 }) });
    (m as unknown as { onLive(e: unknown): void }).onLive({ type: 'members_added', chat_id: 78, seq: 4, user_ids: [1] });
    await settle();
    assert.ok(!m.state.chats.chats.some((c) => c.id === 10));
    assert.deepEqual(api.calls.slice(before), []);
    assert.equal(sockets.sockets.length, 0, 'polling opens no WebSocket');
    w.close();
  });
});

describe('RoomWidget', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  test('viewing a room nobody made creates nothing; joining makes it (its maker is a member) and opens the conversation', async () => {
    const api = new FakeApi();
    const sockets = new SocketServer();
    const w = new RoomWidget(context(api, sockets), 'video:1', 'Launch video');
    await w.start();
    assert.equal(w.state.phase, 'ready');
    assert.equal(w.state.room, null as Room | null);
    assert.equal(w.state.count, 0);
    assert.equal(w.state.isMember, false);
    assert.ok(!api.calls.some((c) => c.startsWith('createRoom') || c.startsWith('joinRoom')));

    // Somebody else makes it meanwhile: the next look finds it, and the visitor watches it.
    api.rooms.set('video:1', room(30, { member_count: 1 }));
    await settle(DEFAULT_CONFIG.poll_interval_ms);
    assert.equal(w.state.room?.id, 30);
    assert.equal(w.state.count, 1);
    assert.equal(sockets.last.url, 'ws://test/messages/api/chats/30/ws/', 'a watcher socket');
    sockets.last.open();
    sockets.last.receive({ type: 'member_count', count: 4 });
    assert.equal(w.state.count, 4);

    assert.equal(await w.join(), true);
    await settle();
    assert.ok(api.calls.includes('joinRoom 30'));
    assert.ok(!api.calls.includes('createRoom video:1'), 'it existed');
    assert.equal(w.state.isMember, true);
    assert.equal(sockets.sockets[0]!.closedWith, 1000, 'the watcher socket closed');
    assert.equal(sockets.last.url, 'ws://test/messages/api/chats/30/ws/?since=0', 'the member socket');
    assert.equal(w.state.messenger?.state.openChatId, 30);
    // Members hear the count too.
    sockets.last.open();
    sockets.last.receive({ type: 'member_count', count: 6 });
    assert.equal(w.state.count, 6);
    sockets.last.receive({ type: 'members_added', seq: 1, user_ids: [44], member_count: 7 });
    await settle();
    assert.equal(w.state.count, 7);
    w.stop();
  });

  test('the first to join makes the room; leaving goes back to watching with the lower count', async () => {
    const api = new FakeApi();
    const sockets = new SocketServer();
    const w = new RoomWidget(context(api, sockets), 'page:9', 'Page nine');
    await w.start();
    assert.equal(await w.join(), true);
    await settle();
    assert.ok(api.calls.includes('createRoom page:9'));
    assert.ok(!api.calls.some((c) => c.startsWith('joinRoom')), 'its maker is already a member');
    assert.equal(w.state.count, 1);
    assert.equal(w.state.room?.title, 'Page nine');

    assert.equal(await w.leave(), true);
    await settle();
    assert.equal(w.state.isMember, false);
    assert.equal(w.state.count, 0);
    assert.equal(w.state.messenger, null);
    assert.equal(sockets.last.url, `ws://test/messages/api/chats/${w.state.room!.id}/ws/`, 'watching again');
    w.stop();
  });

  test('with polling a visitor reads the room every interval, and no WebSocket opens', async () => {
    const api = new FakeApi();
    api.rooms.set('k', room(31, { key: 'k', member_count: 2 }));
    const sockets = new SocketServer();
    const w = new RoomWidget(context(api, sockets, { transport: 'polling', poll_interval_ms: 1000 }), 'k', 'K');
    await w.start();
    assert.equal(w.state.count, 2);
    api.rooms.get('k')!.member_count = 3;
    await settle(1000);
    assert.equal(w.state.count, 3);
    // Joined in another tab: this one becomes a member too.
    Object.assign(api.rooms.get('k')!, { is_member: true, member_count: 4, members: [BOB, ME] });
    api.eventsMissing = false;
    await settle(1000);
    await settle();
    assert.equal(w.state.isMember, true);
    assert.equal(w.state.count, 4);
    assert.equal(sockets.sockets.length, 0);
    w.stop();
  });

  test('is hidden when rooms are off, and asks anonymous visitors to sign in', async () => {
    const api = new FakeApi();
    const sockets = new SocketServer();
    const off = new RoomWidget(context(api, sockets, { enable_chat_rooms: false }), 'k', 'K');
    await off.start();
    assert.equal(off.state.phase, 'hidden');
    const anon = new RoomWidget({ ...context(api, sockets), me: null }, 'k', 'K');
    await anon.start();
    assert.equal(anon.state.phase, 'signed_out');
    assert.deepEqual(api.calls, []);
  });
});

describe('RoomWatcher and connectWidget', () => {
  test('a refused watcher socket (4403) falls back to reading the room', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const sockets = new SocketServer();
      let reads = 0;
      const w = new RoomWatcher(
        { socketUrl: (p) => `ws://test${p}`, getRoom: async () => ({ member_count: ++reads, is_member: false }) },
        5,
        { transport: 'websocket', pollIntervalMs: 1000 },
        { socket: sockets.factory },
      );
      const counts: number[] = [];
      w.onUpdate((u) => counts.push(u.count));
      w.start();
      sockets.last.open();
      sockets.last.receive({ type: 'member_count', count: 10 });
      sockets.last.drop(4403);
      await settle(1000);
      assert.deepEqual(counts, [10, 1]);
      w.stop();
    } finally {
      mock.timers.reset();
    }
  });

  test('widgets connect to their chat socket with no list refresh timer, or poll', async () => {
    const sockets = new SocketServer();
    const rest = { events: async () => ({ events: [], cursor: 'c', has_more: false }), typing: async () => ({}), socketUrl: (p: string) => `ws://test${p}` };
    const ws = await connectWidget({ transport: 'websocket', pollIntervalMs: 1000 }, { rest, socket: sockets.factory });
    assert.equal(ws.kind, 'chat-socket');
    ws.stop();
    const polling = await connectWidget({ transport: 'polling', pollIntervalMs: 1000 }, { rest, socket: sockets.factory });
    assert.equal(polling.kind, 'polling');
    polling.stop();
    assert.equal(sockets.sockets.length, 0);
  });
});

describe('room counts in the chat list', () => {
  const ctx = { me: 1, readingChatId: null };
  const roomChat = chat(4, { chat_type: 'room', member_count: 10, admins: [9], members: [user(1), user(9)] });

  test('joins and leaves carry the count: no reload of the room per member', () => {
    const list = upsertChat(emptyChatList(), roomChat);
    let r = applyChatListEvent(list, { type: 'members_added', chat_id: 4, seq: 2, user_ids: [5], member_count: 11 }, ctx);
    assert.equal(r.state.chats[0]!.member_count, 11);
    assert.deepEqual(r.needs.chats, []);
    r = applyChatListEvent(r.state, { type: 'member_removed', chat_id: 4, seq: 3, user_id: 5, member_count: 10 }, ctx);
    assert.equal(r.state.chats[0]!.member_count, 10);
    assert.deepEqual(r.needs.chats, []);
    r = applyChatListEvent(r.state, { type: 'member_count', chat_id: 4, count: 12 }, ctx);
    assert.equal(r.state.chats[0]!.member_count, 12);
  });

  test('the admin leaving a room reloads it (the hand-over), and a group still reloads on joins', () => {
    const list = upsertChat(upsertChat(emptyChatList(), roomChat), chat(5));
    const r = applyChatListEvent(list, { type: 'member_removed', chat_id: 4, seq: 3, user_id: 9, member_count: 9 }, ctx);
    assert.deepEqual(r.needs.chats, [4]);
    const g = applyChatListEvent(list, { type: 'members_added', chat_id: 5, seq: 3, user_ids: [7] }, ctx);
    assert.deepEqual(g.needs.chats, [5]);
  });
});
