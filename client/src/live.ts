//! The live connection: one interface (events in, connection state out, resume from the last
//! position processed) and its three transports (SPEC §6, §9):
//!
//! - `UserStreamTransport`: `GET /messages/api/ws/?after=<cursor>`, every chat's events on one
//!   socket; typing from the open chat's socket.
//! - `PollingTransport`: `GET /messages/api/events/?after=<cursor>[&chat=<open chat>]` every
//!   `poll_interval_ms`; opens no WebSocket.
//! - `ChatSocketTransport`: the open chat's socket `?since=<seq>`, plus a chat-list refresh on a
//!   timer, on becoming visible and after reconnecting (the fallback while the server has no
//!   user stream).
//!
//! Each reconnects with exponential backoff and jitter and resumes from the last cursor or seq
//! whose event it handed over, dropping anything at or before it: nothing lost, nothing twice.
//! Sockets, timers and randomness are injected, so the logic runs under fakes in unit tests.

import { ApiError } from './errors.ts';
import type { EventsPage } from './rest.ts';
import type { Id, LiveEvent } from './types.ts';

export type ConnectionStatus = 'connecting' | 'live' | 'reconnecting' | 'stopped';

export interface ConnectionState {
  status: ConnectionStatus;
  /** Failed tries since the last success. */
  attempt: number;
  /** When the next try is due (ms, `timers.now()` clock), while reconnecting. */
  retryAt: number | null;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

/** The part of `WebSocket` the transports use. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type SocketFactory = (url: string) => SocketLike;

/** The REST calls the transports need (a `Rest` has them). */
export interface LiveRest {
  events(query: { after?: string; chat?: Id }, signal?: AbortSignal): Promise<EventsPage>;
  typing(chatId: Id, isTyping: boolean): Promise<unknown>;
  socketUrl(path: string): string;
}

export interface LiveDeps {
  rest: LiveRest;
  socket?: SocketFactory;
  timers?: Timers;
  random?: () => number;
}

export interface LiveTransport {
  readonly kind: 'chat-socket' | 'user-stream' | 'polling';
  readonly state: ConnectionState;
  /** Starts; resolves once the starting position is known, so that lists loaded over REST
   * afterwards miss nothing the transport will not deliver. Throws `TransportUnavailable`
   * when the server lacks this transport's endpoint. */
  start(): Promise<void>;
  stop(): void;
  /** The chat on screen (its typing, its socket). `since`: the newest seq the caller's REST
   * load of that chat reflects; calling again for the same chat only moves it forward. */
  openChat(chatId: Id | null, since?: number): void;
  sendTyping(chatId: Id, isTyping: boolean): void;
  /** The page is shown or hidden: hidden pages refresh less. */
  setVisible(visible: boolean): void;
  /** Try now instead of waiting for the backoff (the network came back, the tab was shown). */
  nudge(): void;
  onEvent(fn: (e: LiveEvent) => void): () => void;
  onState(fn: (s: ConnectionState) => void): () => void;
}

/** The server has no endpoint for this transport (404). */
export class TransportUnavailable extends Error {}

const realTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
};

const OPEN = 1;

/**
 * Delay before retry number `attempt` (0-based): exponential from `baseMs`, capped at `capMs`,
 * with "equal jitter" (half fixed, half random) so that many clients cut off together do not
 * come back together.
 */
export function backoffDelay(attempt: number, random: () => number, baseMs = 500, capMs = 10_000): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** Polling backs off from two intervals up to this many (30 s at the default 3 s): a client
 * is at most that far behind once the server is back, and ten intervals is a tenth of the load
 * its users put on a struggling server. */
const POLL_BACKOFF_INTERVALS = 10;

/** `backoffDelay` for the pollers (the user stream's and a room's): from one to two intervals,
 * doubling per failure up to ten. */
export function pollBackoffDelay(attempt: number, random: () => number, intervalMs: number): number {
  return backoffDelay(attempt, random, intervalMs * 2, intervalMs * POLL_BACKOFF_INTERVALS);
}

/** The newest seq handed over per chat: a durable event at or before it is a duplicate. */
export class SeqDedupe {
  private last = new Map<Id, number>();

