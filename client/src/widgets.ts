//! The widgets' state (SPEC §11), without DOM: the DM widget (`DmWidget`: a floating window
//! with one person) and the room widget (`RoomWidget`: a public room found by key). Each runs
//! its conversation on a `single`-scope `Messenger` connected by `connectWidget` (the chat's
//! own socket, or polling), started when it is needed and stopped when it is not; a room's
//! visitors who have not joined follow its member count with a `RoomWatcher`.

import { ApiError } from './errors.ts';
import { connectWidget, RoomWatcher, type LiveDeps, type LiveTransport } from './live.ts';
import { Messenger, type Preset } from './messenger.ts';
import type { Rest } from './rest.ts';
import type { Chat, Id, LiveEvent, Room, UiConfig, User, UserWithEmail } from './types.ts';

/** What every widget of a page shares: one API client, who is signed in, the settings. */
export interface WidgetContext {
  rest: Rest;
  /** Null: nobody is signed in (the widgets offer to sign in). */
  me: UserWithEmail | null;
  config: UiConfig;
  live?: Omit<LiveDeps, 'rest'>;
  /** Whether the page is shown (a hidden page does not mark messages read). */
  visible?: boolean;
}

type Listener<S> = (s: S) => void;

/** The small observable both widgets are. */
abstract class Store<S extends object> {
  state: S;
  private listeners = new Set<Listener<S>>();

  constructor(initial: S) {
    this.state = initial;
  }

  subscribe(fn: Listener<S>): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  protected set(patch: Partial<S>): void {
    this.state = { ...this.state, ...patch };
    for (const fn of this.listeners) fn(this.state);
  }
}

function newMessenger(ctx: WidgetContext, accept?: (c: Chat) => boolean): Messenger {
  const connect = (config: UiConfig, deps: LiveDeps): Promise<LiveTransport> =>
    connectWidget({ transport: config.transport, pollIntervalMs: config.poll_interval_ms }, deps);
  const m = new Messenger({ rest: ctx.rest, live: ctx.live, scope: 'single', connect, accept });
  m.setVisible(ctx.visible ?? true);
  return m;
}

function preset(ctx: WidgetContext): Preset {
  return { me: ctx.me!, config: ctx.config };
}

// ---------------------------------------------------------------- the DM widget

export interface DmWidgetState {
  /** `hidden`: nothing to show (yourself, DMs off, no such person). */
  phase: 'loading' | 'ready' | 'hidden' | 'signed_out' | 'failed';
  other: User | null;
  /** The DM, once found or created (the first send creates it). */
  chat: Chat | null;
  open: boolean;
  /** Unread messages of the DM when the page loaded (the closed button's badge). */
  unread: number;
  /** The conversation, while the window is open. */
  messenger: Messenger | null;
}

/** How often a window with no DM yet looks for one the other person may have started, where
 * the transport cannot say (a chat socket needs a chat). */
const DM_LOOKUP_MS = 5000;

export class DmWidget extends Store<DmWidgetState> {
  private readonly ctx: WidgetContext;
  private readonly otherId: Id;
  private lookupTimer: ReturnType<typeof setTimeout> | null = null;
  private unsubscribe: (() => void) | null = null;
  private creating: Promise<Chat | null> | null = null;

  constructor(ctx: WidgetContext, otherId: Id) {
    super({ phase: 'loading', other: null, chat: null, open: false, unread: 0, messenger: null });
    this.ctx = ctx;
    this.otherId = otherId;
  }

  /** Who the other person is, and whether a DM with them exists (not created here). */
  async start(): Promise<void> {
    const { me, config, rest } = this.ctx;
    if (!me) return this.set({ phase: 'signed_out' });
    if (!config.enable_dms || me.id === this.otherId) return this.set({ phase: 'hidden' });
    try {
      const other = await rest.user(this.otherId);
      const chat = await rest.findDm(other);
      this.set({ phase: 'ready', other, chat, unread: chat?.unread_count ?? 0 });
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return this.set({ phase: 'hidden' });
      if (e instanceof ApiError && e.status === 401) return this.set({ phase: 'signed_out' });
      this.set({ phase: 'failed' });
    }
  }

  private isOurDm = (c: Chat): boolean => c.chat_type === 'dm' && c.members.some((u) => u.id === this.otherId);

