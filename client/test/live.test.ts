// The live transports against fakes: resume positions, dedupe by (chat_id, seq), resync,
// backoff with jitter, the 4403 rule, and the choice between transports.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiError } from '../src/errors.ts';
import {
  backoffDelay,
  ChatSocketTransport,
  connectLive,
  PollingTransport,
  SeqDedupe,
  TransportUnavailable,
  UserStreamTransport,
  type LiveRest,
} from '../src/live.ts';
import type { EventsPage } from '../src/rest.ts';
import type { LiveEvent } from '../src/types.ts';
import { FakeTimers, flush, message, SocketServer } from './fakes.ts';

/** A fake server for the REST calls the transports make. */
class FakeRest implements LiveRest {
  typingCalls: Array<[number, boolean]> = [];
  eventCalls: Array<{ after?: string; chat?: number }> = [];
  answers: Array<EventsPage | ApiError> = [];
  /** Answer to polls when `answers` is empty. */
  idle: EventsPage = { events: [], cursor: 'c0', has_more: false };

  async events(query: { after?: string; chat?: number }): Promise<EventsPage> {
    this.eventCalls.push(query);
    // No events: the cursor stays where it was.
    const next = this.answers.shift() ?? { ...this.idle, cursor: query.after ?? this.idle.cursor };
    if (next instanceof ApiError) throw next;
    return next;
  }

  async typing(chatId: number, isTyping: boolean): Promise<unknown> {
    this.typingCalls.push([chatId, isTyping]);
    return {};
  }

  socketUrl(path: string): string {
    return `ws://test${path}`;
  }
}

function collect(t: { onEvent(fn: (e: LiveEvent) => void): unknown }): LiveEvent[] {
  const got: LiveEvent[] = [];
  t.onEvent((e) => got.push(e));
  return got;
}

const ev = (chat_id: number, seq: number, cursor: string, id = seq) => ({
  type: 'new_message',
  chat_id,
  seq,
  cursor,
  message: message(id, { chat: chat_id }),
});

describe('backoff', () => {
  test('grows exponentially to a cap, with half of each delay random', () => {
    const low = (a: number) => backoffDelay(a, () => 0);
    const high = (a: number) => backoffDelay(a, () => 1);
    assert.deepEqual([0, 1, 2, 3].map(low), [250, 500, 1000, 2000]);
    assert.deepEqual([0, 1, 2, 3].map(high), [500, 1000, 2000, 4000]);
    assert.equal(high(30), 10_000, 'capped');
    assert.equal(low(30), 5_000, 'capped, still jittered');
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(4, Math.random)));
    assert.ok(spread.size > 10, 'clients cut off together come back apart');
  });
});

describe('SeqDedupe', () => {
  test('drops what was already handed over, per chat', () => {
    const d = new SeqDedupe();
    assert.equal(d.seen(1, 5), false);
    assert.equal(d.seen(1, 5), true);
    assert.equal(d.seen(1, 4), true);
    assert.equal(d.seen(2, 1), false, 'another chat has its own seqs');
    assert.equal(d.seen(1, 6), false);
    d.advance(1, 3);
    assert.equal(d.position(1), 6, 'never moves back');
  });
});