  /** True when `(chatId, seq)` was already handed over; otherwise records it. */
  seen(chatId: Id, seq: number): boolean {
    const last = this.last.get(chatId) ?? 0;
    if (seq <= last) return true;
    this.last.set(chatId, seq);
    return false;
  }

  position(chatId: Id): number {
    return this.last.get(chatId) ?? 0;
  }

  /** Moves a chat's position forward (never back). */
  advance(chatId: Id, seq: number): void {
    if (seq > this.position(chatId)) this.last.set(chatId, seq);
  }

  clear(): void {
    this.last.clear();
  }
}

abstract class Base {
  private eventFns = new Set<(e: LiveEvent) => void>();
  private stateFns = new Set<(s: ConnectionState) => void>();
  state: ConnectionState = { status: 'connecting', attempt: 0, retryAt: null };
  protected readonly timers: Timers;
  protected readonly random: () => number;
  protected readonly rest: LiveRest;
  protected readonly makeSocket: SocketFactory;

  constructor(deps: LiveDeps) {
    this.rest = deps.rest;
    this.timers = deps.timers ?? realTimers;
    this.random = deps.random ?? Math.random;
    this.makeSocket =
      deps.socket ?? ((url) => new WebSocket(url) as unknown as SocketLike);
  }

  onEvent(fn: (e: LiveEvent) => void): () => void {
    this.eventFns.add(fn);
    return () => this.eventFns.delete(fn);
  }

  onState(fn: (s: ConnectionState) => void): () => void {
    this.stateFns.add(fn);
    return () => this.stateFns.delete(fn);
  }

  protected emit(e: LiveEvent): void {
    for (const fn of this.eventFns) {
      try {
        fn(e);
      } catch (err) {
        console.error('live event handler failed', err);
      }
    }
  }

  protected setState(s: Partial<ConnectionState>): void {
    const next = { ...this.state, ...s };
    if (next.status === this.state.status && next.attempt === this.state.attempt && next.retryAt === this.state.retryAt) return;
    this.state = next;
    for (const fn of this.stateFns) fn(next);
  }
}

