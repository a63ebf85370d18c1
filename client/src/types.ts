//! The shapes the client works with: REST types generated from openapi.json (./schema.d.ts,
//! written by `make web`), the live events of SPEC §6 and §9, and the UI settings.

import type { components } from './schema.d.ts';

type S = components['schemas'];

export type Id = number;
export type User = S['User'];
export type UserWithEmail = S['User'] & { email: string };
export type Reaction = S['Reaction'];
export type MessageBasic = S['MessageBasic'];
export type Message = S['MessageBasic'] & { reactions: Reaction[]; read_by: Id[] };
/** A chat as the caller sees it. Rooms (SPEC §10) also carry their `key`, how many members
 * they have and whether the caller is one. */
export type Chat = Omit<S['Chat'], 'chat_type'> & {
  chat_type: 'dm' | 'group' | 'room';
  key?: string | null;
  member_count?: number;
  is_member?: boolean;
};
/** A public room (SPEC §10): what `GET /rooms/{id}/` shows any signed-in user. */
export type Room = Chat & { chat_type: 'room'; key: string | null; member_count: number; is_member: boolean };
export type RoomPage = { count: number; next: string | null; previous: string | null; results: Room[] };
export type ChatPage = Omit<S['ChatPage'], 'results'> & { results: Chat[] };
export type MessagePage = Omit<S['MessagePage'], 'results'> & { results: Message[] };

/** Shown for a message whose sender's account is gone (`sender: null`). */
export const GONE_USER: User = { id: 0, username: 'deleted', display_name: 'Deleted user', avatar_url: '' };

/** Durable events of one chat (SPEC §6): each carries the chat's `seq`. */
export type ChatEvent =
  | { type: 'new_message'; seq: number; message: Message }
  | { type: 'message_updated'; seq: number; message: Message }
  | { type: 'message_deleted'; seq: number; message_id: Id }
  | { type: 'reaction_updated'; seq: number; message_id: Id; reactions: Reaction[] }
  | { type: 'read_receipt'; seq: number; user_id: Id; last_read_message_id: Id }
  | { type: 'members_added'; seq: number; user_ids: Id[]; member_count?: number }
  | { type: 'member_removed'; seq: number; user_id: Id; member_count?: number }
  | { type: 'chat_updated'; seq: number; chat: Chat }
  | { type: 'chat_deleted'; seq: number; chat_id: Id }
  | { type: 'member_count'; seq?: number; count: number };

/** Ephemeral: never stored, no `seq`. */
export type TypingEvent = { type: 'typing'; user_id: Id; is_typing: boolean };

/**
 * What every transport hands to the store (SPEC §9's event shape): a chat event with the chat it
 * belongs to, the user-level membership events, typing, and the transport's own requests to
 * reload lists over REST.
 */
export type LiveEvent =
  | (ChatEvent & { chat_id: Id; cursor?: string })
  | { type: 'chat_added'; chat: Chat | null; chat_id?: Id; cursor?: string }
  | { type: 'chat_removed'; chat_id: Id; cursor?: string }
  | (TypingEvent & { chat_id: Id })
  /** Who is typing in `chat_id` right now (polling answers carry the whole set). */
  | { type: 'typing_snapshot'; chat_id: Id; user_ids: Id[] }
  /** Events were lost: reload over REST (`chat_id` set: only that chat's messages). */
  | { type: 'resync_required'; chat_id?: Id }
  /** This transport cannot see other chats: reload the chat list (the chat-socket fallback). */
  | { type: 'refresh_chats' };

/** `GET /messages/api/config/`: what the UI shows and allows. */
export interface UiConfig {
  transport: 'websocket' | 'polling';
  poll_interval_ms: number;
  enable_dms: boolean;
  enable_chat_rooms: boolean;
  allow_signup: boolean;
  allow_editing_own_messages: boolean;
  allow_deleting_own_messages: boolean;
  allow_adding_reactions: boolean;
  allow_renaming_dms: boolean;
  allow_renaming_chat_rooms: boolean;
  show_deleted_message_indicators: boolean;
  show_chat_rooms_in_messages: boolean;
  show_dms_in_messages: boolean;
  max_message_length: number;
  messages_per_page: number;
  chats_per_page: number;
  typing_timeout_seconds: number;
}

/** The settings' documented defaults (SPEC §5, §9, §10), used until the server says otherwise. */
export const DEFAULT_CONFIG: UiConfig = {
  transport: 'websocket',
  poll_interval_ms: 3000,
  enable_dms: true,
  enable_chat_rooms: true,
  allow_signup: true,
  allow_editing_own_messages: true,
  allow_deleting_own_messages: true,
  allow_adding_reactions: true,
  allow_renaming_dms: false,
  allow_renaming_chat_rooms: true,
  show_deleted_message_indicators: false,
  show_chat_rooms_in_messages: true,
  show_dms_in_messages: true,
  max_message_length: 10000,
  messages_per_page: 50,
  chats_per_page: 10,
  typing_timeout_seconds: 6,
};