describe('ChatSocketTransport (the fallback of today)', () => {
  const setup = () => {
    const timers = new FakeTimers();
    const server = new SocketServer();
    const rest = new FakeRest();
    const t = new ChatSocketTransport({ rest, socket: server.factory, timers, random: () => 0.5 }, { refreshMs: 3000 });
    return { timers, server, rest, t, got: collect(t) };
  };

  test('opens the chat socket from the seq the REST load reflects, and resumes from the last one handed over', async () => {
    const { timers, server, t, got } = setup();
    await t.start();
    t.openChat(7, 12);
    assert.equal(server.last.url, 'ws://test/messages/api/chats/7/ws/?since=12');
    server.last.open();
    server.last.receive({ type: 'new_message', seq: 13, message: message(40, { chat: 7 }) });
    server.last.receive({ type: 'reaction_updated', seq: 14, message_id: 40, reactions: [] });
    server.last.receive({ type: 'new_message', seq: 13, message: message(40, { chat: 7 }) });
    assert.deepEqual(
      got.filter((e) => e.type !== 'refresh_chats').map((e) => [e.type, 'seq' in e ? e.seq : null, 'chat_id' in e ? e.chat_id : null]),
      [
        ['new_message', 13, 7],
        ['reaction_updated', 14, 7],
      ],
      'the duplicate seq 13 is dropped',
    );
    server.last.drop(1006);
    assert.equal(t.state.status, 'reconnecting');
    await timers.advance(10_000);
    assert.equal(server.sockets.length, 2);
    assert.equal(server.last.url, 'ws://test/messages/api/chats/7/ws/?since=14', 'resumes after the last event handed over');
    server.last.open();
    assert.equal(t.state.status, 'live');
    assert.ok(got.some((e) => e.type === 'refresh_chats'), 'a reconnect refreshes the list (other chats were not heard)');
  });

  test('retries with growing delays until the server is back', async () => {
    const { timers, server, t } = setup();
    await t.start();
    t.openChat(1, 0);
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      server.last.drop(1006);
      delays.push(t.state.retryAt! - timers.now());
      await timers.advance(t.state.retryAt! - timers.now());
    }
    assert.deepEqual(delays, [375, 750, 1500, 3000]);
    server.last.open();
    server.last.drop(1006);
    assert.equal(t.state.retryAt! - timers.now(), 375, 'a success resets the backoff');
  });

  test('4403 (removed, deleted, signed out) is final for that chat: no reconnect, the list is refreshed', async () => {
    const { timers, server, t, got } = setup();
    await t.start();
    t.openChat(3, 0);
    server.last.open();
    server.last.drop(4403);
    await timers.advance(60_000);
    assert.equal(server.sockets.length, 1, 'no new socket');
    assert.ok(got.some((e) => e.type === 'refresh_chats'));
  });

  test('resync_required and typing frames are handed over with the chat id; errors and pongs are not', async () => {
    const { server, t, got } = setup();
    await t.start();
    t.openChat(3, 0);
    server.last.open();
    server.last.receive({ type: 'resync_required' });
    server.last.receive({ type: 'typing', user_id: 2, is_typing: true });
    server.last.receive({ type: 'error', detail: 'nope' });
    server.last.receive('pong');
    assert.deepEqual(got, [
      { type: 'resync_required', chat_id: 3 },
      { type: 'typing', chat_id: 3, user_id: 2, is_typing: true },
    ]);
  });

  test('typing goes over the socket when it is open, else over REST', async () => {
    const { server, rest, t } = setup();
    await t.start();
    t.openChat(3, 0);
    t.sendTyping(3, true);
    assert.deepEqual(rest.typingCalls, [[3, true]], 'not open yet');
    server.last.open();
    t.sendTyping(3, false);
    assert.deepEqual(server.last.sent, [JSON.stringify({ type: 'typing', is_typing: false })]);
  });

  test('the chat list is refreshed on a timer, less often while hidden, and at once when shown', async () => {
    const { timers, t, got } = setup();
    await t.start();
    await timers.advance(9000);
    assert.equal(got.filter((e) => e.type === 'refresh_chats').length, 3);
    t.setVisible(false);
    await timers.advance(9000);
    assert.equal(got.filter((e) => e.type === 'refresh_chats').length, 3, 'hidden: every 15 s');
    t.setVisible(true);
    assert.equal(got.filter((e) => e.type === 'refresh_chats').length, 4, 'shown: at once');
  });

  test('a connection that stops answering pings is replaced', async () => {
    const { timers, server, t } = setup();
    await t.start();
    t.openChat(3, 5);
    server.last.open();
    await timers.advance(25_000);
    assert.deepEqual(server.last.sent, ['ping']);
    await timers.advance(10_000);
    assert.equal(t.state.status, 'reconnecting', 'no pong within 10 s');
    await timers.advance(1000);
    assert.equal(server.sockets.length, 2);
    assert.equal(server.last.url, 'ws://test/messages/api/chats/3/ws/?since=5');
  });

  test('switching chats closes the old socket; its late frames are ignored', async () => {
    const { server, t, got } = setup();
    await t.start();
    t.openChat(1, 0);
    const first = server.last;
    first.open();
    t.openChat(2, 0);
    assert.equal(first.closedWith, 1000);
    first.receive({ type: 'new_message', seq: 1, message: message(1) });
    assert.equal(got.filter((e) => e.type === 'new_message').length, 0);
  });
});