function parse(data: unknown): Record<string, unknown> | null {
  if (typeof data !== 'string' || data === 'pong') return null;
  try {
    const v = JSON.parse(data);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

interface SocketHandlers {
  message(msg: Record<string, unknown>): void;
  /** Every successful (re)connection; `reconnect` is false the first time. */
  open(reconnect: boolean): void;
  state(s: Partial<ConnectionState>): void;
  /** Closed with 4403 (removed, chat deleted, session revoked): no reconnecting. */
  forbidden(): void;
}

/**
 * One WebSocket kept open: reconnects with backoff and jitter, pings to find dead connections
 * (a half-open TCP connection can look open for minutes), and rebuilds its URL on every try so
 * it resumes from the newest position.
 */
export class ReconnectingSocket {
  private sock: SocketLike | null = null;
  private attempt = 0;
  private opened = false;
  private closed = false;
  private retryTimer: unknown = null;
  private pingTimer: unknown = null;
  private pongTimer: unknown = null;

  private readonly url: () => string;
  private readonly handlers: SocketHandlers;
  private readonly make: SocketFactory;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly pingMs: number;
  private readonly pongTimeoutMs: number;

  constructor(
    url: () => string,
    handlers: SocketHandlers,
    make: SocketFactory,
    timers: Timers,
    random: () => number,
    pingMs = 25_000,
    pongTimeoutMs = 10_000,
  ) {
    this.url = url;
    this.handlers = handlers;
    this.make = make;
    this.timers = timers;
    this.random = random;
    this.pingMs = pingMs;
    this.pongTimeoutMs = pongTimeoutMs;
  }

  connect(): void {
    if (this.closed) return;
    this.clearTimers();
    let sock: SocketLike;
    try {
      sock = this.make(this.url());
    } catch {
      this.retry();
      return;
    }
    this.sock = sock;
    sock.onopen = () => {
      if (this.sock !== sock) return;
      const reconnect = this.opened;
      this.opened = true;
      this.attempt = 0;
      this.handlers.state({ status: 'live', attempt: 0, retryAt: null });
      this.schedulePing();
      this.handlers.open(reconnect);
    };
    sock.onmessage = (ev) => {
      if (this.sock !== sock) return;
      this.alive();
      const msg = parse(ev.data);
      if (msg && msg.type !== 'pong') this.handlers.message(msg);
    };
    sock.onclose = (ev) => {
      if (this.sock !== sock) return;
      this.sock = null;
      this.clearTimers();
      if (this.closed) return;
      if (ev.code === 4403) {
        this.closed = true;
        this.handlers.forbidden();
        return;
      }
      this.retry();
    };
    sock.onerror = () => {};
  }

  /** Sends when open; false otherwise. */
  send(data: string): boolean {
    if (!this.sock || this.sock.readyState !== OPEN) return false;
    this.sock.send(data);
    return true;
  }

  get isOpen(): boolean {
    return !!this.sock && this.sock.readyState === OPEN;
  }

  /** Retry now if waiting for the backoff. */
  nudge(): void {
    if (this.closed || this.sock) return;
    this.connect();
  }

  close(): void {
    this.closed = true;
    this.clearTimers();
    const s = this.sock;
    this.sock = null;
    if (s) {
      s.onopen = s.onmessage = s.onclose = s.onerror = null;
      try {
        s.close(1000);
      } catch {
        /* already closed */
      }
    }
  }

  private retry(): void {
    const delay = backoffDelay(this.attempt, this.random);
    this.attempt += 1;
    this.handlers.state({ status: 'reconnecting', attempt: this.attempt, retryAt: this.timers.now() + delay });
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      this.handlers.state({ status: 'connecting' });
      this.connect();
    }, delay);
  }

  private schedulePing(): void {
    this.pingTimer = this.timers.setTimeout(() => {
      this.pingTimer = null;
      if (!this.send('ping')) return;
      this.pongTimer = this.timers.setTimeout(() => {
        // No answer: the connection is dead even if the browser has not noticed.
        this.pongTimer = null;
        const s = this.sock;
        this.sock = null;
        if (s) {
          s.onopen = s.onmessage = s.onclose = s.onerror = null;
          try {
            s.close(4000, 'no pong');
          } catch {
            /* ignore */
          }
        }
        this.retry();
      }, this.pongTimeoutMs);
    }, this.pingMs);
  }

  private alive(): void {
    if (this.pongTimer !== null) {
      this.timers.clearTimeout(this.pongTimer);
      this.pongTimer = null;
    }
    if (this.pingTimer === null && this.sock) this.schedulePing();
  }

  private clearTimers(): void {
    for (const t of [this.retryTimer, this.pingTimer, this.pongTimer]) if (t !== null) this.timers.clearTimeout(t);
    this.retryTimer = this.pingTimer = this.pongTimer = null;
  }
}

function isDurable(msg: Record<string, unknown>): boolean {
  return typeof msg.seq === 'number';
}

/** A typing frame of the chat socket, as a live event of `chatId`. */
function typingEvent(chatId: Id, msg: Record<string, unknown>): LiveEvent | null {
  if (msg.type !== 'typing' || typeof msg.user_id !== 'number') return null;
  return { type: 'typing', chat_id: chatId, user_id: msg.user_id, is_typing: msg.is_typing === true };
}

// ---------------------------------------------------------------- the chat-socket fallback

export interface ChatSocketOptions {
  /** How often the chat list is reloaded while the page is visible (other chats are not
   * heard on this transport); 0: never on a timer (a widget shows only its own chat). */
  refreshMs?: number;
}

export class ChatSocketTransport extends Base implements LiveTransport {
  readonly kind = 'chat-socket' as const;
  private chatId: Id | null = null;
  private dedupe = new SeqDedupe();
  private sock: ReconnectingSocket | null = null;
  private refreshTimer: unknown = null;
  private visible = true;
  private stopped = false;
  private readonly refreshMs: number;

  constructor(deps: LiveDeps, options: ChatSocketOptions = {}) {
    super(deps);
    this.refreshMs = options.refreshMs ?? 3000;
  }

  async start(): Promise<void> {
    this.setState({ status: 'live' });
    this.scheduleRefresh();
  }

