//! The open chat of the messages page: header (title with rename, members, leave, ⋮ delete,
//! typing) above the conversation (conversation.tsx: the message log and the composer).

import { useEffect, useRef, useState } from 'preact/hooks';
import {
  canDeleteChat,
  canLeave,
  canManageMembers,
  canRename,
  memberTotal,
  typingText,
  typingUsers,
  type Chat,
  type Messenger,
  type MessengerState,
} from '../../client/src/index.ts';
import { Conversation, PAGE_HOOKS } from './conversation.tsx';
import { memberCount } from './format.ts';
import { BackIcon, ChatIcon, LeaveIcon, MoreIcon, TrashIcon, UsersIcon } from './icons.tsx';

interface Props {
  messenger: Messenger;
  state: MessengerState;
  chat: Chat | null;
  onMembers: () => void;
  onLeave: () => void;
  onDelete: () => void;
  onBack: () => void;
  onNewChat: () => void;
}

export function ChatPane({ messenger, state, chat, onMembers, onLeave, onDelete, onBack, onNewChat }: Props) {
  if (!chat) {
    const loading = state.openChatId !== null;
    return (
      <main class="chat-pane empty-pane" aria-label="Messages">
        {loading ? (
          <div class="pane-loading">Loading…</div>
        ) : (
          <div class="empty-state">
            <ChatIcon size={40} />
            <h2>Pick a chat</h2>
            <p>Choose a conversation on the left, or start a new one.</p>
            <button type="button" class="btn btn-primary" onClick={onNewChat}>
              New chat
            </button>
          </div>
        )}
      </main>
    );
  }
  return (
    <main class="chat-pane" aria-label={`Chat: ${chat.title}`}>
      <Header messenger={messenger} state={state} chat={chat} onMembers={onMembers} onLeave={onLeave} onDelete={onDelete} onBack={onBack} />
      <Conversation key={chat.id} messenger={messenger} state={state} chat={chat} title={chat.title} hooks={PAGE_HOOKS} autoFocus />
    </main>
  );
}

// ---------------------------------------------------------------- header

function Header({ messenger, state, chat, onMembers, onLeave, onDelete, onBack }: Omit<Props, 'chat' | 'onNewChat'> & { chat: Chat }) {
  const me = state.me!.id;
  const [renaming, setRenaming] = useState(false);
  const [title, setTitle] = useState(chat.title);
  const [menu, setMenu] = useState(false);
  const menuRef = useRef<HTMLDivElement>(null);
  const mayRename = canRename(chat, me, state.config);

  useEffect(() => {
    setRenaming(false);
    setMenu(false);
  }, [chat.id]);

  useEffect(() => {
    if (!menu) return;
    const onDown = (e: PointerEvent) => menuRef.current && !menuRef.current.contains(e.target as Node) && setMenu(false);
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        setMenu(false);
      }
    };
    document.addEventListener('pointerdown', onDown);
    document.addEventListener('keydown', onKey, true);
    return () => {
      document.removeEventListener('pointerdown', onDown);
      document.removeEventListener('keydown', onKey, true);
    };
  }, [menu]);

  const typers = typingUsers(state.typing, chat.id, state.now)
    .map((id) => chat.members.find((u) => u.id === id)?.display_name.split(' ')[0])
    .filter((n): n is string => !!n);

  const save = async (e: Event) => {
    e.preventDefault();
    if (await messenger.rename(chat.id, title)) setRenaming(false);
  };

  const subtitle =
    chat.chat_type === 'dm'
      ? `@${chat.members.find((u) => u.id !== me)?.username ?? ''}`
      : memberCount(memberTotal(chat));

  return (
    <header class="chat-header">
      <button type="button" class="icon-btn back-btn" aria-label="Back to chats" onClick={onBack}>
        <BackIcon />
      </button>
      <div class="chat-header-titles">
        {renaming ? (
          <form class="rename-form" onSubmit={save}>
            <input
              class="chat-title-input"
              aria-label="Chat name"
              maxLength={255}
              value={title}
              ref={selectOnMount}
              onInput={(e) => setTitle((e.target as HTMLInputElement).value)}
              onKeyDown={(e) => {
                if (e.key === 'Escape') {
                  e.stopPropagation();
                  setRenaming(false);
                }
              }}
            />
            <button type="submit" class="btn btn-primary btn-small chat-title-save-btn">
              Save
            </button>
            <button type="button" class="btn btn-small" onClick={() => setRenaming(false)}>
              Cancel
            </button>
          </form>
        ) : (
          <h1 class="chat-name-heading">
            {mayRename ? (
              <button
                type="button"
                id="current-chat-name"
                class="renamable"
                title="Rename"
                onClick={() => {
                  setTitle(chat.title);
                  setRenaming(true);
                }}
              >
                {chat.title}
              </button>
            ) : (
              <span id="current-chat-name">{chat.title}</span>
            )}
          </h1>
        )}
        <div class="chat-subtitle">
          <span id="typing-indicator" class={typers.length ? 'active' : ''} aria-live="polite">
            {typingText(typers)}
          </span>
          {!typers.length && <span class="members-summary">{subtitle}</span>}
        </div>
      </div>
      <div class="chat-header-actions">
        {canManageMembers(chat, me) && (
          <button type="button" id="members-btn" class="btn btn-ghost" aria-label="Members" title="Members" onClick={onMembers}>
            <UsersIcon /> <span class="btn-label">{memberTotal(chat)}</span>
          </button>
        )}
        {canLeave(chat) && (
          <button type="button" id="leave-chat-btn" class="btn btn-ghost" title="Leave chat" onClick={onLeave}>
            <LeaveIcon /> <span class="btn-label">Leave</span>
          </button>
        )}
        {canDeleteChat(chat, me) && (
          <div class="menu-anchor" ref={menuRef}>
            <button
              type="button"
              id="chat-menu-btn"
              class="icon-btn"
              aria-label="Chat options"
              title="Chat options"
              aria-haspopup="menu"
              aria-expanded={menu}
              onClick={() => setMenu(!menu)}
            >
              <MoreIcon />
            </button>
            {menu && (
              <div class="context-menu chat-menu" role="menu">
                <button
                  type="button"
                  role="menuitem"
                  id="delete-chat-btn"
                  class="menu-item danger"
                  onClick={() => {
                    setMenu(false);
                    onDelete();
                  }}
                >
                  <TrashIcon /> Delete chat
                </button>
              </div>
            )}
          </div>
        )}
      </div>
    </header>
  );
}

/** Focuses an input and selects its text the first time it is mounted. */
function selectOnMount(el: HTMLInputElement | null): void {
  if (el && !el.dataset.selected) {
    el.dataset.selected = '1';
    el.focus();
    el.select();
  }
}
