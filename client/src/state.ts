//! Pure state transitions: apply a live event to the chat list or to a chat's messages, merge a
//! REST page, reconcile an optimistic send by `client_id`, unread counts, ordering, typing.
//! Every function returns new state and never mutates its input; applying the same event twice
//! gives the same state as applying it once (replays after a reconnect are harmless).

import type { Chat, ChatPage, Id, LiveEvent, Message, MessageBasic, MessagePage, Reaction } from './types.ts';

// ---------------------------------------------------------------- the chat list

export interface ChatListState {
  /** Newest activity first (SPEC §4), ties by id, newest first. */
  chats: Chat[];
  /** Activity time per chat: creation, then each message (deleted ones included). */
  activity: Record<Id, string>;
  /** Pages of `GET /chats/` loaded so far (for the current search). */
  pages: number;
  hasMore: boolean;
  loaded: boolean;
  search: string;
}

/** What an event could not settle by itself: reload the list, or some chats' details. */
export interface Needs {
  list: boolean;
  chats: Id[];
}

export const noNeeds = (): Needs => ({ list: false, chats: [] });

export function emptyChatList(search = ''): ChatListState {
  return { chats: [], activity: {}, pages: 0, hasMore: false, loaded: false, search };
}

function maxIso(a: string | undefined, b: string | undefined): string {
  if (!a) return b ?? '';
  if (!b) return a;
  return a > b ? a : b;
}

function activityOf(chat: Chat, known: string | undefined): string {
  return maxIso(maxIso(chat.created_at, chat.last_message?.created_at), known);
}

function sortChats(chats: Chat[], activity: Record<Id, string>): Chat[] {
  return [...chats].sort((a, b) => {
    const x = activity[a.id] ?? '';
    const y = activity[b.id] ?? '';
    if (x !== y) return x > y ? -1 : 1;
    return b.id - a.id;
  });
}

function withChats(state: ChatListState, chats: Chat[], activity: Record<Id, string>): ChatListState {
  return { ...state, chats: sortChats(chats, activity), activity };
}

/**
 * Merges page `pageNo` of `GET /chats/`. Page 1 is a fresh snapshot of the newest chats: chats
 * that would fall inside it but are missing from it are gone (deleted, or we left), and when it
 * is the only page it is the whole list.
 */
export function mergeChatPage(state: ChatListState, page: ChatPage, pageNo: number): ChatListState {
  const activity = { ...state.activity };
  for (const c of page.results) activity[c.id] = activityOf(c, activity[c.id]);
  const incoming = new Map(page.results.map((c) => [c.id, c]));
  let kept: Chat[];
  if (pageNo === 1) {
    const oldest = page.results.reduce<string | null>((min, c) => {
      const a = activity[c.id]!;
      return min === null || a < min ? a : min;
    }, null);
    kept = page.next === null ? [] : state.chats.filter((c) => !incoming.has(c.id) && oldest !== null && (state.activity[c.id] ?? '') < oldest);
  } else {
    kept = state.chats.filter((c) => !incoming.has(c.id));
  }
  for (const id of Object.keys(activity).map(Number)) {
    if (!incoming.has(id) && !kept.some((c) => c.id === id)) delete activity[id];
  }
  const next = withChats(state, [...kept, ...page.results], activity);
  return {
    ...next,
    pages: pageNo === 1 ? 1 : Math.max(state.pages, pageNo),
    hasMore: page.next !== null,
    loaded: true,
  };
}

/** Inserts or replaces one chat (from a create, a detail refresh, `chat_added`). */
export function upsertChat(state: ChatListState, chat: Chat): ChatListState {
  const activity = { ...state.activity, [chat.id]: activityOf(chat, state.activity[chat.id]) };
  const others = state.chats.filter((c) => c.id !== chat.id);
  return withChats(state, [...others, chat], activity);
}