describe('UserStreamTransport (SPEC §9)', () => {
  const setup = () => {
    const timers = new FakeTimers();
    const server = new SocketServer();
    const rest = new FakeRest();
    const t = new UserStreamTransport({ rest, socket: server.factory, timers, random: () => 0 });
    return { timers, server, rest, t, got: collect(t) };
  };

  test('takes the current cursor first, then streams after it and resumes after the last cursor handed over', async () => {
    const { timers, server, rest, t, got } = setup();
    rest.idle = { events: [], cursor: 'start', has_more: false };
    await t.start();
    assert.deepEqual(rest.eventCalls, [{}], 'no after: the current cursor');
    assert.equal(server.last.url, 'ws://test/messages/api/ws/?after=start');
    server.last.open();
    server.last.receive(ev(1, 1, 'k1'));
    server.last.receive(ev(2, 1, 'k2'));
    server.last.receive({ type: 'chat_added', chat: { id: 5 }, cursor: 'k3' });
    server.last.drop();
    await timers.advance(1000);
    assert.equal(server.last.url, 'ws://test/messages/api/ws/?after=k3');
    server.last.open();
    // The server replays k2 again (at-least-once): dropped by (chat_id, seq).
    server.last.receive(ev(2, 1, 'k2'));
    server.last.receive(ev(2, 2, 'k4'));
    assert.deepEqual(
      got.map((e) => [e.type, 'chat_id' in e ? e.chat_id : null]),
      [
        ['new_message', 1],
        ['new_message', 2],
        ['chat_added', 5],
        ['new_message', 2],
      ],
    );
    assert.equal(t.cursor, 'k4');
  });

  test('a stale cursor: resync_required with a fresh cursor to continue from', async () => {
    const { timers, server, t, got } = setup();
    await t.start();
    server.last.open();
    server.last.receive(ev(1, 9, 'k9'));
    server.last.receive({ type: 'resync_required', cursor: 'fresh' });
    assert.deepEqual(got.at(-1), { type: 'resync_required' });
    // After a resync the chat's seqs are not held against new events.
    server.last.receive(ev(1, 3, 'f1'));
    assert.equal(got.length, 3);
    server.last.drop();
    await timers.advance(1000);
    assert.equal(server.last.url, 'ws://test/messages/api/ws/?after=f1');
  });

  test('typing comes from the open chat socket (only typing is taken from it)', async () => {
    const { server, rest, t, got } = setup();
    await t.start();
    server.last.open();
    t.openChat(4);
    const chatSock = server.last;
    assert.equal(chatSock.url, 'ws://test/messages/api/chats/4/ws/');
    chatSock.open();
    chatSock.receive({ type: 'typing', user_id: 2, is_typing: true });
    chatSock.receive({ type: 'new_message', seq: 3, message: message(3) });
    assert.deepEqual(got, [{ type: 'typing', chat_id: 4, user_id: 2, is_typing: true }]);
    t.sendTyping(4, true);
    assert.deepEqual(chatSock.sent, [JSON.stringify({ type: 'typing', is_typing: true })]);
    t.sendTyping(9, true);
    assert.deepEqual(rest.typingCalls, [[9, true]]);
  });

  test('without the endpoint (404) it is unavailable, and connectLive falls back to the chat socket', async () => {
    const timers = new FakeTimers();
    const server = new SocketServer();
    const rest = new FakeRest();
    rest.answers = [new ApiError(404, 'Not found.')];
    await assert.rejects(new UserStreamTransport({ rest, socket: server.factory, timers }).start(), TransportUnavailable);
    rest.answers = [new ApiError(404, 'Not found.')];
    const chosen = await connectLive({ transport: 'websocket', pollIntervalMs: 3000 }, { rest, socket: server.factory, timers });
    assert.equal(chosen.kind, 'chat-socket');
    assert.equal(server.sockets.length, 0, 'no socket until a chat is opened');
    rest.answers = [];
    const stream = await connectLive({ transport: 'websocket', pollIntervalMs: 3000 }, { rest, socket: server.factory, timers });
    assert.equal(stream.kind, 'user-stream');
    stream.stop();
    chosen.stop();
  });
});