  stop(): void {
    this.stopped = true;
    this.sock?.close();
    this.sock = null;
    if (this.refreshTimer !== null) this.timers.clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    this.setState({ status: 'stopped', retryAt: null });
  }

  openChat(chatId: Id | null, since = 0): void {
    if (this.stopped) return;
    if (chatId !== null && chatId === this.chatId && this.sock) {
      this.dedupe.advance(chatId, since);
      return;
    }
    this.sock?.close();
    this.sock = null;
    this.chatId = chatId;
    this.dedupe.clear();
    if (chatId === null) {
      this.setState({ status: 'live', attempt: 0, retryAt: null });
      return;
    }
    this.dedupe.advance(chatId, since);
    this.setState({ status: 'connecting' });
    const sock = new ReconnectingSocket(
      () => this.rest.socketUrl(`/messages/api/chats/${chatId}/ws/?since=${this.dedupe.position(chatId)}`),
      {
        message: (msg) => this.onMessage(chatId, msg),
        open: (reconnect) => {
          // Whatever happened in other chats while we were away is only in the list.
          if (reconnect) this.emit({ type: 'refresh_chats' });
        },
        state: (s) => this.setState(s),
        forbidden: () => {
          // Removed from the chat, the chat deleted, or signed out: the list knows which.
          this.sock = null;
          this.setState({ status: 'live', attempt: 0, retryAt: null });
          this.emit({ type: 'refresh_chats' });
        },
      },
      this.makeSocket,
      this.timers,
      this.random,
    );
    this.sock = sock;
    sock.connect();
  }

  private onMessage(chatId: Id, msg: Record<string, unknown>): void {
    if (chatId !== this.chatId) return;
    if (msg.type === 'resync_required') {
      this.emit({ type: 'resync_required', chat_id: chatId });
      return;
    }
    const typing = typingEvent(chatId, msg);
    if (typing) {
      this.emit(typing);
      return;
    }
    if (!isDurable(msg) && msg.type !== 'member_count') return; // errors, pongs
    if (isDurable(msg) && this.dedupe.seen(chatId, msg.seq as number)) return;
    this.emit({ ...(msg as object), chat_id: chatId } as LiveEvent);
  }

  sendTyping(chatId: Id, isTyping: boolean): void {
    if (chatId === this.chatId && this.sock?.send(JSON.stringify({ type: 'typing', is_typing: isTyping }))) return;
    this.rest.typing(chatId, isTyping).catch(() => {});
  }

  setVisible(visible: boolean): void {
    const was = this.visible;
    this.visible = visible;
    if (visible && !was) {
      this.emit({ type: 'refresh_chats' });
      this.nudge();
    }
    this.scheduleRefresh();
  }

  nudge(): void {
    this.sock?.nudge();
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer !== null) this.timers.clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    if (this.stopped || this.refreshMs <= 0) return;
    // Hidden pages refresh five times less often.
    const ms = this.visible ? this.refreshMs : this.refreshMs * 5;
    this.refreshTimer = this.timers.setTimeout(() => {
      this.refreshTimer = null;
      this.emit({ type: 'refresh_chats' });
      this.scheduleRefresh();
    }, ms);
  }
}

// ---------------------------------------------------------------- shared by stream and polling

/** Hands over the events of a stream or poll answer: dedupe by (chat_id, seq), resync. */
class CursorState {
  cursor: string | null = null;
  dedupe = new SeqDedupe();

  /** The event to hand over for `msg`, or null (a duplicate); moves the cursor. */
  take(msg: Record<string, unknown>): LiveEvent | null {
    if (msg.type === 'resync_required') {
      if (typeof msg.cursor === 'string') this.cursor = msg.cursor;
      this.dedupe.clear();
      return { type: 'resync_required' };
    }
    const cursor = typeof msg.cursor === 'string' ? msg.cursor : null;
    const chatId = typeof msg.chat_id === 'number' ? msg.chat_id : null;
    let out: LiveEvent | null = msg as unknown as LiveEvent;
    if (chatId !== null && isDurable(msg) && this.dedupe.seen(chatId, msg.seq as number)) out = null;
    if (msg.type === 'chat_added' && msg.chat && typeof msg.chat === 'object' && chatId === null) {
      out = { ...(msg as object), chat_id: (msg.chat as { id: Id }).id } as LiveEvent;
    }
    if (cursor !== null) this.cursor = cursor;
    return out;
  }
}