export function removeChat(state: ChatListState, chatId: Id): ChatListState {
  if (!state.chats.some((c) => c.id === chatId)) return state;
  const activity = { ...state.activity };
  delete activity[chatId];
  return { ...state, chats: state.chats.filter((c) => c.id !== chatId), activity };
}

function patchChat(state: ChatListState, chatId: Id, patch: (c: Chat) => Chat, activityAt?: string): ChatListState {
  const i = state.chats.findIndex((c) => c.id === chatId);
  if (i < 0) return state;
  const chats = [...state.chats];
  chats[i] = patch(chats[i]!);
  const activity = activityAt ? { ...state.activity, [chatId]: maxIso(state.activity[chatId], activityAt) } : state.activity;
  return withChats(state, chats, activity);
}

export function basic(m: Message | MessageBasic): MessageBasic {
  const { id, chat, seq, content, created_at, updated_at, is_edited, is_deleted, sender, client_id } = m;
  return { id, chat, seq, content, created_at, updated_at, is_edited, is_deleted, sender, client_id };
}

export interface ListContext {
  me: Id;
  /** The chat on screen while the page is visible: its messages are read as they arrive. */
  readingChatId: Id | null;
}

/** Applies a live event to the chat list. `needs` says what must be fetched to finish the job. */
export function applyChatListEvent(
  state: ChatListState,
  ev: LiveEvent,
  ctx: ListContext,
): { state: ChatListState; needs: Needs } {
  const needs = noNeeds();
  const has = (id: Id) => state.chats.some((c) => c.id === id);
  switch (ev.type) {
    case 'new_message': {
      const m = ev.message;
      if (!m) return { state, needs };
      if (!has(ev.chat_id)) {
        needs.list = true; // a chat we have not loaded (or were just added to)
        return { state, needs };
      }
      const mine = m.sender?.id === ctx.me;
      const reading = ctx.readingChatId === ev.chat_id;
      const next = patchChat(
        state,
        ev.chat_id,
        (c) => {
          if (c.last_message && c.last_message.id >= m.id) return c; // a replay
          return {
            ...c,
            last_message: basic(m),
            unread_count: mine || reading ? 0 : c.unread_count + 1,
          };
        },
        m.created_at,
      );
      return { state: next, needs };
    }
    case 'message_updated': {
      const m = ev.message;
      if (!m) return { state, needs };
      return {
        state: patchChat(state, ev.chat_id, (c) => (c.last_message?.id === m.id ? { ...c, last_message: basic(m) } : c)),
        needs,
      };
    }
    case 'message_deleted': {
      const chat = state.chats.find((c) => c.id === ev.chat_id);
      if (!chat) return { state, needs };
      // The list shows the newest message that is not deleted, and the unread count may drop:
      // only the server knows both.
      if (chat.last_message?.id === ev.message_id || chat.unread_count > 0) needs.chats.push(ev.chat_id);
      const next =
        chat.last_message?.id === ev.message_id ? patchChat(state, ev.chat_id, (c) => ({ ...c, last_message: null })) : state;
      return { state: next, needs };
    }
    case 'read_receipt': {
      if (ev.user_id !== ctx.me) return { state, needs };
      const chat = state.chats.find((c) => c.id === ev.chat_id);
      if (!chat || chat.unread_count === 0) return { state, needs };
      if (!chat.last_message || ev.last_read_message_id >= chat.last_message.id) {
        return { state: patchChat(state, ev.chat_id, (c) => ({ ...c, unread_count: 0 })), needs };
      }
      needs.chats.push(ev.chat_id);
      return { state, needs };
    }
    case 'chat_updated': {
      // The chat as its renamer sees it: take what is the same for everyone, never their
      // unread count or last message.
      const { title, admins, members, updated_at } = ev.chat;
      return { state: patchChat(state, ev.chat_id, (c) => ({ ...c, title, admins, members, updated_at })), needs };
    }
    case 'members_added': {
      const chat = state.chats.find((c) => c.id === ev.chat_id);
      // A room's joins carry its count: thousands of members need not each reload it.
      if (chat?.chat_type === 'room' && typeof ev.member_count === 'number') {
        const count = ev.member_count;
        return { state: patchChat(state, ev.chat_id, (c) => ({ ...c, member_count: count })), needs };
      }
      if (chat) needs.chats.push(ev.chat_id);
      else if (ev.user_ids.includes(ctx.me)) needs.list = true;
      return { state, needs };
    }
    case 'member_removed': {
      if (ev.user_id === ctx.me) return { state: removeChat(state, ev.chat_id), needs };
      const chat = state.chats.find((c) => c.id === ev.chat_id);
      const roomCount = chat?.chat_type === 'room' && typeof ev.member_count === 'number' ? ev.member_count : null;
      // Admins may have changed hands (a room's count alone settles a member's leaving).
      if (chat && (roomCount === null || chat.admins.includes(ev.user_id))) needs.chats.push(ev.chat_id);
      const next = patchChat(state, ev.chat_id, (c) => ({
        ...c,
        members: c.members.filter((u) => u.id !== ev.user_id),
        admins: c.admins.filter((id) => id !== ev.user_id),
        ...(roomCount === null ? {} : { member_count: roomCount }),
      }));
      return { state: next, needs };
    }
    case 'member_count':
      return { state: patchChat(state, ev.chat_id, (c) => (c.member_count === ev.count ? c : { ...c, member_count: ev.count })), needs };
    case 'chat_deleted':
    case 'chat_removed':
      return { state: removeChat(state, ev.chat_id), needs };
    case 'chat_added':
      // Replayed after the chat went away, it carries no chat (its chat_removed follows).
      return ev.chat ? { state: upsertChat(state, ev.chat), needs } : { state, needs };
    case 'resync_required':
    case 'refresh_chats':
      needs.list = true;
      return { state, needs };
    default:
      return { state, needs };
  }
}

