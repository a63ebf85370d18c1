//! Typed REST calls for the whole API (SPEC §2–§6). Paths, parameters and bodies are checked
//! against the types generated from openapi.json, so the client and the server cannot drift.
//! A refusal throws an `ApiError` carrying the status and the API's message; nothing here
//! touches the DOM.

import createClient from 'openapi-fetch';
import { ApiError } from './errors.ts';
import type { components, paths } from './schema.d.ts';
import {
  DEFAULT_CONFIG,
  type Chat,
  type ChatPage,
  type Id,
  type Message,
  type MessagePage,
  type Reaction,
  type Room,
  type RoomPage,
  type UiConfig,
  type User,
  type UserWithEmail,
} from './types.ts';

export { ApiError };

export interface RestOptions {
  /** Where the worker is; '' (the default) means this page's origin. */
  baseUrl?: string;
  /** A bearer token for non-browser clients; browsers use the session cookie. */
  token?: string;
  fetch?: typeof fetch;
}

/** `/messages/api/events/` answers (SPEC §9). The events are handed to the transports as
 * plain objects: they read the fields they know (live.ts), whatever the event type. */
export type EventsPage = Omit<components['schemas']['EventPage'], 'events'> & { events: Array<Record<string, unknown>> };

export type Rest = ReturnType<typeof createRest>;

