//! What the caller may do with a chat or a message, from the API's rules (SPEC §4, §5, §10) and
//! the UI settings: a control whose action would be refused is not shown.

import type { Chat, Id, Message, UiConfig } from './types.ts';

export function isAdmin(chat: Chat, me: Id): boolean {
  return chat.admins.includes(me);
}

/** Members dialog (add/remove): group and room admins. */
export function canManageMembers(chat: Chat, me: Id): boolean {
  return (chat.chat_type === 'group' || chat.chat_type === 'room') && isAdmin(chat, me);
}

export function canRename(chat: Chat, me: Id, config: UiConfig): boolean {
  switch (chat.chat_type) {
    case 'dm':
      return config.allow_renaming_dms;
    case 'group':
      return isAdmin(chat, me);
    case 'room':
      return config.allow_renaming_chat_rooms && isAdmin(chat, me);
    default:
      return false;
  }
}

/** Delete the whole chat: group admins, either member of a DM (rooms: admins). */
export function canDeleteChat(chat: Chat, me: Id): boolean {
  return chat.chat_type === 'dm' || isAdmin(chat, me);
}

/** Anyone may leave (the admin hand-over rule keeps groups alive). */
export function canLeave(_chat: Chat): boolean {
  return true;
}

export function canEdit(m: Message, me: Id, config: UiConfig): boolean {
  return config.allow_editing_own_messages && m.sender?.id === me && !m.is_deleted;
}

export function canDeleteMessage(m: Message, me: Id, config: UiConfig): boolean {
  return config.allow_deleting_own_messages && m.sender?.id === me && !m.is_deleted;
}

export function canReact(m: Message, config: UiConfig): boolean {
  return config.allow_adding_reactions && !m.is_deleted;
}

/** Whether a chat belongs in the chat list under the settings (SPEC §10). */
export function listed(chat: Chat, config: UiConfig): boolean {
  if (chat.chat_type === 'room') return config.enable_chat_rooms && config.show_chat_rooms_in_messages;
  if (chat.chat_type === 'dm') return config.show_dms_in_messages;
  return true;
}