/** How many members a chat has: a room says (its member list may be partial), others list them. */
export function memberTotal(chat: Chat): number {
  return chat.member_count ?? chat.members.length;
}

/** Marks a chat read locally (after `mark-as-read`, or on opening it). */
export function markChatRead(state: ChatListState, chatId: Id): ChatListState {
  return patchChat(state, chatId, (c) => (c.unread_count === 0 ? c : { ...c, unread_count: 0 }));
}

export function totalUnread(state: ChatListState): number {
  return state.chats.reduce((n, c) => n + c.unread_count, 0);
}

// ---------------------------------------------------------------- one chat's messages

/** A send on its way: shown at once, replaced by the stored message when it comes back. */
export interface PendingSend {
  client_id: string;
  content: string;
  created_at: string;
  status: 'sending' | 'failed';
  error?: string;
}

export interface MessageState {
  chatId: Id;
  /** Oldest first (the page shows the newest at the bottom). Tombstones included. */
  messages: Message[];
  pending: PendingSend[];
  hasOlder: boolean;
  loaded: boolean;
  /** The newest chat event `seq` this state reflects: where a chat socket resumes. */
  lastSeq: number;
}

export function emptyMessages(chatId: Id): MessageState {
  return { chatId, messages: [], pending: [], hasOlder: false, loaded: false, lastSeq: 0 };
}

function sortById(ms: Message[]): Message[] {
  return [...ms].sort((a, b) => a.id - b.id);
}

/** Adds `userId` to `read_by` of every message up to `pointer` (pointers only move forward). */
function applyReadPointer(messages: Message[], userId: Id, pointer: Id): Message[] {
  let changed = false;
  const out = messages.map((m) => {
    if (m.id > pointer || m.read_by.includes(userId)) return m;
    changed = true;
    return { ...m, read_by: [...m.read_by, userId] };
  });
  return changed ? out : messages;
}

/** Drops the pending send a stored message answers (same `client_id`, sent by us). */
function settlePending(pending: PendingSend[], m: Message, me: Id): PendingSend[] {
  if (!m.client_id || m.sender?.id !== me) return pending;
  const rest = pending.filter((p) => p.client_id !== m.client_id);
  return rest.length === pending.length ? pending : rest;
}

