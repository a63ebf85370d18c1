//! The messenger: the state a messages page (or a widget) shows, kept up to date by one live
//! event stream (REST fills gaps and pages), and the actions a person takes. It knows nothing
//! of the DOM: a page subscribes, renders `state`, and calls the actions.
//!
//! Two scopes: `list` (the messages page) keeps the chat list and hears every chat; `single`
//! (the widgets) holds only the chats it opened or was given, and ignores the rest.

import { ApiError } from './errors.ts';
import type { Rest } from './rest.ts';
import { connectLive, type ConnectionState, type LiveDeps, type LiveTransport } from './live.ts';
import {
  addPending,
  applyChatListEvent,
  applyMessageEvent,
  applyOwnMessage,
  applyOwnReactions,
  applyTyping,
  dropPending,
  emptyChatList,
  emptyMessages,
  markChatRead,
  mergeChatPage,
  mergeMessagePage,
  removeChat,
  setPendingStatus,
  upsertChat,
  type ChatListState,
  type MessageState,
  type Needs,
  type TypingState,
} from './state.ts';
import { DEFAULT_CONFIG, type Chat, type Id, type LiveEvent, type Message, type Room, type RoomPage, type UiConfig, type UserWithEmail } from './types.ts';

export interface Notice {
  id: number;
  kind: 'error' | 'info';
  text: string;
}

export interface MessengerState {
  phase: 'loading' | 'ready' | 'signed_out' | 'failed';
  /** Why `failed`. */
  error: string | null;
  me: UserWithEmail | null;
  config: UiConfig;
  connection: ConnectionState;
  transport: LiveTransport['kind'] | null;
  /** Rooms are enabled (`ENABLE_CHAT_ROOMS`, SPEC §10): offer the rooms dialog. */
  roomsAvailable: boolean;
  chats: ChatListState;
  chatsLoading: boolean;
  openChatId: Id | null;
  /** Per chat visited: its messages. */
  messages: Record<Id, MessageState>;
  loadingOlder: Record<Id, boolean>;
  typing: TypingState;
  notices: Notice[];
  visible: boolean;
  /** The clock typing indicators are judged by; moves when one expires. */
  now: number;
}

export interface MessengerDeps {
  rest: Rest;
  /** Socket factory, timers and randomness for the live transports (tests pass fakes). */
  live?: Omit<LiveDeps, 'rest'>;
  now?: () => number;
  newClientId?: () => string;
  /**
   * `list` (default, the messages page): the chat list, and every chat's events. `single`
   * (widgets): no chat list; only the chats opened or `hold`-en; other chats' events are
   * ignored, and what would reload the list reloads the held chats instead.
   */
  scope?: 'list' | 'single';
  /** Starts the live transport (default: `connectLive`, as `config.transport` says). */
  connect?: (config: UiConfig, deps: LiveDeps) => Promise<LiveTransport>;
  /** `single` scope: the chats a `chat_added` event may bring in (the DM widget's DM). */
  accept?: (chat: Chat) => boolean;
}

/** What a page already knows when it starts a messenger (widgets share one lookup). */
export interface Preset {
  me: UserWithEmail;
  config: UiConfig;
}

type Listener = (s: MessengerState) => void;

/** Closing the open chat because it left the list, without knowing whether it was deleted or
 * we were removed (the user stream's `chat_removed` does not say). */
const GONE_NOTICE = 'This chat was deleted, or you were removed from it.';

/** How a failed send is retried: network errors, 5xx and 429 only (a 4xx would fail again),
 * for about two minutes, and at once when the live connection comes back. */
const SEND_RETRIES = 18;
const TYPING_REFRESH_MS = 3000;
const TYPING_IDLE_MS = 4000;

