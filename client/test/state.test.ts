// The pure state transitions: chat list, messages, optimistic sends, typing, permissions.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  addPending,
  applyChatListEvent,
  applyMessageEvent,
  applyOwnMessage,
  applyTyping,
  emptyChatList,
  emptyMessages,
  markChatRead,
  mergeChatPage,
  mergeMessagePage,
  readStatus,
  startsGroup,
  totalUnread,
  typingText,
  typingUsers,
  visibleMessages,
} from '../src/state.ts';
import { canDeleteChat, canDeleteMessage, canEdit, canManageMembers, canRename } from '../src/permissions.ts';
import { DEFAULT_CONFIG, type LiveEvent } from '../src/types.ts';
import { at, chat, message, user } from './fakes.ts';

const ME = 1;
const ctx = { me: ME, readingChatId: null };
const page = <T>(results: T[], next: string | null = null) => ({ count: results.length, next, previous: null, results });

describe('chat list', () => {
  test('a page is sorted newest activity first, ties by newest id', () => {
    const s = mergeChatPage(
      emptyChatList(),
      page([
        chat(1, { last_message: message(10, { created_at: at(10) }) }),
        chat(2, { created_at: at(50) }),
        chat(3, { created_at: at(0) }),
        chat(4, { created_at: at(0) }),
      ]),
      1,
    );
    assert.deepEqual(
      s.chats.map((c) => c.id),
      [2, 1, 4, 3],
    );
    assert.equal(s.loaded, true);
    assert.equal(s.hasMore, false);
  });

  test('a new message from someone else raises the unread count and moves the chat to the top', () => {
    let s = mergeChatPage(emptyChatList(), page([chat(1, { created_at: at(5) }), chat(2, { created_at: at(1) })]), 1);
    const ev: LiveEvent = { type: 'new_message', chat_id: 2, seq: 7, message: message(7, { chat: 2, created_at: at(9) }) };
    const r = applyChatListEvent(s, ev, ctx);
    s = r.state;
    assert.deepEqual(
      s.chats.map((c) => c.id),
      [2, 1],
      'chat 2 is newest now',
    );
    assert.equal(s.chats[0]!.unread_count, 1);
    assert.equal(s.chats[0]!.last_message?.id, 7);
    assert.equal(totalUnread(s), 1);
    // A replay of the same event (after a reconnect) changes nothing.
    assert.equal(applyChatListEvent(s, ev, ctx).state.chats[0]!.unread_count, 1, 'replays do not count twice');
  });

  test('own messages and messages in the chat being read do not count as unread', () => {
    const s = mergeChatPage(emptyChatList(), page([chat(1), chat(2)]), 1);
    const own = applyChatListEvent(s, { type: 'new_message', chat_id: 1, seq: 3, message: message(3, { sender: user(ME) }) }, ctx);
    assert.equal(own.state.chats.find((c) => c.id === 1)!.unread_count, 0);
    const reading = applyChatListEvent(s, { type: 'new_message', chat_id: 2, seq: 3, message: message(3, { chat: 2 }) }, { me: ME, readingChatId: 2 });
    assert.equal(reading.state.chats.find((c) => c.id === 2)!.unread_count, 0);
  });

  test('a message in a chat not in the list asks for the list', () => {
    const s = mergeChatPage(emptyChatList(), page([chat(1)]), 1);
    const r = applyChatListEvent(s, { type: 'new_message', chat_id: 9, seq: 1, message: message(1, { chat: 9 }) }, ctx);
    assert.equal(r.needs.list, true);
    assert.equal(r.state, s);
  });

  test("chat_updated takes the title and members, never the renamer's unread count", () => {
    const s = mergeChatPage(emptyChatList(), page([chat(1, { unread_count: 4 })]), 1);
    const renamed = chat(1, { title: 'Renamed', unread_count: 0, admins: [2] });
    const r = applyChatListEvent(s, { type: 'chat_updated', chat_id: 1, seq: 5, chat: renamed }, ctx);
    assert.equal(r.state.chats[0]!.title, 'Renamed');
    assert.equal(r.state.chats[0]!.unread_count, 4);
    assert.deepEqual(r.state.chats[0]!.admins, [2]);
  });

  test('being removed, a deleted chat and chat_removed take the chat out of the list', () => {
    const s = mergeChatPage(emptyChatList(), page([chat(1), chat(2), chat(3)]), 1);
    const a = applyChatListEvent(s, { type: 'member_removed', chat_id: 1, seq: 2, user_id: ME }, ctx).state;
    const b = applyChatListEvent(a, { type: 'chat_deleted', chat_id: 2, seq: 2 }, ctx).state;
    const c = applyChatListEvent(b, { type: 'chat_removed', chat_id: 3 }, ctx).state;
    assert.deepEqual(
      c.chats.map((x) => x.id),
      [],
    );
  });

  test('another member leaving updates members and asks for the chat (admins may have changed)', () => {
    const s = mergeChatPage(emptyChatList(), page([chat(1, { members: [user(1), user(2), user(3)], admins: [2] })]), 1);
    const r = applyChatListEvent(s, { type: 'member_removed', chat_id: 1, seq: 4, user_id: 2 }, ctx);
    assert.deepEqual(
      r.state.chats[0]!.members.map((u) => u.id),
      [1, 3],
    );
    assert.deepEqual(r.state.chats[0]!.admins, []);
    assert.deepEqual(r.needs.chats, [1]);
  });

  test('deleting the last message asks for the chat (only the server knows the one before)', () => {
    const s = mergeChatPage(emptyChatList(), page([chat(1, { last_message: message(4) })]), 1);
    const r = applyChatListEvent(s, { type: 'message_deleted', chat_id: 1, seq: 6, message_id: 4 }, ctx);
    assert.equal(r.state.chats[0]!.last_message, null);
    assert.deepEqual(r.needs.chats, [1]);
  });

  test('our own read receipt clears the unread count', () => {
    const s = mergeChatPage(emptyChatList(), page([chat(1, { unread_count: 3, last_message: message(8) })]), 1);
    const r = applyChatListEvent(s, { type: 'read_receipt', chat_id: 1, seq: 9, user_id: ME, last_read_message_id: 8 }, ctx);
    assert.equal(r.state.chats[0]!.unread_count, 0);
    assert.equal(markChatRead(s, 1).chats[0]!.unread_count, 0);
  });

  test('a refreshed first page drops chats that are gone but keeps older pages', () => {
    let s = mergeChatPage(emptyChatList(), page([chat(5, { created_at: at(50) }), chat(4, { created_at: at(40) })], 'p2'), 1);
    s = mergeChatPage(s, page([chat(2, { created_at: at(20) }), chat(1, { created_at: at(10) })]), 2);
    assert.deepEqual(
      s.chats.map((c) => c.id),
      [5, 4, 2, 1],
    );
    assert.equal(s.pages, 2);
    // Chat 5 was deleted (it would sort inside the page but is not in it); chat 6 is new.
    // Chats older than the page's oldest may just have moved to page 2: they stay.
    s = mergeChatPage(s, page([chat(6, { created_at: at(60) }), chat(4, { created_at: at(40) })], 'p2'), 1);
    assert.deepEqual(
      s.chats.map((c) => c.id),
      [6, 4, 2, 1],
    );
    // The only page is the whole list.
    s = mergeChatPage(s, page([chat(6, { created_at: at(60) })]), 1);
    assert.deepEqual(
      s.chats.map((c) => c.id),
      [6],
    );
  });
});