async function initialCursor(rest: LiveRest): Promise<string> {
  try {
    const page = await rest.events({});
    return page.cursor;
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 405)) {
      throw new TransportUnavailable('the server has no user stream (SPEC §9)');
    }
    throw e;
  }
}

// ---------------------------------------------------------------- the user stream

export class UserStreamTransport extends Base implements LiveTransport {
  readonly kind = 'user-stream' as const;
  private pos = new CursorState();
  private stream: ReconnectingSocket | null = null;
  private typingChat: Id | null = null;
  private typingSock: ReconnectingSocket | null = null;
  private stopped = false;

  async start(): Promise<void> {
    this.setState({ status: 'connecting' });
    this.pos.cursor = await initialCursor(this.rest);
    if (this.stopped) return;
    this.stream = new ReconnectingSocket(
      () => this.rest.socketUrl(`/messages/api/ws/?after=${encodeURIComponent(this.pos.cursor ?? '')}`),
      {
        message: (msg) => {
          const ev = this.pos.take(msg);
          if (ev) this.emit(ev);
        },
        open: () => {},
        state: (s) => this.setState(s),
        forbidden: () => {
          // The session ended: nothing will be delivered until the person signs in again.
          this.setState({ status: 'stopped', retryAt: null });
        },
      },
      this.makeSocket,
      this.timers,
      this.random,
    );
    this.stream.connect();
  }

  /** The cursor of the last event handed over (where a reconnect resumes). */
  get cursor(): string | null {
    return this.pos.cursor;
  }

  stop(): void {
    this.stopped = true;
    this.stream?.close();
    this.typingSock?.close();
    this.stream = this.typingSock = null;
    this.setState({ status: 'stopped', retryAt: null });
  }

  openChat(chatId: Id | null): void {
    if (chatId === this.typingChat) return;
    this.typingSock?.close();
    this.typingSock = null;
    this.typingChat = chatId;
    if (chatId === null || this.stopped) return;
    // Typing stays on chat sockets (SPEC §9); this one is only listened to for typing.
    const sock = new ReconnectingSocket(
      () => this.rest.socketUrl(`/messages/api/chats/${chatId}/ws/`),
      {
        message: (msg) => {
          const ev = typingEvent(chatId, msg);
          if (ev && chatId === this.typingChat) this.emit(ev);
        },
        open: () => {},
        state: () => {},
        forbidden: () => {
          if (this.typingSock === sock) this.typingSock = null;
        },
      },
      this.makeSocket,
      this.timers,
      this.random,
    );
    this.typingSock = sock;
    sock.connect();
  }

  sendTyping(chatId: Id, isTyping: boolean): void {
    if (chatId === this.typingChat && this.typingSock?.send(JSON.stringify({ type: 'typing', is_typing: isTyping }))) return;
    this.rest.typing(chatId, isTyping).catch(() => {});
  }

  setVisible(visible: boolean): void {
    if (visible) this.nudge();
  }

  nudge(): void {
    this.stream?.nudge();
    this.typingSock?.nudge();
  }
}

// ---------------------------------------------------------------- polling

export interface PollingOptions {
  intervalMs?: number;
  /** A poll that takes longer is abandoned and counts as a failure. */
  timeoutMs?: number;
}

export class PollingTransport extends Base implements LiveTransport {
  readonly kind = 'polling' as const;
  private pos = new CursorState();
  private chatId: Id | null = null;
  /** The open chat answered 404 (we left it, or it was deleted): poll without it until
   * another chat opens; the stream says `chat_removed`. */
  private chatGone = false;
  private timer: unknown = null;
  private inflight = false;
  private again = false;
  private attempt = 0;
  private stopped = false;
  private abort: AbortController | null = null;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;