export class Messenger {
  state: MessengerState;
  private listeners = new Set<Listener>();
  private readonly rest: Rest;
  private readonly deps: MessengerDeps;
  private live: LiveTransport | null = null;
  private notifyQueued = false;
  private noticeSeq = 0;
  /** Events that arrived while the chat list was being (re)loaded: re-applied after. */
  private listQueue: LiveEvent[] | null = null;
  private listAgain = false;
  private chatQueues = new Map<Id, LiveEvent[]>();
  private detailInFlight = new Set<Id>();
  private markReadInFlight = new Set<Id>();
  /** Per chat, the newest message id our read pointer was moved to (or was at on opening). */
  private marked = new Map<Id, Id>();
  private typingSentAt = 0;
  private typingChat: Id | null = null;
  private typingIdle: ReturnType<typeof setTimeout> | null = null;
  private typingClock: ReturnType<typeof setTimeout> | null = null;
  private readonly now: () => number;
  /** Sends waiting to retry: woken when the connection is live again. */
  private wakers = new Set<() => void>();
  /** Per chat, its last send: a chat's sends go to the server one after another, so one
   * written after a send that is retrying is stored after it, not before. */
  private sendQueues = new Map<Id, Promise<void>>();
  private eventFns = new Set<(e: LiveEvent) => void>();
  private readonly single: boolean;

  constructor(deps: MessengerDeps) {
    this.deps = deps;
    this.rest = deps.rest;
    this.now = deps.now ?? (() => Date.now());
    this.single = deps.scope === 'single';
    this.state = {
      phase: 'loading',
      error: null,
      me: null,
      config: DEFAULT_CONFIG,
      connection: { status: 'connecting', attempt: 0, retryAt: null },
      transport: null,
      roomsAvailable: false,
      chats: emptyChatList(),
      chatsLoading: false,
      openChatId: null,
      messages: {},
      loadingOlder: {},
      typing: {},
      notices: [],
      visible: true,
      now: this.now(),
    };
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Every live event this messenger takes in, after it was applied (rooms read
   * `member_count` here). */
  onEvent(fn: (e: LiveEvent) => void): () => void {
    this.eventFns.add(fn);
    return () => this.eventFns.delete(fn);
  }

  private set(patch: Partial<MessengerState>): void {
    this.state = { ...this.state, ...patch };
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    queueMicrotask(() => {
      this.notifyQueued = false;
      for (const fn of this.listeners) fn(this.state);
    });
  }

  private get meId(): Id {
    return this.state.me?.id ?? 0;
  }

  // ------------------------------------------------------------ start

  /** Signs in from the session, reads the settings, connects, loads the chat list, and opens
   * `openChatId` (a link to a chat) if given. `preset`: the user and settings, already read. */
  async init(openChatId: Id | null = null, preset: Preset | null = null): Promise<void> {
    try {
      const [me, config] = preset ? [preset.me, preset.config] : await Promise.all([this.rest.me(), this.rest.config()]);
      this.set({ me, config, roomsAvailable: config.enable_chat_rooms });
      const deps: LiveDeps = { rest: this.rest, ...this.deps.live };
      const live = this.deps.connect
        ? await this.deps.connect(config, deps)
        : await connectLive({ transport: config.transport, pollIntervalMs: config.poll_interval_ms }, deps);
      if (this.stopped) {
        live.stop();
        return;
      }
      this.live = live;
      live.onEvent((e) => this.onLive(e));
      live.onState((connection) => this.onConnection(connection));
      this.set({ transport: live.kind, connection: live.state });
      live.setVisible(this.state.visible);
      if (this.single) this.set({ chats: { ...this.state.chats, loaded: true } });
      else await this.refreshChats();
      // Opening starts before the page sees `ready`, so it never shows the chat-less state.
      const opening = openChatId !== null ? this.openChat(openChatId) : null;
      this.set({ phase: 'ready' });
      await opening;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        this.set({ phase: 'signed_out' });
        return;
      }
      this.set({ phase: 'failed', error: e instanceof Error ? e.message : String(e) });
    }
  }

  private stopped = false;

  /** Ends the live connection (a widget closed); the messenger is not used again. */
  stop(): void {
    this.stopped = true;
    this.live?.stop();
    this.live = null;
    this.stopTyping();
    if (this.typingClock !== null) clearTimeout(this.typingClock);
    this.typingClock = null;
    for (const wake of this.wakers) wake();
    this.wakers.clear();
  }

  /** Holds a chat the caller found elsewhere (a widget's lookup), without loading anything. */
  hold(chat: Chat): void {
    this.set({ chats: upsertChat(this.state.chats, chat) });
  }

  private holds(id: Id): boolean {
    return this.state.chats.chats.some((c) => c.id === id) || this.state.messages[id] !== undefined;
  }

  private onConnection(connection: ConnectionState): void {
    const back = connection.status === 'live' && this.state.connection.status !== 'live';
    this.set({ connection });
    if (back) {
      for (const wake of this.wakers) wake();
      this.wakers.clear();
    }
  }