describe('messages', () => {
  test('a page (newest first from the API) is held oldest first and knows whether older ones exist', () => {
    const s = mergeMessagePage(emptyMessages(1), page([message(3), message(2)], 'older'), ME, { older: false });
    assert.deepEqual(
      s.messages.map((m) => m.id),
      [2, 3],
    );
    assert.equal(s.hasOlder, true);
    assert.equal(s.lastSeq, 3);
    const older = mergeMessagePage(s, page([message(1)]), ME, { older: true });
    assert.deepEqual(
      older.messages.map((m) => m.id),
      [1, 2, 3],
    );
    assert.equal(older.hasOlder, false);
  });

  test('events are applied once however often they arrive', () => {
    let s = mergeMessagePage(emptyMessages(1), page([message(1)]), ME, { older: false });
    const events: LiveEvent[] = [
      { type: 'new_message', chat_id: 1, seq: 2, message: message(2) },
      { type: 'message_updated', chat_id: 1, seq: 3, message: message(2, { content: 'edited', is_edited: true, updated_at: at(100) }) },
      { type: 'reaction_updated', chat_id: 1, seq: 4, message_id: 2, reactions: [{ emoji: '👍', count: 1, users: [ME] }] },
    ];
    for (const e of events) s = applyMessageEvent(s, e, ME);
    const once = s;
    for (const e of events) s = applyMessageEvent(s, e, ME);
    assert.deepEqual(s, once);
    assert.deepEqual(
      s.messages.map((m) => [m.id, m.content]),
      [
        [1, 'message 1'],
        [2, 'edited'],
      ],
    );
    assert.equal(s.messages[1]!.reactions[0]!.count, 1);
    assert.equal(s.lastSeq, 4);
  });

  test("another chat's events are ignored", () => {
    const s = mergeMessagePage(emptyMessages(1), page([message(1)]), ME, { older: false });
    assert.equal(applyMessageEvent(s, { type: 'new_message', chat_id: 2, seq: 9, message: message(9, { chat: 2 }) }, ME), s);
  });

  test('a deleted message becomes a tombstone: no content, no reactions; later edits of it are ignored', () => {
    let s = mergeMessagePage(emptyMessages(1), page([message(1, { reactions: [{ emoji: '🎉', count: 1, users: [2] }] })]), ME, { older: false });
    s = applyMessageEvent(s, { type: 'message_deleted', chat_id: 1, seq: 5, message_id: 1 }, ME);
    assert.deepEqual([s.messages[0]!.is_deleted, s.messages[0]!.content, s.messages[0]!.reactions], [true, '', []]);
    s = applyMessageEvent(s, { type: 'message_updated', chat_id: 1, seq: 4, message: message(1, { content: 'old edit' }) }, ME);
    assert.equal(s.messages[0]!.content, '');
    assert.deepEqual(visibleMessages(s, false), []);
    assert.equal(visibleMessages(s, true).length, 1);
  });

  test('an optimistic send is replaced by the stored message with the same client_id, once', () => {
    let s = emptyMessages(1);
    s = addPending(s, { client_id: 'c1', content: 'hi', created_at: at(1), status: 'sending' });
    s = addPending(s, { client_id: 'c1', content: 'hi', created_at: at(1), status: 'sending' });
    assert.equal(s.pending.length, 1, 'the same client_id is one send');
    const stored = message(7, { sender: user(ME), client_id: 'c1', content: 'hi' });
    // The event and the POST answer both arrive, in either order: one message.
    s = applyMessageEvent(s, { type: 'new_message', chat_id: 1, seq: 7, message: stored }, ME);
    s = applyOwnMessage(s, stored, ME);
    assert.deepEqual(s.pending, []);
    assert.deepEqual(
      s.messages.map((m) => m.id),
      [7],
    );
  });

  test("someone else's message with the same client_id does not settle our send", () => {
    let s = addPending(emptyMessages(1), { client_id: 'c1', content: 'hi', created_at: at(1), status: 'sending' });
    s = applyMessageEvent(s, { type: 'new_message', chat_id: 1, seq: 3, message: message(3, { client_id: 'c1' }) }, ME);
    assert.equal(s.pending.length, 1);
  });

  test('a late REST answer does not take away a read receipt that arrived first', () => {
    let s = addPending(emptyMessages(1), { client_id: 'c1', content: 'hi', created_at: at(1), status: 'sending' });
    const stored = message(7, { sender: user(ME), client_id: 'c1', content: 'hi', read_by: [ME] });
    // The socket is quicker than the POST's answer: the message, then the other's receipt.
    s = applyMessageEvent(s, { type: 'new_message', chat_id: 1, seq: 7, message: stored }, ME);
    s = applyMessageEvent(s, { type: 'read_receipt', chat_id: 1, seq: 8, user_id: 2, last_read_message_id: 7 }, ME);
    s = applyOwnMessage(s, stored, ME);
    assert.equal(readStatus(s.messages[0]!, ME).status, 'read');
    s = mergeMessagePage(s, page([stored]), ME, { older: false });
    assert.deepEqual(s.messages[0]!.read_by, [ME, 2]);
  });

  test('a page does not overwrite a newer edit that arrived live', () => {
    let s = mergeMessagePage(emptyMessages(1), page([message(1)]), ME, { older: false });
    s = applyMessageEvent(s, { type: 'message_updated', chat_id: 1, seq: 3, message: message(1, { content: 'new', updated_at: at(60) }) }, ME);
    s = mergeMessagePage(s, page([message(1, { content: 'old', updated_at: at(1) })]), ME, { older: true });
    assert.equal(s.messages[0]!.content, 'new');
  });

  test('read receipts and sending move read pointers: read status of own messages', () => {
    let s = mergeMessagePage(
      emptyMessages(1),
      page([message(2, { sender: user(ME), read_by: [ME] }), message(1, { sender: user(ME), read_by: [ME] })]),
      ME,
      { older: false },
    );
    assert.equal(readStatus(s.messages[1]!, ME).status, 'sent');
    s = applyMessageEvent(s, { type: 'read_receipt', chat_id: 1, seq: 3, user_id: 2, last_read_message_id: 1 }, ME);
    assert.deepEqual(
      s.messages.map((m) => readStatus(m, ME).status),
      ['read', 'sent'],
    );
    // User 3 answers: sending implies they read everything before.
    s = applyMessageEvent(s, { type: 'new_message', chat_id: 1, seq: 4, message: message(4, { sender: user(3), read_by: [3] }) }, ME);
    assert.deepEqual(readStatus(s.messages[1]!, ME), { status: 'read', readers: [3] });
  });

  test('messages from one sender within five minutes form one group', () => {
    const a = message(1, { created_at: at(0) });
    assert.equal(startsGroup(undefined, a), true);
    assert.equal(startsGroup(a, message(2, { created_at: at(60) })), false);
    assert.equal(startsGroup(a, message(3, { created_at: at(301) })), true);
    assert.equal(startsGroup(a, message(4, { created_at: at(60), sender: user(9) })), true);
    assert.equal(startsGroup(a, message(5, { created_at: at(60), sender: null })), true);
  });
});

