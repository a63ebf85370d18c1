//! The sidebar: who is signed in, new chat, rooms (when the server has them), chat search, and
//! the chat list (newest activity first, unread counts, paging).

import { useEffect, useRef, useState } from 'preact/hooks';
import { listed, type Chat, type Id, type MessengerState } from '../../client/src/index.ts';
import { listTime } from './format.ts';
import { HashIcon, PlusIcon, SearchIcon } from './icons.tsx';

interface Props {
  state: MessengerState;
  roomsAvailable: boolean;
  onOpen: (id: Id) => void;
  onNewChat: () => void;
  onBrowseRooms: () => void;
  onSearch: (q: string) => void;
  onMore: () => void;
}

export function Sidebar({ state, roomsAvailable, onOpen, onNewChat, onBrowseRooms, onSearch, onMore }: Props) {
  const [query, setQuery] = useState(state.chats.search);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const me = state.me!;
  const list = state.chats;
  const chats = list.chats.filter((c) => listed(c, state.config));
  const now = new Date(state.now);

  const onInput = (v: string) => {
    setQuery(v);
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(() => onSearch(v.trim()), 250);
  };

  return (
    <aside class="sidebar" aria-label="Chats">
      <div class="sidebar-header">
        <div class="me">
          <img class="avatar avatar-sm" src={me.avatar_url} alt="" width={32} height={32} />
          <div class="me-names">
            <span class="me-name">{me.display_name}</span>
            <span class="me-username">@{me.username}</span>
          </div>
        </div>
        <form method="post" action="/logout/" class="logout-form">
          <button type="submit" class="btn btn-ghost btn-small" id="logout-btn">
            Sign out
          </button>
        </form>
      </div>
      <div class="sidebar-actions">
        <button type="button" id="new-chat-btn" class="btn btn-primary" onClick={onNewChat}>
          <PlusIcon /> New chat
        </button>
        <button type="button" id="browse-rooms-btn" class="btn" hidden={!roomsAvailable} onClick={onBrowseRooms}>
          <HashIcon /> Rooms
        </button>
      </div>
      <div class="sidebar-search">
        <SearchIcon />
        <input
          id="chat-search"
          type="search"
          placeholder="Search chats"
          aria-label="Search chats"
          autocomplete="off"
          value={query}
          onInput={(e) => onInput((e.target as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Escape' && query) {
              e.stopPropagation();
              onInput('');
            }
          }}
        />
      </div>
      <nav class="chat-list-wrap" aria-label="Chat list">
        {!list.loaded ? (
          <ul class="chat-skeleton" aria-busy="true" aria-label="Loading chats">
            {[0, 1, 2, 3].map((i) => (
              <li key={i} class="skeleton-row">
                <span class="skeleton-avatar" />
                <span class="skeleton-lines">
                  <span class="skeleton-line" />
                  <span class="skeleton-line short" />
                </span>
              </li>
            ))}
          </ul>
        ) : (
          <ul id="chat-list">
            {chats.map((c) => (
              <ChatItem key={c.id} chat={c} me={me.id} open={c.id === state.openChatId} now={now} onOpen={onOpen} />
            ))}
          </ul>
        )}
        {list.loaded && chats.length === 0 && (
          <div class="empty-list">
            {list.search ? (
              <p>No chats match “{list.search}”.</p>
            ) : (
              <>
                <p>No chats yet — start one.</p>
                <button type="button" class="btn btn-primary" onClick={onNewChat}>
                  <PlusIcon /> New chat
                </button>
              </>
            )}
          </div>
        )}
        {list.hasMore && <LoadMore loading={state.chatsLoading} onMore={onMore} />}
      </nav>
    </aside>
  );
}

function preview(chat: Chat, me: Id): string {
  const m = chat.last_message;
  if (!m) return 'No messages yet';
  const text = m.content.replace(/\s+/g, ' ');
  if (m.sender?.id === me) return `You: ${text}`;
  if (chat.chat_type !== 'dm') return `${(m.sender?.display_name ?? 'Deleted user').split(' ')[0]}: ${text}`;
  return text;
}

function chatAvatar(chat: Chat, me: Id): string | null {
  if (chat.chat_type !== 'dm') return null;
  return chat.members.find((u) => u.id !== me)?.avatar_url ?? null;
}

function ChatItem({ chat, me, open, now, onOpen }: { chat: Chat; me: Id; open: boolean; now: Date; onOpen: (id: Id) => void }) {
  const avatar = chatAvatar(chat, me);
  const unread = chat.unread_count > 0;
  const when = chat.last_message?.created_at ?? chat.created_at;
  return (
    <li class={`chat-item${open ? ' active' : ''}${unread ? ' unread' : ''}`} data-chat-id={chat.id}>
      <button type="button" class="chat-item-btn" aria-current={open ? 'true' : undefined} onClick={() => onOpen(chat.id)}>
        {avatar ? (
          <img class="avatar" src={avatar} alt="" width={40} height={40} />
        ) : chat.chat_type === 'room' ? (
          <span class="avatar group-avatar room-avatar" aria-hidden="true">
            <HashIcon />
          </span>
        ) : (
          <span class="avatar group-avatar" aria-hidden="true">
            {initials(chat.title)}
          </span>
        )}
        <span class="chat-item-text">
          <span class="chat-item-top">
            <span class="chat-title">{chat.title}</span>
            <span class="chat-time">{listTime(when, now)}</span>
          </span>
          <span class="chat-item-bottom">
            <span class={`last-message${chat.last_message ? '' : ' empty'}`}>{preview(chat, me)}</span>
            {unread && (
              <span class="unread-indicator" aria-label={`${chat.unread_count} unread`}>
                {chat.unread_count > 99 ? '99+' : chat.unread_count}
              </span>
            )}
          </span>
        </span>
      </button>
    </li>
  );
}

function initials(title: string): string {
  const words = title.trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0]![0], words[1]![0]] : [...(words[0] ?? '#')].slice(0, 2);
  return letters.join('').toUpperCase();
}

/** Loads the next page when it scrolls into view (and on click). */
function LoadMore({ loading, onMore }: { loading: boolean; onMore: () => void }) {
  const ref = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof IntersectionObserver === 'undefined') return;
    const io = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && onMore());
    io.observe(el);
    return () => io.disconnect();
  }, [onMore]);
  return (
    <button type="button" ref={ref} class="btn btn-ghost load-more-chats" disabled={loading} onClick={onMore}>
      {loading ? 'Loading…' : 'Load more chats'}
    </button>
  );
}