/**
 * Puts a stored message in place (insert or replace by id). Read pointers only move forward,
 * so `read_by` is the union of what is held and what arrives: a REST answer that left the
 * server before a read receipt must not take that reader away.
 */
function putMessage(messages: Message[], m: Message): Message[] {
  const i = messages.findIndex((x) => x.id === m.id);
  if (i < 0) return sortById([...messages, m]);
  const held = messages[i]!;
  const readBy = held.read_by.some((id) => !m.read_by.includes(id)) ? [...new Set([...m.read_by, ...held.read_by])] : m.read_by;
  const out = [...messages];
  out[i] = readBy === m.read_by ? m : { ...m, read_by: readBy };
  return out;
}

/**
 * Merges a page of `GET /chats/{id}/messages/` (newest first, as the API sends it). `older`:
 * the page was asked for with `before=` (scrolling up) — its `next` says whether more remain.
 * A message already held with a newer `updated_at` (an edit that arrived live while the page
 * was on its way) is kept.
 */
export function mergeMessagePage(state: MessageState, page: MessagePage, me: Id, opts: { older: boolean }): MessageState {
  let messages = state.messages;
  let pending = state.pending;
  let lastSeq = state.lastSeq;
  for (const m of page.results) {
    const held = messages.find((x) => x.id === m.id);
    if (!held || held.updated_at <= m.updated_at) messages = putMessage(messages, m);
    pending = settlePending(pending, m, me);
    lastSeq = Math.max(lastSeq, m.seq);
  }
  const hasOlder = opts.older || !state.loaded ? page.next !== null : state.hasOlder;
  return { ...state, messages, pending, lastSeq, hasOlder, loaded: true };
}

/** Applies a live chat event to this chat's messages. Other chats' events are ignored. */
export function applyMessageEvent(state: MessageState, ev: LiveEvent, me: Id): MessageState {
  if (!('chat_id' in ev) || ev.chat_id !== state.chatId) return state;
  const seq = 'seq' in ev && typeof ev.seq === 'number' ? ev.seq : 0;
  const next = applyMessageEventInner(state, ev, me);
  return seq > next.lastSeq ? { ...next, lastSeq: seq } : next;
}

function applyMessageEventInner(state: MessageState, ev: LiveEvent, me: Id): MessageState {
  switch (ev.type) {
    case 'new_message': {
      const m = ev.message;
      if (!m) return state;
      // Sending moves the sender's read pointer (SPEC §5): they have read everything before.
      const put = putMessage(state.messages, m);
      const messages = m.sender ? applyReadPointer(put, m.sender.id, m.id) : put;
      return { ...state, messages, pending: settlePending(state.pending, m, me) };
    }
    case 'message_updated': {
      const m = ev.message;
      if (!m) return state;
      const held = state.messages.find((x) => x.id === m.id);
      if (held?.is_deleted) return state; // a replay of an edit from before the delete
      return { ...state, messages: putMessage(state.messages, m) };
    }
    case 'message_deleted':
      return {
        ...state,
        messages: state.messages.map((m) =>
          m.id === ev.message_id && !m.is_deleted ? { ...m, is_deleted: true, content: '', reactions: [] } : m,
        ),
      };
    case 'reaction_updated':
      return { ...state, messages: setReactions(state.messages, ev.message_id, ev.reactions) };
    case 'read_receipt':
      return { ...state, messages: applyReadPointer(state.messages, ev.user_id, ev.last_read_message_id) };
    default:
      return state;
  }
}

function setReactions(messages: Message[], id: Id, reactions: Reaction[]): Message[] {
  return messages.map((m) => (m.id === id && !m.is_deleted ? { ...m, reactions } : m));
}