  constructor(deps: LiveDeps, options: PollingOptions = {}) {
    super(deps);
    this.intervalMs = options.intervalMs ?? 3000;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  async start(): Promise<void> {
    this.setState({ status: 'connecting' });
    this.pos.cursor = await initialCursor(this.rest);
    if (this.stopped) return;
    this.setState({ status: 'live', attempt: 0, retryAt: null });
    this.schedule(this.intervalMs);
  }

  get cursor(): string | null {
    return this.pos.cursor;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.abort?.abort();
    this.setState({ status: 'stopped', retryAt: null });
  }

  openChat(chatId: Id | null): void {
    if (chatId === this.chatId) return;
    this.chatId = chatId;
    this.chatGone = false;
    if (chatId !== null) this.pollNow(); // its typing, at once
  }

  sendTyping(chatId: Id, isTyping: boolean): void {
    this.rest.typing(chatId, isTyping).catch(() => {});
  }

  setVisible(visible: boolean): void {
    if (visible) this.pollNow();
  }

  nudge(): void {
    this.pollNow();
  }

  private pollNow(): void {
    if (this.stopped || this.pos.cursor === null) return;
    if (this.inflight) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      void this.poll();
    }, ms);
  }

  private async poll(): Promise<void> {
    if (this.stopped || this.inflight) return;
    this.inflight = true;
    this.again = false;
    const abort = new AbortController();
    this.abort = abort;
    const timeout = this.timers.setTimeout(() => abort.abort(), this.timeoutMs);
    const chatId = this.chatGone ? null : this.chatId;
    let next = this.intervalMs;
    try {
      const page = await this.rest.events({ after: this.pos.cursor ?? undefined, chat: chatId ?? undefined }, abort.signal);
      if (this.stopped) return;
      this.attempt = 0;
      this.setState({ status: 'live', attempt: 0, retryAt: null });
      for (const raw of page.events) {
        const ev = this.pos.take(raw);
        if (ev) this.emit(ev);
      }
      if (typeof page.cursor === 'string') this.pos.cursor = page.cursor;
      if (chatId !== null && Array.isArray(page.typing)) {
        this.emit({ type: 'typing_snapshot', chat_id: chatId, user_ids: page.typing });
      }
      if (page.has_more) next = 0;
    } catch (e) {
      if (this.stopped) return;
      if (e instanceof ApiError && e.status === 404 && chatId !== null && chatId === this.chatId) {
        // Not (or no longer) a member of the open chat: the events say why; poll them now.
        this.chatGone = true;
        next = 0;
      } else if (e instanceof ApiError && e.status === 410) {
        // A cursor older than what is retained: start over from a fresh one (SPEC §9).
        try {
          this.pos.cursor = (await this.rest.events({})).cursor;
          this.pos.dedupe.clear();
          this.emit({ type: 'resync_required' });
          next = 0;
        } catch {
          next = this.fail();
        }
      } else {
        next = this.fail();
      }
    } finally {
      this.timers.clearTimeout(timeout);
      this.inflight = false;
      if (this.abort === abort) this.abort = null;
    }
    if (this.stopped) return;
    this.schedule(this.again ? 0 : next);
  }

  private fail(): number {
    const delay = pollBackoffDelay(this.attempt, this.random, this.intervalMs);
    this.attempt += 1;
    this.setState({ status: 'reconnecting', attempt: this.attempt, retryAt: this.timers.now() + delay });
    return delay;
  }
}

// ---------------------------------------------------------------- choosing

export interface ConnectOptions {
  transport: 'websocket' | 'polling';
  pollIntervalMs: number;
}

/**
 * The transport `config.transport` asks for, started: the user stream (or polling) when the
 * server has it, otherwise the chat-socket fallback.
 */
export async function connectLive(options: ConnectOptions, deps: LiveDeps): Promise<LiveTransport> {
  const preferred: LiveTransport =
    options.transport === 'polling'
      ? new PollingTransport(deps, { intervalMs: options.pollIntervalMs })
      : new UserStreamTransport(deps);
  try {
    await preferred.start();
    return preferred;
  } catch (e) {
    if (!(e instanceof TransportUnavailable)) throw e;
    preferred.stop();
  }
  const fallback = new ChatSocketTransport(deps, { refreshMs: options.pollIntervalMs });
  await fallback.start();
  return fallback;
}