  /** Waits `ms`, or less if the connection comes back first. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  // ------------------------------------------------------------ live events

  private onLive(ev: LiveEvent): void {
    if (this.single) {
      if (ev.type === 'chat_added') {
        if (!ev.chat || !this.deps.accept?.(ev.chat)) return;
      } else if ('chat_id' in ev && ev.chat_id !== undefined && !this.holds(ev.chat_id)) {
        return;
      }
    }
    const me = this.meId;
    this.listQueue?.push(ev);
    if ('chat_id' in ev && ev.chat_id !== undefined) this.chatQueues.get(ev.chat_id)?.push(ev);

    const { state: chats, needs } = applyChatListEvent(this.state.chats, ev, { me, readingChatId: this.readingChatId() });
    const patch: Partial<MessengerState> = { chats };

    if ('chat_id' in ev && ev.chat_id !== undefined && this.state.messages[ev.chat_id]) {
      const before = this.state.messages[ev.chat_id]!;
      const after = applyMessageEvent(before, ev, me);
      if (after !== before) patch.messages = { ...this.state.messages, [ev.chat_id]: after };
    }
    const typing = applyTyping(this.state.typing, ev, me, this.now(), this.state.config.typing_timeout_seconds * 1000);
    if (typing !== this.state.typing) {
      patch.typing = typing;
      patch.now = this.now();
      this.scheduleTypingClock(typing);
    }
    this.set(patch);

    const open = this.state.openChatId;
    switch (ev.type) {
      case 'new_message':
        if (ev.chat_id === open && this.state.visible && ev.message && ev.message.sender?.id !== me) this.markRead(ev.chat_id);
        break;
      case 'chat_deleted':
      case 'chat_removed':
        // The user stream says only `chat_removed`, for a deletion as for a removal.
        if (ev.chat_id === open) this.closeChat(ev.type === 'chat_deleted' ? 'This chat was deleted.' : GONE_NOTICE);
        break;
      case 'member_removed':
        if (ev.user_id === me && ev.chat_id === open) this.closeChat('You were removed from this chat.');
        break;
      case 'resync_required':
        if (ev.chat_id !== undefined) void this.loadMessages(ev.chat_id, true);
        else {
          // Every chat may have missed events: drop what is cached (reloaded when opened)
          // and reload the open chat now. The list reloads through `needs`.
          const messages: Record<Id, MessageState> = {};
          if (open !== null && this.state.messages[open]) messages[open] = this.state.messages[open]!;
          this.set({ messages });
          if (open !== null) void this.loadMessages(open, true);
        }
        break;
    }
    this.handleNeeds(needs);
    for (const fn of this.eventFns) fn(ev);
  }

  private readingChatId(): Id | null {
    return this.state.visible ? this.state.openChatId : null;
  }

  private handleNeeds(needs: Needs): void {
    if (needs.list) void this.refreshChats();
    for (const id of needs.chats) void this.refreshChat(id);
  }

  private closeChat(why: string): void {
    this.live?.openChat(null);
    this.set({ openChatId: null });
    this.notify('info', why);
  }

  // ------------------------------------------------------------ the chat list

  /** Reloads the first page of the chat list (coalesced: one at a time, one more after). In
   * `single` scope: reloads the details of the chats held. */
  async refreshChats(): Promise<void> {
    if (this.single) {
      await Promise.all(this.state.chats.chats.map((c) => this.refreshChat(c.id)));
      return;
    }
    if (this.listQueue) {
      this.listAgain = true;
      return;
    }
    this.listQueue = [];
    this.set({ chatsLoading: !this.state.chats.loaded });
    try {
      const search = this.state.chats.search;
      const page = await this.rest.listChats({ page: 1, search });
      if (search === this.state.chats.search) {
        let chats = mergeChatPage(this.state.chats, page, 1);
        for (const ev of this.listQueue) chats = applyChatListEvent(chats, ev, { me: this.meId, readingChatId: this.readingChatId() }).state;
        this.set({ chats });
      }
    } catch (e) {
      if (!this.state.chats.loaded) throw e;
      this.handleError(e, null);
    } finally {
      this.listQueue = null;
      this.set({ chatsLoading: false });
    }
    if (this.listAgain) {
      this.listAgain = false;
      await this.refreshChats();
    }
  }