export function createRest(options: RestOptions = {}) {
  const baseUrl = options.baseUrl ?? '';
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init));
  const headers: Record<string, string> = {};
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  const api = createClient<paths>({ baseUrl, headers, fetch: doFetch, credentials: 'same-origin' });

  /** Unwraps an openapi-fetch answer: its data (typed from openapi.json), or an ApiError. */
  async function ok<D>(call: Promise<{ data?: D; error?: unknown; response: Response }>): Promise<D> {
    let result;
    try {
      result = await call;
    } catch (e) {
      if (e instanceof DOMException && e.name === 'AbortError') throw e;
      throw new ApiError(0, 'Cannot reach the server. Check your connection.');
    }
    const { data, error, response } = result;
    if (!response.ok) throw ApiError.fromBody(response.status, error, retryAfterOf(response));
    return data as D;
  }

  /** Paths the generated types do not have yet (SPEC §9 events, §10 rooms, the UI config). */
  async function raw<T>(path: string, init: RequestInit = {}): Promise<T> {
    return (await rawWithStatus<T>(path, init)).body;
  }

  async function rawWithStatus<T>(path: string, init: RequestInit = {}): Promise<{ body: T; status: number }> {
    let response: Response;
    try {
      response = await doFetch(baseUrl + path, {
        credentials: 'same-origin',
        ...init,
        headers: { Accept: 'application/json', ...headers, ...(init.headers as Record<string, string>) },
      });
    } catch (e) {
      if (e instanceof DOMException && e.name === 'AbortError') throw e;
      throw new ApiError(0, 'Cannot reach the server. Check your connection.');
    }
    const text = await response.text();
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (!response.ok) throw ApiError.fromBody(response.status, body, retryAfterOf(response));
    return { body: body as T, status: response.status };
  }

  const chat = (chat_id: Id) => ({ params: { path: { chat_id } } });
  const room = (room_id: Id) => ({ params: { path: { room_id } } });
  const message = (message_id: Id) => ({ params: { path: { message_id } } });

  return {
    baseUrl,

    /** The signed-in user, or ApiError 401. */
    me: (): Promise<UserWithEmail> => ok(api.GET('/messages/api/auth/me/')),
    /** Host-site sign-in (SPEC §3): exchanges a site's token for this origin's session cookie
     * (the same session goes on when the cookie is already that user's). */
    sso: (token: string): Promise<{ user: UserWithEmail; token: string }> =>
      ok(api.POST('/messages/api/auth/sso/', { body: { token } })) as Promise<{ user: UserWithEmail; token: string }>,
    logout: async (): Promise<void> => {
      await ok(api.POST('/messages/api/auth/logout/'));
    },

    /** The UI settings; the documented defaults while the server has no config endpoint. */
    async config(): Promise<UiConfig> {
      try {
        const got = await raw<Partial<UiConfig>>('/messages/api/config/');
        return { ...DEFAULT_CONFIG, ...got };
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) return { ...DEFAULT_CONFIG };
        throw e;
      }
    },

    /** One active user by id (the DM widget names the person it talks to); 404 if none. */
    user: (id: Id): Promise<User> => ok(api.GET('/messages/api/users/{user_id}/', { params: { path: { user_id: id } } })),

    /**
     * The DM with `other`, if there is one, without creating it: the chat list searched for
     * their username (it matches members' names), at most `maxPages` pages. Null when none
     * was found (a send then creates it: `createChat` answers the existing DM if there is one).
     */
    async findDm(other: User, maxPages = 5): Promise<Chat | null> {
      for (let page = 1; page <= maxPages; page++) {
        let got: ChatPage;
        try {
          got = await ok(api.GET('/messages/api/chats/', { params: { query: { page, search: other.username } } }));
        } catch (e) {
          if (e instanceof ApiError && e.status === 404) return null; // past the last page
          throw e;
        }
        const dm = (got.results as Chat[]).find((c) => c.chat_type === 'dm' && c.members.some((u) => u.id === other.id));
        if (dm) return dm;
        if (!got.next) return null;
      }
      return null;
    },

    // Public rooms (SPEC §10).
    /** Get-or-create by `key` (the creator joins as admin): `created` false when it existed. */
    async createRoom(body: { key?: string; title: string }): Promise<{ room: Room; created: boolean }> {
      let status = 0;
      const room = await ok(
        api.POST('/messages/api/rooms/', { body }).then((r) => {
          status = r.response.status;
          return r;
        }),
      );
      return { room: room as Room, created: status === 201 };
    },
    listRooms: async (query: { search?: string; page?: number } = {}): Promise<RoomPage> =>
      (await ok(api.GET('/messages/api/rooms/', { params: { query: clean(query) } }))) as RoomPage,
    getRoom: async (id: Id): Promise<Room> => (await ok(api.GET('/messages/api/rooms/{room_id}/', room(id)))) as Room,
    /** The room with this key; ApiError 404 when nobody has made it yet. */
    roomByKey: async (key: string): Promise<Room> =>
      (await ok(api.GET('/messages/api/rooms/by-key/{key}/', { params: { path: { key } } }))) as Room,
    joinRoom: async (id: Id): Promise<Room> => (await ok(api.POST('/messages/api/rooms/{room_id}/join/', room(id)))) as Room,
    leaveRoom: async (id: Id): Promise<void> => {
      await ok(api.POST('/messages/api/rooms/{room_id}/leave/', room(id)));
    },

    searchUsers: async (q: string): Promise<UserWithEmail[]> =>
      (await ok(api.GET('/messages/api/users/search/', { params: { query: { q } } }))).results,

    listChats: (query: { page?: number; search?: string } = {}): Promise<ChatPage> =>
      ok(api.GET('/messages/api/chats/', { params: { query: clean(query) } })),
    getChat: (id: Id): Promise<Chat> => ok(api.GET('/messages/api/chats/{chat_id}/', chat(id))),
    createChat: (body: { chat_type: 'dm' | 'group'; title?: string; member_ids: Id[] }): Promise<Chat> =>
      ok(api.POST('/messages/api/chats/', { body })),
    renameChat: (id: Id, title: string): Promise<Chat> =>
      ok(api.PATCH('/messages/api/chats/{chat_id}/', { ...chat(id), body: { title } })),
    deleteChat: async (id: Id): Promise<void> => {
      await ok(api.DELETE('/messages/api/chats/{chat_id}/', chat(id)));
    },
    addMembers: (id: Id, user_ids: Id[]): Promise<{ added_count: number }> =>
      ok(api.POST('/messages/api/chats/{chat_id}/members/add/', { ...chat(id), body: { user_ids } })),
    removeMember: async (id: Id, user_id: Id): Promise<void> => {
      await ok(
        api.DELETE('/messages/api/chats/{chat_id}/members/{user_id}/remove/', {
          params: { path: { chat_id: id, user_id } },
        }),
      );
    },

    /** Newest first; `before`/`after` are message ids (keyset paging, SPEC §5). */
    listMessages: (id: Id, query: { before?: Id; after?: Id } = {}): Promise<MessagePage> =>
      ok(api.GET('/messages/api/chats/{chat_id}/messages/', { params: { path: { chat_id: id }, query: clean(query) } })),
    /** Repeating `client_id` returns the first message: a retried send never duplicates. */
    sendMessage: (id: Id, content: string, client_id: string): Promise<Message> =>
      ok(api.POST('/messages/api/chats/{chat_id}/messages/', { ...chat(id), body: { content, client_id } })),
    editMessage: (messageId: Id, content: string): Promise<Message> =>
      ok(api.PATCH('/messages/api/messages/{message_id}/', { ...message(messageId), body: { content } })),
    deleteMessage: async (messageId: Id): Promise<void> => {
      await ok(api.DELETE('/messages/api/messages/{message_id}/', message(messageId)));
    },
    toggleReaction: (messageId: Id, emoji: string): Promise<{ action: 'added' | 'removed'; reactions: Reaction[] }> =>
      ok(api.POST('/messages/api/messages/{message_id}/reactions/', { ...message(messageId), body: { emoji } })),
    markRead: (id: Id, message_id?: Id): Promise<{ marked_count: number; last_read_message_id: number }> =>
      ok(api.POST('/messages/api/chats/{chat_id}/mark-as-read/', { ...chat(id), body: message_id ? { message_id } : {} })),
    typing: (id: Id, is_typing: boolean): Promise<unknown> =>
      ok(api.POST('/messages/api/chats/{chat_id}/typing/', { ...chat(id), body: { is_typing } })),

    /** SPEC §9 polling. `after` absent: no events, the current cursor. */
    events: async (query: { after?: string; chat?: Id }, signal?: AbortSignal): Promise<EventsPage> =>
      (await ok(api.GET('/messages/api/events/', { params: { query: clean(query) }, signal }))) as EventsPage,

    /** The `ws:`/`wss:` URL of a socket path, for this page or `baseUrl`. */
    socketUrl(path: string): string {
      const origin = baseUrl || (typeof location !== 'undefined' ? location.origin : 'http://localhost');
      return origin.replace(/^http/, 'ws') + path;
    },
  };
}

function clean<T extends Record<string, unknown>>(q: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '' && v !== null) out[k] = v;
  return out as T;
}

function retryAfterOf(r: Response): number | null {
  const v = r.headers.get('Retry-After');
  const n = v === null ? NaN : Number(v);
  return Number.isFinite(n) ? n : null;
}