  /** Opens the window: connects and loads the DM's messages (if there is a DM). */
  async open(): Promise<void> {
    if (this.state.open || this.state.phase !== 'ready') return;
    const m = newMessenger(this.ctx, this.isOurDm);
    this.set({ open: true, messenger: m, unread: 0 });
    // The other person may start the DM while the window is open (polling says chat_added).
    this.unsubscribe = m.subscribe((s) => {
      if (s.phase === 'ready' && s.openChatId === null && !this.creating) {
        const found = s.chats.chats.find(this.isOurDm);
        if (found) void this.adopt(m, found);
      }
      const held = s.openChatId !== null ? s.chats.chats.find((c) => c.id === s.openChatId) : null;
      if (held && held !== this.state.chat) this.set({ chat: held });
    });
    const chat = this.state.chat;
    if (chat) m.hold(chat);
    await m.init(chat?.id ?? null, preset(this.ctx));
    if (this.state.messenger === m && !chat) this.lookLater(m);
  }

  private async adopt(m: Messenger, chat: Chat): Promise<void> {
    this.stopLookup();
    m.hold(chat);
    await m.openChat(chat.id);
  }

  private lookLater(m: Messenger): void {
    if (m.state.transport === 'polling') return; // chat_added will say
    this.lookupTimer = setTimeout(async () => {
      this.lookupTimer = null;
      if (this.state.messenger !== m || m.state.openChatId !== null || this.creating) return;
      const other = this.state.other!;
      const found = await this.ctx.rest.findDm(other).catch(() => null);
      if (this.state.messenger !== m || m.state.openChatId !== null) return;
      if (found) await this.adopt(m, found);
      else this.lookLater(m);
    }, DM_LOOKUP_MS);
  }

  private stopLookup(): void {
    if (this.lookupTimer !== null) clearTimeout(this.lookupTimer);
    this.lookupTimer = null;
  }

  /** Closes the window and its live connection. */
  close(): void {
    this.stopLookup();
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.state.messenger?.stop();
    this.set({ open: false, messenger: null });
  }

  /** Sends `text`, creating the DM first when there is none. False when nothing was sent. */
  async send(text: string): Promise<boolean> {
    const m = this.state.messenger;
    if (!m || text.trim() === '') return false;
    if (m.state.openChatId === null) {
      this.stopLookup();
      this.creating ??= m.openDm(this.otherId);
      const chat = await this.creating;
      this.creating = null;
      if (!chat || this.state.messenger !== m) return false;
      this.set({ chat });
    }
    return m.send(text);
  }

  setVisible(visible: boolean): void {
    this.state.messenger?.setVisible(visible);
  }
}

// ---------------------------------------------------------------- the room widget

export interface RoomWidgetState {
  /** `hidden`: rooms are off (`ENABLE_CHAT_ROOMS`). */
  phase: 'loading' | 'ready' | 'hidden' | 'signed_out' | 'failed';
  /** Null until somebody joins: viewing a page never creates its room. */
  room: Room | null;
  title: string;
  count: number;
  isMember: boolean;
  /** A join or leave is on its way. */
  busy: boolean;
  /** The conversation, while a member. */
  messenger: Messenger | null;
  /** Why the last join or leave failed. */
  error: string | null;
}

export class RoomWidget extends Store<RoomWidgetState> {
  private readonly ctx: WidgetContext;
  private readonly key: string;
  private watcher: RoomWatcher | null = null;
  private lookupTimer: ReturnType<typeof setTimeout> | null = null;
  private offs: Array<() => void> = [];
  private stopped = false;

  constructor(ctx: WidgetContext, key: string, title: string) {
    super({ phase: 'loading', room: null, title, count: 0, isMember: false, busy: false, messenger: null, error: null });
    this.ctx = ctx;
    this.key = key;
  }