describe('typing', () => {
  test('typing shows until false, a message, or the timeout', () => {
    let t = applyTyping({}, { type: 'typing', chat_id: 1, user_id: 2, is_typing: true }, ME, 1000, 6000);
    t = applyTyping(t, { type: 'typing', chat_id: 1, user_id: 3, is_typing: true }, ME, 1000, 6000);
    assert.deepEqual(typingUsers(t, 1, 2000), [2, 3]);
    assert.deepEqual(typingUsers(t, 1, 7001), [], 'expired');
    t = applyTyping(t, { type: 'typing', chat_id: 1, user_id: 3, is_typing: false }, ME, 2000, 6000);
    t = applyTyping(t, { type: 'new_message', chat_id: 1, seq: 9, message: message(9, { sender: user(2) }) }, ME, 2000, 6000);
    assert.deepEqual(typingUsers(t, 1, 2000), []);
  });

  test('a polling snapshot replaces the set; we never show ourselves', () => {
    const t = applyTyping({ 1: { 5: 99999 } }, { type: 'typing_snapshot', chat_id: 1, user_ids: [ME, 2] }, ME, 0, 6000);
    assert.deepEqual(typingUsers(t, 1, 1), [2]);
  });

  test('typing text', () => {
    assert.equal(typingText([]), '');
    assert.equal(typingText(['Ann']), 'Ann is typing…');
    assert.equal(typingText(['Ann', 'Bo']), 'Ann and Bo are typing…');
    assert.equal(typingText(['Ann', 'Bo', 'Cy']), 'Several people are typing…');
  });
});