/** Applies our own successful write (the REST answer) before its event arrives. */
export function applyOwnMessage(state: MessageState, m: Message, me: Id): MessageState {
  if (m.chat !== state.chatId) return state;
  const held = state.messages.find((x) => x.id === m.id);
  if (held && held.updated_at > m.updated_at) return state;
  if (held?.is_deleted && !m.is_deleted) return state;
  return { ...state, messages: putMessage(state.messages, m), pending: settlePending(state.pending, m, me) };
}

export function applyOwnReactions(state: MessageState, messageId: Id, reactions: Reaction[]): MessageState {
  return { ...state, messages: setReactions(state.messages, messageId, reactions) };
}

export function addPending(state: MessageState, p: PendingSend): MessageState {
  if (state.pending.some((x) => x.client_id === p.client_id)) return state;
  return { ...state, pending: [...state.pending, p] };
}

export function setPendingStatus(state: MessageState, clientId: string, status: PendingSend['status'], error?: string): MessageState {
  return {
    ...state,
    pending: state.pending.map((p) => (p.client_id === clientId ? { ...p, status, error } : p)),
  };
}

export function dropPending(state: MessageState, clientId: string): MessageState {
  return { ...state, pending: state.pending.filter((p) => p.client_id !== clientId) };
}

/** What a person sees of a message: `hidden` when deleted and indicators are off. */
export function visibleMessages(state: MessageState, showDeleted: boolean): Message[] {
  return showDeleted ? state.messages : state.messages.filter((m) => !m.is_deleted);
}

/**
 * Read status of one of our own messages: `read` once another member's pointer has reached it,
 * with who read it.
 */
export function readStatus(m: Message, me: Id): { status: 'sent' | 'read'; readers: Id[] } {
  const readers = m.read_by.filter((id) => id !== me);
  return { status: readers.length > 0 ? 'read' : 'sent', readers };
}

/** Messages sent within this many ms by the same sender are grouped under one name. */
export const GROUP_WINDOW_MS = 5 * 60 * 1000;

/** Whether `m` starts a new group (shows its sender's name and avatar) after `prev`. */
export function startsGroup(prev: Message | undefined, m: Message): boolean {
  if (!prev) return true;
  if (prev.sender?.id !== m.sender?.id) return true;
  return Date.parse(m.created_at) - Date.parse(prev.created_at) > GROUP_WINDOW_MS;
}

// ---------------------------------------------------------------- typing

/** Who is typing where: chat → user → the time (ms) the indicator expires. */
export type TypingState = Record<Id, Record<Id, number>>;

export function applyTyping(state: TypingState, ev: LiveEvent, me: Id, now: number, timeoutMs: number): TypingState {
  if (ev.type === 'typing') {
    if (ev.user_id === me) return state;
    const chat = { ...(state[ev.chat_id] ?? {}) };
    if (ev.is_typing) chat[ev.user_id] = now + timeoutMs;
    else delete chat[ev.user_id];
    return { ...state, [ev.chat_id]: chat };
  }
  if (ev.type === 'typing_snapshot') {
    const chat: Record<Id, number> = {};
    for (const id of ev.user_ids) if (id !== me) chat[id] = now + timeoutMs;
    return { ...state, [ev.chat_id]: chat };
  }
  // A message from someone ends their typing.
  const typist = ev.type === 'new_message' ? ev.message?.sender?.id : undefined;
  if (ev.type === 'new_message' && typist !== undefined && state[ev.chat_id]?.[typist] !== undefined) {
    const chat = { ...state[ev.chat_id] };
    delete chat[typist];
    return { ...state, [ev.chat_id]: chat };
  }
  return state;
}

export function typingUsers(state: TypingState, chatId: Id, now: number): Id[] {
  return Object.entries(state[chatId] ?? {})
    .filter(([, until]) => until > now)
    .map(([id]) => Number(id));
}

/** "Ann is typing…", "Ann and Bo are typing…", "Several people are typing…". */
export function typingText(names: string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return 'Several people are typing…';
}