  async loadMoreChats(): Promise<void> {
    const list = this.state.chats;
    if (!list.hasMore || this.state.chatsLoading) return;
    this.set({ chatsLoading: true });
    try {
      const page = await this.rest.listChats({ page: list.pages + 1, search: list.search });
      if (list.search === this.state.chats.search) this.set({ chats: mergeChatPage(this.state.chats, page, list.pages + 1) });
    } catch (e) {
      this.handleError(e, "Couldn't load more chats.");
    } finally {
      this.set({ chatsLoading: false });
    }
  }

  /** Filters the chat list by title or member names (server side). */
  async setSearch(search: string): Promise<void> {
    if (search === this.state.chats.search) return;
    this.set({ chats: emptyChatList(search) });
    await this.refreshChats().catch((e) => this.handleError(e, "Couldn't search chats."));
  }

  /** Reloads one chat's details (members, admins, title, unread count). */
  private async refreshChat(id: Id): Promise<void> {
    if (this.detailInFlight.has(id)) return;
    this.detailInFlight.add(id);
    try {
      const chat = await this.rest.getChat(id);
      this.set({ chats: upsertChat(this.state.chats, chat) });
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 403)) {
        this.set({ chats: removeChat(this.state.chats, id) });
        if (this.state.openChatId === id) this.closeChat(GONE_NOTICE);
      }
    } finally {
      this.detailInFlight.delete(id);
    }
  }

  chat(id: Id | null): Chat | null {
    if (id === null) return null;
    return this.state.chats.chats.find((c) => c.id === id) ?? null;
  }

  // ------------------------------------------------------------ one chat

  async openChat(id: Id | null): Promise<void> {
    if (id === this.state.openChatId) return;
    this.stopTyping();
    this.set({ openChatId: id });
    if (id === null) {
      this.live?.openChat(null);
      return;
    }
    if (!this.chat(id)) await this.refreshChat(id);
    if (this.state.openChatId !== id) return;
    const held = this.state.messages[id];
    if (!held?.loaded) await this.loadMessages(id, false);
    else this.live?.openChat(id, held.lastSeq);
    if (this.state.openChatId !== id) return;
    // Nothing unread on opening: the pointer is already at the newest message.
    if ((this.chat(id)?.unread_count ?? 0) === 0) this.marked.set(id, Math.max(this.marked.get(id) ?? 0, this.newestId(id)));
    if (this.state.visible) this.markRead(id);
  }

  /** Loads the newest page of a chat's messages; `reload` replaces what is held. */
  private async loadMessages(id: Id, reload: boolean): Promise<void> {
    if (this.chatQueues.has(id)) return;
    const queue: LiveEvent[] = [];
    this.chatQueues.set(id, queue);
    const base = reload || !this.state.messages[id] ? emptyMessages(id) : this.state.messages[id]!;
    if (!this.state.messages[id]) this.set({ messages: { ...this.state.messages, [id]: base } });
    try {
      const page = await this.rest.listMessages(id);
      let ms = mergeMessagePage(reload ? emptyMessages(id) : (this.state.messages[id] ?? base), page, this.meId, { older: false });
      if (reload) ms = { ...ms, pending: this.state.messages[id]?.pending ?? [] };
      for (const ev of queue) ms = applyMessageEvent(ms, ev, this.meId);
      this.set({ messages: { ...this.state.messages, [id]: ms } });
      if (this.state.openChatId === id) this.live?.openChat(id, ms.lastSeq);
    } catch (e) {
      this.handleError(e, "Couldn't load messages.");
    } finally {
      this.chatQueues.delete(id);
    }
  }

  /** Loads the page before the oldest message held (scrolling up). */
  async loadOlder(id: Id): Promise<void> {
    const held = this.state.messages[id];
    if (!held?.loaded || !held.hasOlder || this.state.loadingOlder[id]) return;
    const oldest = held.messages[0];
    if (!oldest) return;
    this.set({ loadingOlder: { ...this.state.loadingOlder, [id]: true } });
    try {
      const page = await this.rest.listMessages(id, { before: oldest.id });
      const ms = mergeMessagePage(this.state.messages[id] ?? held, page, this.meId, { older: true });
      this.set({ messages: { ...this.state.messages, [id]: ms } });
    } catch (e) {
      this.handleError(e, "Couldn't load older messages.");
    } finally {
      this.set({ loadingOlder: { ...this.state.loadingOlder, [id]: false } });
    }
  }

  /** The newest message id of a chat that we know of. */
  private newestId(id: Id): Id {
    const held = this.state.messages[id]?.messages;
    return Math.max(this.chat(id)?.last_message?.id ?? 0, held?.[held.length - 1]?.id ?? 0);
  }

  /** Moves our read pointer to the newest message (one request at a time per chat), so the
   * others see it read and our unread count stays 0. */
  private markRead(id: Id): void {
    const newest = this.newestId(id);
    const unread = this.chat(id)?.unread_count ?? 0;
    if (this.markReadInFlight.has(id) || (unread === 0 && newest <= (this.marked.get(id) ?? 0))) return;
    this.markReadInFlight.add(id);
    this.marked.set(id, newest);
    this.set({ chats: markChatRead(this.state.chats, id) });
    this.rest
      .markRead(id)
      .catch(() => this.marked.delete(id))
      .finally(() => {
        this.markReadInFlight.delete(id);
        if (this.state.openChatId === id && this.state.visible && this.newestId(id) > (this.marked.get(id) ?? 0)) this.markRead(id);
      });
  }

  setVisible(visible: boolean): void {
    if (visible === this.state.visible) return;
    this.set({ visible });
    this.live?.setVisible(visible);
    const open = this.state.openChatId;
    if (visible && open !== null) this.markRead(open);
  }

  /** Try to reconnect now (the browser says the network is back). */
  reconnectNow(): void {
    this.live?.nudge();
  }

  // ------------------------------------------------------------ messages

  private patchMessages(id: Id, f: (m: MessageState) => MessageState): void {
    const held = this.state.messages[id] ?? emptyMessages(id);
    this.set({ messages: { ...this.state.messages, [id]: f(held) } });
  }

  /** Sends `text` to the open chat: shown at once, retried on network errors with the same
   * `client_id` (so a retry never duplicates). False when there is nothing to send. */
  send(text: string): boolean {
    const id = this.state.openChatId;
    const content = text.trim();
    if (id === null || content === '') return false;
    const max = this.state.config.max_message_length;
    if ([...content].length > max) {
      this.notify('error', `Messages can be at most ${max} characters.`);
      return false;
    }
    this.stopTyping();
    const clientId = this.deps.newClientId?.() ?? newClientId();
    this.patchMessages(id, (m) =>
      addPending(m, { client_id: clientId, content, created_at: new Date(this.now()).toISOString(), status: 'sending' }),
    );
    this.enqueue(id, clientId, content);
    return true;
  }

  /** Delivers after the chat's earlier sends have been stored or have failed. */
  private enqueue(chatId: Id, clientId: string, content: string): void {
    const before = this.sendQueues.get(chatId) ?? Promise.resolve();
    const mine = before.catch(() => undefined).then(() => this.deliver(chatId, clientId, content));
    this.sendQueues.set(chatId, mine);
    void mine.finally(() => {
      if (this.sendQueues.get(chatId) === mine) this.sendQueues.delete(chatId);
    });
  }

  private async deliver(chatId: Id, clientId: string, content: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const m = await this.rest.sendMessage(chatId, content, clientId);
        this.ownMessage(m);
        // The server answered, so it is back: the live connection need not wait out its backoff.
        if (this.state.connection.status === 'reconnecting') this.live?.nudge();
        return;
      } catch (e) {
        const transient = e instanceof ApiError && (e.status === 0 || e.status >= 500 || e.status === 429);
        if (!transient || attempt >= SEND_RETRIES) {
          const why = e instanceof ApiError ? e.detail : 'Not sent.';
          this.patchMessages(chatId, (m) => setPendingStatus(m, clientId, 'failed', why));
          if (!transient) this.notify('error', why);
          return;
        }
        const retryAfter = e instanceof ApiError && e.retryAfter ? e.retryAfter * 1000 : 0;
        await this.pause(Math.max(retryAfter, Math.min(8000, 500 * 2 ** attempt)));
        if (!this.state.messages[chatId]?.pending.some((p) => p.client_id === clientId)) return; // settled live
      }
    }
  }

  retrySend(clientId: string): void {
    const id = this.state.openChatId;
    const p = id === null ? undefined : this.state.messages[id]?.pending.find((x) => x.client_id === clientId);
    if (id === null || !p) return;
    this.patchMessages(id, (m) => setPendingStatus(m, clientId, 'sending'));
    this.enqueue(id, clientId, p.content);
  }

  discardSend(clientId: string): void {
    const id = this.state.openChatId;
    if (id !== null) this.patchMessages(id, (m) => dropPending(m, clientId));
  }

  /** Our own write came back: show it now, before (or without) its event. */
  private ownMessage(m: Message): void {
    this.patchMessages(m.chat, (s) => applyOwnMessage(s, m, this.meId));
    const { state: chats } = applyChatListEvent(
      this.state.chats,
      { type: 'new_message', chat_id: m.chat, seq: m.seq, message: m },
      { me: this.meId, readingChatId: this.readingChatId() },
    );
    this.set({ chats });
  }

  async edit(message: Message, text: string): Promise<boolean> {
    const content = text.trim();
    if (content === '' || content === message.content) return content !== '';
    try {
      const m = await this.rest.editMessage(message.id, content);
      this.patchMessages(m.chat, (s) => applyOwnMessage(s, m, this.meId));
      const { state: chats } = applyChatListEvent(
        this.state.chats,
        { type: 'message_updated', chat_id: m.chat, seq: 0, message: m },
        { me: this.meId, readingChatId: null },
      );
      this.set({ chats });
      return true;
    } catch (e) {
      this.handleError(e, "Couldn't edit the message.");
      return false;
    }
  }

  async deleteMessage(message: Message): Promise<void> {
    try {
      await this.rest.deleteMessage(message.id);
      const ev: LiveEvent = { type: 'message_deleted', chat_id: message.chat, seq: 0, message_id: message.id };
      this.patchMessages(message.chat, (s) => applyMessageEvent(s, ev, this.meId));
      const { state: chats, needs } = applyChatListEvent(this.state.chats, ev, { me: this.meId, readingChatId: null });
      this.set({ chats });
      this.handleNeeds(needs);
    } catch (e) {
      this.handleError(e, "Couldn't delete the message.");
    }
  }

  /** Adds our reaction, or removes it when we already reacted with this emoji. */
  async toggleReaction(message: Message, emoji: string): Promise<void> {
    try {
      const r = await this.rest.toggleReaction(message.id, emoji);
      this.patchMessages(message.chat, (s) => applyOwnReactions(s, message.id, r.reactions));
    } catch (e) {
      this.handleError(e, "Couldn't react.");
    }
  }

  // ------------------------------------------------------------ typing

  /** Call on every keystroke in the message input. */
  typingInput(): void {
    const id = this.state.openChatId;
    if (id === null) return;
    const now = this.now();
    if (this.typingChat !== id || now - this.typingSentAt > TYPING_REFRESH_MS) {
      this.typingChat = id;
      this.typingSentAt = now;
      this.live?.sendTyping(id, true);
    }
    if (this.typingIdle !== null) clearTimeout(this.typingIdle);
    this.typingIdle = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping(): void {
    if (this.typingIdle !== null) clearTimeout(this.typingIdle);
    this.typingIdle = null;
    if (this.typingChat !== null) this.live?.sendTyping(this.typingChat, false);
    this.typingChat = null;
    this.typingSentAt = 0;
  }

  private scheduleTypingClock(typing: TypingState): void {
    if (this.typingClock !== null) clearTimeout(this.typingClock);
    this.typingClock = null;
    const now = this.now();
    const next = Object.values(typing)
      .flatMap((c) => Object.values(c))
      .filter((t) => t > now)
      .sort((a, b) => a - b)[0];
    if (next === undefined) return;
    this.typingClock = setTimeout(() => {
      this.set({ now: this.now() });
      this.scheduleTypingClock(this.state.typing);
    }, next - now + 20);
  }

  // ------------------------------------------------------------ chats and members

  /** A new chat: a group of only us, titled "New chat" (the page then opens its members). */
  async createGroup(title = 'New chat'): Promise<Chat | null> {
    try {
      const chat = await this.rest.createChat({ chat_type: 'group', title, member_ids: [] });
      this.set({ chats: upsertChat(this.state.chats, chat) });
      await this.openChat(chat.id);
      return chat;
    } catch (e) {
      this.handleError(e, "Couldn't create the chat.");
      return null;
    }
  }

  /** Opens (creating on first use) the DM with `userId`. */
  async openDm(userId: Id): Promise<Chat | null> {
    try {
      const chat = await this.rest.createChat({ chat_type: 'dm', member_ids: [userId] });
      this.set({ chats: upsertChat(this.state.chats, chat) });
      await this.openChat(chat.id);
      return chat;
    } catch (e) {
      this.handleError(e, "Couldn't open the conversation.");
      return null;
    }
  }

  async rename(id: Id, title: string): Promise<boolean> {
    const t = title.trim();
    if (t === '') return false;
    try {
      const chat = await this.rest.renameChat(id, t);
      const held = this.chat(id);
      this.set({ chats: upsertChat(this.state.chats, held ? { ...held, title: chat.title } : chat) });
      return true;
    } catch (e) {
      this.handleError(e, "Couldn't rename the chat.");
      return false;
    }
  }

  async deleteChat(id: Id): Promise<void> {
    try {
      await this.rest.deleteChat(id);
      this.forget(id);
    } catch (e) {
      this.handleError(e, "Couldn't delete the chat.");
    }
  }

  async leaveChat(id: Id): Promise<void> {
    try {
      if (this.chat(id)?.chat_type === 'room') await this.rest.leaveRoom(id);
      else await this.rest.removeMember(id, this.meId);
      this.forget(id);
    } catch (e) {
      this.handleError(e, "Couldn't leave the chat.");
    }
  }

  private forget(id: Id): void {
    if (this.state.openChatId === id) {
      this.live?.openChat(null);
      this.set({ openChatId: null });
    }
    const messages = { ...this.state.messages };
    delete messages[id];
    this.set({ chats: removeChat(this.state.chats, id), messages });
  }

  // ------------------------------------------------------------ rooms (SPEC §10)

  /** A page of the public rooms, member or not (the rooms dialog). Null when it failed. */
  async listRooms(search: string, page = 1): Promise<RoomPage | null> {
    try {
      return await this.rest.listRooms({ search, page });
    } catch (e) {
      this.handleError(e, "Couldn't load rooms.");
      return null;
    }
  }

  /** Joins a room and opens it. */
  async joinRoom(id: Id): Promise<Room | null> {
    try {
      const room = await this.rest.joinRoom(id);
      this.set({ chats: upsertChat(this.state.chats, room) });
      await this.openChat(room.id);
      return room;
    } catch (e) {
      this.handleError(e, "Couldn't join the room.");
      return null;
    }
  }

  async searchUsers(q: string): Promise<UserWithEmail[]> {
    try {
      return await this.rest.searchUsers(q);
    } catch (e) {
      this.handleError(e, "Couldn't search people.");
      return [];
    }
  }

  async addMember(chatId: Id, userId: Id): Promise<boolean> {
    try {
      await this.rest.addMembers(chatId, [userId]);
      await this.refreshChat(chatId);
      return true;
    } catch (e) {
      this.handleError(e, "Couldn't add the member.");
      return false;
    }
  }

  async removeMember(chatId: Id, userId: Id): Promise<boolean> {
    try {
      await this.rest.removeMember(chatId, userId);
      await this.refreshChat(chatId);
      return true;
    } catch (e) {
      this.handleError(e, "Couldn't remove the member.");
      return false;
    }
  }

  // ------------------------------------------------------------ notices

  notify(kind: Notice['kind'], text: string): void {
    const id = ++this.noticeSeq;
    this.set({ notices: [...this.state.notices.slice(-3), { id, kind, text }] });
    setTimeout(() => this.dismiss(id), kind === 'error' ? 8000 : 5000);
  }

  dismiss(id: number): void {
    if (!this.state.notices.some((n) => n.id === id)) return;
    this.set({ notices: this.state.notices.filter((n) => n.id !== id) });
  }

  private handleError(e: unknown, what: string | null): void {
    if (e instanceof ApiError && e.status === 401) {
      this.stop();
      this.set({ phase: 'signed_out' });
      return;
    }
    if (what === null) return;
    const why = e instanceof ApiError ? e.detail : '';
    this.notify('error', why && why !== what ? `${what} ${why}` : what);
  }
}

/** A random id for a send (SPEC §5 `client_id`, at most 64 characters). */
export function newClientId(): string {
  const c = globalThis.crypto;
  if (c?.randomUUID) return c.randomUUID();
  const bytes = new Uint8Array(16);
  c.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