describe('permissions follow the API and the settings', () => {
  test('members and rename: group admins; DMs rename only when allowed', () => {
    const group = chat(1, { admins: [ME] });
    assert.equal(canManageMembers(group, ME), true);
    assert.equal(canManageMembers(group, 2), false);
    assert.equal(canRename(group, 2, DEFAULT_CONFIG), false);
    const dm = chat(2, { chat_type: 'dm', admins: [] });
    assert.equal(canManageMembers(dm, ME), false);
    assert.equal(canRename(dm, ME, DEFAULT_CONFIG), false);
    assert.equal(canRename(dm, ME, { ...DEFAULT_CONFIG, allow_renaming_dms: true }), true);
    assert.equal(canDeleteChat(dm, ME), true);
    assert.equal(canDeleteChat(group, 2), false);
  });

  test('edit and delete: own messages, not deleted, when the settings allow', () => {
    const own = message(1, { sender: user(ME) });
    assert.equal(canEdit(own, ME, DEFAULT_CONFIG), true);
    assert.equal(canEdit(message(2), ME, DEFAULT_CONFIG), false);
    assert.equal(canEdit(own, ME, { ...DEFAULT_CONFIG, allow_editing_own_messages: false }), false);
    assert.equal(canDeleteMessage(own, ME, { ...DEFAULT_CONFIG, allow_deleting_own_messages: false }), false);
    assert.equal(canDeleteMessage({ ...own, is_deleted: true }, ME, DEFAULT_CONFIG), false);
  });
});