/**
 * A widget's connection to the one chat it shows (SPEC §9, §11). `websocket`: that chat's own
 * socket (a widget needs no other chat's events; typing comes with it). `polling`: the user
 * stream's poll, which opens no WebSocket. As `connectLive`, the chat socket stands in while
 * the server has no user stream.
 */
export async function connectWidget(options: ConnectOptions, deps: LiveDeps): Promise<LiveTransport> {
  if (options.transport === 'polling') {
    const polling = new PollingTransport(deps, { intervalMs: options.pollIntervalMs });
    try {
      await polling.start();
      return polling;
    } catch (e) {
      if (!(e instanceof TransportUnavailable)) throw e;
      polling.stop();
    }
  }
  const socket = new ChatSocketTransport(deps, { refreshMs: 0 });
  await socket.start();
  return socket;
}

// ---------------------------------------------------------------- a room's count, for visitors

/** The part of `Rest` a room watcher needs. */
export interface WatchRest extends Pick<LiveRest, 'socketUrl'> {
  getRoom(id: Id): Promise<{ member_count: number; is_member: boolean }>;
}

export interface RoomWatchUpdate {
  count: number;
  /** Known only when polled: the visitor joined elsewhere (another tab). */
  isMember?: boolean;
}

/**
 * A room's member count for someone who has not joined it (SPEC §10): over the room's socket
 * as a watcher (it sends only `member_count`), or, with `polling`, by reading the room every
 * interval. Reconnects with backoff like the other transports; a refused socket falls back to
 * reading the room.
 */
export class RoomWatcher {
  private sock: ReconnectingSocket | null = null;
  private timer: unknown = null;
  private stopped = false;
  private failures = 0;
  private fns = new Set<(u: RoomWatchUpdate) => void>();
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly makeSocket: SocketFactory;
  private readonly rest: WatchRest;
  private readonly roomId: Id;
  private readonly options: ConnectOptions;

  constructor(rest: WatchRest, roomId: Id, options: ConnectOptions, deps: Omit<LiveDeps, 'rest'> = {}) {
    this.rest = rest;
    this.roomId = roomId;
    this.options = options;
    this.timers = deps.timers ?? realTimers;
    this.random = deps.random ?? Math.random;
    this.makeSocket = deps.socket ?? ((url) => new WebSocket(url) as unknown as SocketLike);
  }

  onUpdate(fn: (u: RoomWatchUpdate) => void): () => void {
    this.fns.add(fn);
    return () => this.fns.delete(fn);
  }

  private emit(u: RoomWatchUpdate): void {
    for (const fn of this.fns) fn(u);
  }

  start(): void {
    if (this.options.transport === 'polling') {
      this.schedule(this.options.pollIntervalMs);
      return;
    }
    const sock = new ReconnectingSocket(
      () => this.rest.socketUrl(`/messages/api/chats/${this.roomId}/ws/`),
      {
        message: (msg) => {
          if (msg.type === 'member_count' && typeof msg.count === 'number') this.emit({ count: msg.count });
        },
        // The count may have moved while the socket was away: read it once.
        open: (reconnect) => {
          if (reconnect) void this.poll(false);
        },
        state: () => {},
        forbidden: () => {
          this.sock = null;
          if (!this.stopped) this.schedule(this.options.pollIntervalMs);
        },
      },
      this.makeSocket,
      this.timers,
      this.random,
    );
    this.sock = sock;
    sock.connect();
  }

  stop(): void {
    this.stopped = true;
    this.sock?.close();
    this.sock = null;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      void this.poll(true);
    }, ms);
  }

  private async poll(again: boolean): Promise<void> {
    let next = this.options.pollIntervalMs;
    try {
      const room = await this.rest.getRoom(this.roomId);
      if (this.stopped) return;
      this.failures = 0;
      this.emit({ count: room.member_count, isMember: room.is_member });
    } catch {
      next = pollBackoffDelay(this.failures++, this.random, this.options.pollIntervalMs);
    }
    if (again) this.schedule(next);
  }
}