describe('PollingTransport (SPEC §9)', () => {
  const setup = () => {
    const timers = new FakeTimers();
    const server = new SocketServer();
    const rest = new FakeRest();
    const t = new PollingTransport({ rest, socket: server.factory, timers, random: () => 0 }, { intervalMs: 3000 });
    return { timers, server, rest, t, got: collect(t) };
  };

  test('polls after the cursor every interval, at once when has_more, and never opens a socket', async () => {
    const { timers, server, rest, t, got } = setup();
    rest.answers = [
      { events: [], cursor: 'c0', has_more: false },
      { events: [ev(1, 1, 'c1'), ev(1, 2, 'c2')], cursor: 'c2', has_more: true },
      { events: [ev(1, 3, 'c3')], cursor: 'c3', has_more: false },
    ];
    await t.start();
    await timers.advance(2999);
    assert.equal(rest.eventCalls.length, 1, 'not before the interval');
    await timers.advance(1);
    assert.equal(rest.eventCalls.length, 3, 'has_more: the next poll at once');
    assert.deepEqual(
      rest.eventCalls.map((c) => c.after),
      [undefined, 'c0', 'c2'],
    );
    assert.deepEqual(
      got.map((e) => ('seq' in e ? e.seq : null)),
      [1, 2, 3],
    );
    t.openChat(8);
    await timers.advance(0);
    assert.deepEqual(rest.eventCalls.at(-1), { after: 'c3', chat: 8 }, 'opening a chat polls at once, naming it');
    assert.equal(server.sockets.length, 0);
    t.stop();
  });

  test('the open chat’s typing set arrives as a snapshot; typing is sent over REST', async () => {
    const { timers, rest, t, got } = setup();
    await t.start();
    t.openChat(8);
    rest.answers = [{ events: [], cursor: 'c1', has_more: false, typing: [2, 3] }];
    await timers.advance(0);
    assert.deepEqual(got, [{ type: 'typing_snapshot', chat_id: 8, user_ids: [2, 3] }]);
    t.sendTyping(8, true);
    assert.deepEqual(rest.typingCalls, [[8, true]]);
    t.stop();
  });

  test('errors back off (with jitter, from the interval up) and the cursor is kept; success resets', async () => {
    const { timers, rest, t, got } = setup();
    await t.start();
    rest.answers = [new ApiError(0, 'offline'), new ApiError(502, 'bad gateway'), new ApiError(0, 'offline')];
    await timers.advance(3000);
    const first = t.state.retryAt! - timers.now();
    await timers.advance(first);
    const second = t.state.retryAt! - timers.now();
    await timers.advance(second);
    const third = t.state.retryAt! - timers.now();
    assert.equal(t.state.status, 'reconnecting');
    assert.ok(first >= 3000 && second > first && third > second, `${first} < ${second} < ${third}`);
    rest.answers = [{ events: [ev(1, 1, 'c9')], cursor: 'c9', has_more: false }];
    await timers.advance(third);
    assert.equal(t.state.status, 'live');
    assert.equal(got.length, 1);
    assert.ok(rest.eventCalls.slice(1).every((c) => c.after === 'c0'), 'every retry resumed from the same cursor');
    t.stop();
  });

  test('the backoff stops growing at ten intervals (30 s here), so a client is back soon after the server', async () => {
    const { timers, rest, t } = setup();
    await t.start();
    rest.answers = Array.from({ length: 8 }, () => new ApiError(0, 'offline'));
    await timers.advance(3000);
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      delays.push(t.state.retryAt! - timers.now());
      await timers.advance(delays.at(-1)!);
    }
    // random() is 0 here, so each delay is the fixed half of 2, 4, 8, then 10 intervals (not 16).
    assert.deepEqual(delays, [3000, 6000, 12_000, 15_000, 15_000, 15_000, 15_000]);
    t.stop();
  });

  test('a stale cursor (410) takes a fresh one and asks for a resync', async () => {
    const { timers, rest, t, got } = setup();
    await t.start();
    rest.answers = [new ApiError(410, 'Gone'), { events: [], cursor: 'fresh', has_more: false }];
    await timers.advance(3000);
    assert.deepEqual(got, [{ type: 'resync_required' }]);
    assert.equal(t.cursor, 'fresh');
    await timers.advance(0);
    assert.equal(rest.eventCalls.at(-1)!.after, 'fresh');
    t.stop();
  });

  test('the open chat answering 404 (left, removed, deleted): polled again at once without it, so its chat_removed arrives', async () => {
    const { timers, rest, t, got } = setup();
    await t.start();
    t.openChat(5);
    rest.answers = [new ApiError(404, 'Not found.'), { events: [{ type: 'chat_removed', chat_id: 5, cursor: 'c9' }], cursor: 'c9', has_more: false }];
    await timers.advance(0);
    await timers.advance(0);
    assert.deepEqual(
      rest.eventCalls.slice(-2).map((q) => q.chat),
      [5, undefined],
    );
    assert.deepEqual(got, [{ type: 'chat_removed', chat_id: 5, cursor: 'c9' }]);
    assert.equal(t.state.status, 'live', 'not a failure');
    // Opening a chat again asks for its typing again.
    t.openChat(6);
    await timers.advance(0);
    assert.equal(rest.eventCalls.at(-1)!.chat, 6);
    t.stop();
  });

  test('a resync_required event in an answer moves to its cursor', async () => {
    const { timers, rest, t, got } = setup();
    await t.start();
    rest.answers = [{ events: [{ type: 'resync_required', cursor: 'r1' }], cursor: 'r1', has_more: false }];
    await timers.advance(3000);
    assert.deepEqual(got, [{ type: 'resync_required' }]);
    assert.equal(t.cursor, 'r1');
    t.stop();
  });

  test('connectLive picks polling when asked, and the chat socket when the server has no polling', async () => {
    const timers = new FakeTimers();
    const rest = new FakeRest();
    const server = new SocketServer();
    const p = await connectLive({ transport: 'polling', pollIntervalMs: 3000 }, { rest, socket: server.factory, timers });
    assert.equal(p.kind, 'polling');
    p.stop();
    rest.answers = [new ApiError(404, 'Not found.')];
    const f = await connectLive({ transport: 'polling', pollIntervalMs: 3000 }, { rest, socket: server.factory, timers });
    assert.equal(f.kind, 'chat-socket');
    f.stop();
    await flush();
  });
});