  /** Finds the room by key (without creating or joining it) and follows it. */
  async start(): Promise<void> {
    const { me, config } = this.ctx;
    if (!me) return this.set({ phase: 'signed_out' });
    if (!config.enable_chat_rooms) return this.set({ phase: 'hidden' });
    let room: Room | null;
    try {
      room = await this.find();
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) return this.set({ phase: 'hidden' });
      if (e instanceof ApiError && e.status === 401) return this.set({ phase: 'signed_out' });
      return this.set({ phase: 'failed' });
    }
    this.set({ phase: 'ready', ...this.roomPatch(room) });
    this.follow();
  }

  /** The room with our key, or null when nobody has made it yet. */
  private async find(): Promise<Room | null> {
    try {
      return await this.ctx.rest.roomByKey(this.key);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }
  }

  private roomPatch(room: Room | null): Partial<RoomWidgetState> {
    if (!room) return { room: null, count: 0, isMember: false };
    return { room, title: room.title || this.state.title, count: room.member_count, isMember: room.is_member };
  }

  /** Members talk over a messenger; visitors watch the count (or wait for the room to exist). */
  private follow(): void {
    this.unfollow();
    if (this.stopped) return;
    const room = this.state.room;
    if (!room) return this.lookLater();
    if (this.state.isMember) return void this.startMessenger(room);
    const w = new RoomWatcher(
      { socketUrl: (p) => this.ctx.rest.socketUrl(p), getRoom: (id) => this.ctx.rest.getRoom(id) },
      room.id,
      { transport: this.ctx.config.transport, pollIntervalMs: this.ctx.config.poll_interval_ms },
      this.ctx.live,
    );
    w.onUpdate((u) => {
      if (this.watcher !== w || !this.state.room) return;
      const isMember = u.isMember ?? false;
      this.set({ count: u.count, isMember, room: { ...this.state.room, member_count: u.count, is_member: isMember } });
      // Joined in another tab: become a member here too.
      if (isMember) this.follow();
    });
    this.watcher = w;
    w.start();
  }

  /** Nobody has made the room yet: look again every poll interval, so the first join shows. */
  private lookLater(): void {
    this.lookupTimer = setTimeout(async () => {
      this.lookupTimer = null;
      if (this.stopped || this.state.room) return;
      const room = await this.find().catch(() => null);
      if (this.stopped || this.state.room) return;
      if (room) {
        this.set(this.roomPatch(room));
        this.follow();
      } else {
        this.lookLater();
      }
    }, this.ctx.config.poll_interval_ms);
  }

  private async startMessenger(room: Room): Promise<void> {
    const m = newMessenger(this.ctx);
    this.set({ messenger: m });
    this.offs.push(
      m.onEvent((e: LiveEvent) => {
        if (e.type === 'member_count' && e.chat_id === room.id) this.set({ count: e.count });
      }),
      m.subscribe((s) => {
        const chat = s.chats.chats.find((c) => c.id === room.id);
        if (chat && typeof chat.member_count === 'number' && chat.member_count !== this.state.count) {
          this.set({ count: chat.member_count });
        }
        // Gone from the messenger (left in another tab, removed): back to watching.
        if (!chat && s.phase === 'ready' && s.openChatId === null && this.state.isMember && !this.state.busy && s.chats.loaded) {
          this.set({ isMember: false });
          void this.refreshCount().then(() => this.follow());
        }
      }),
    );
    m.hold(room);
    await m.init(room.id, preset(this.ctx));
  }

  private async refreshCount(): Promise<void> {
    const id = this.state.room?.id;
    if (id === undefined) return;
    try {
      const room = await this.ctx.rest.getRoom(id);
      this.set({ count: room.member_count, isMember: room.is_member });
    } catch {
      /* the watcher will say */
    }
  }

  private unfollow(): void {
    for (const off of this.offs) off();
    this.offs = [];
    this.watcher?.stop();
    this.watcher = null;
    if (this.lookupTimer !== null) clearTimeout(this.lookupTimer);
    this.lookupTimer = null;
    this.state.messenger?.stop();
    if (this.state.messenger) this.set({ messenger: null });
  }

  /** Joins, making the room first if nobody has (its maker becomes its admin). */
  async join(): Promise<boolean> {
    if (this.state.busy || this.state.isMember) return false;
    this.set({ busy: true, error: null });
    try {
      let room = this.state.room;
      if (!room) {
        const made = await this.ctx.rest.createRoom({ key: this.key, title: this.state.title });
        room = made.room;
      }
      if (!room.is_member) room = await this.ctx.rest.joinRoom(room.id);
      this.set({ ...this.roomPatch({ ...room, is_member: true }), busy: false });
      this.follow();
      return true;
    } catch (e) {
      this.set({ busy: false });
      this.notice(e, "Couldn't join the room.");
      return false;
    }
  }

  async leave(): Promise<boolean> {
    const room = this.state.room;
    if (this.state.busy || !room || !this.state.isMember) return false;
    this.set({ busy: true, error: null });
    try {
      await this.ctx.rest.leaveRoom(room.id);
      this.unfollow();
      this.set({ isMember: false, count: Math.max(0, this.state.count - 1) });
      await this.refreshCount();
      this.set({ busy: false });
      this.follow();
      return true;
    } catch (e) {
      this.set({ busy: false });
      this.notice(e, "Couldn't leave the room.");
      return false;
    }
  }

  /** Errors show where the conversation shows its notices, or go to the console. */
  private notice(e: unknown, what: string): void {
    const why = e instanceof ApiError ? e.detail : '';
    this.set({ error: why && why !== what ? `${what} ${why}` : what });
  }

  setVisible(visible: boolean): void {
    this.state.messenger?.setVisible(visible);
  }

  stop(): void {
    this.stopped = true;
    this.unfollow();
  }
}
