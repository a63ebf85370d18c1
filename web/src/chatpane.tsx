//! The open chat: header (title with rename, members, leave, ⋮ delete, typing), the message log
//! (newest at the bottom, older pages on scroll up, the view stays put while they load) and
//! the composer (Enter sends, Shift+Enter a new line, Esc ends an edit).

import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  canDeleteChat,
  canLeave,
  canManageMembers,
  canRename,
  startsGroup,
  typingText,
  typingUsers,
  visibleMessages,
  type Chat,
  type Id,
  type Message,
  type Messenger,
  type MessengerState,
  type User,
} from '../../client/src/index.ts';
import { EmojiPopover } from './emoji.tsx';
import { dayLabel, memberCount, newDay } from './format.ts';
import { ArrowDownIcon, BackIcon, ChatIcon, LeaveIcon, MoreIcon, SendIcon, SmileIcon, TrashIcon, UsersIcon } from './icons.tsx';
import { MessageItem, PendingItem, type MessageActions } from './message.tsx';

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
      <Conversation key={chat.id} messenger={messenger} state={state} chat={chat} />
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
      : memberCount(chat.members.length);

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
            <UsersIcon /> <span class="btn-label">{chat.members.length}</span>
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

// ---------------------------------------------------------------- messages + composer

/** Focuses an input and selects its text the first time it is mounted. */
function selectOnMount(el: HTMLInputElement | null): void {
  if (el && !el.dataset.selected) {
    el.dataset.selected = '1';
    el.focus();
    el.select();
  }
}

const NEAR_BOTTOM_PX = 48;
const NEAR_TOP_PX = 200;

function Conversation({ messenger, state, chat }: { messenger: Messenger; state: MessengerState; chat: Chat }) {
  const me = state.me!;
  const held = state.messages[chat.id];
  const shown = held ? visibleMessages(held, state.config.show_deleted_message_indicators) : [];
  const pending = held?.pending ?? [];
  const members = useMemo(() => new Map<Id, User>(chat.members.map((u) => [u.id, u])), [chat.members]);
  const now = new Date(state.now);

  const [selected, setSelected] = useState<Id | null>(null);
  const [menuFor, setMenuFor] = useState<Id | null>(null);
  const [pickerFor, setPickerFor] = useState<Message | 'composer' | null>(null);
  const [editing, setEditing] = useState<Message | null>(null);
  const [draft, setDraft] = useState('');
  const [unseen, setUnseen] = useState(0);

  const list = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const atBottom = useRef(true);
  const lastHeight = useRef(0);
  const lastFirst = useRef<Id | null>(null);
  const lastCount = useRef(0);

  // Keep the view still: at the bottom while at the bottom; in place when older pages load.
  useLayoutEffect(() => {
    const el = list.current;
    if (!el) return;
    const first = shown[0]?.id ?? null;
    const count = shown.length + pending.length;
    const prepended = lastFirst.current !== null && first !== null && first < lastFirst.current;
    if (prepended) {
      el.scrollTop += el.scrollHeight - lastHeight.current;
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    } else if (count > lastCount.current) {
      setUnseen((n) => n + (count - lastCount.current));
    }
    lastFirst.current = first;
    lastHeight.current = el.scrollHeight;
    lastCount.current = count;
  });

  // The composer gets focus when a chat opens (not on touch screens: the keyboard would jump up).
  useEffect(() => {
    if (!matchMedia('(pointer: coarse)').matches) input.current?.focus();
  }, []);

  // Small inputs grow with their text, up to a limit.
  useLayoutEffect(() => {
    const el = input.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 160)}px`;
  }, [draft]);

  const onScroll = () => {
    const el = list.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX;
    if (atBottom.current && unseen) setUnseen(0);
    if (el.scrollTop < NEAR_TOP_PX && held?.hasOlder) void messenger.loadOlder(chat.id);
    lastHeight.current = el.scrollHeight;
  };

  // A first page that does not fill the view: fetch more until it scrolls (or none are left).
  useEffect(() => {
    const el = list.current;
    if (el && held?.loaded && held.hasOlder && el.scrollHeight <= el.clientHeight + NEAR_TOP_PX) void messenger.loadOlder(chat.id);
  }, [held?.loaded, held?.hasOlder, shown.length]);

  const toBottom = () => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
    atBottom.current = true;
    setUnseen(0);
  };

  const startEdit = (m: Message) => {
    setEditing(m);
    setDraft(m.content);
    requestAnimationFrame(() => {
      const el = input.current;
      if (el) {
        el.focus();
        el.setSelectionRange(el.value.length, el.value.length);
      }
    });
  };

  const cancelEdit = () => {
    setEditing(null);
    setDraft('');
  };

  const actions: MessageActions = {
    select: setSelected,
    openMenu: setMenuFor,
    openPicker: (m) => setPickerFor(m),
    react: (m, emoji) => void messenger.toggleReaction(m, emoji),
    edit: startEdit,
    remove: (m) => {
      if (editing?.id === m.id) cancelEdit();
      void messenger.deleteMessage(m);
    },
  };

  const submit = async () => {
    if (editing) {
      const m = editing;
      if (await messenger.edit(m, draft)) cancelEdit();
      return;
    }
    if (messenger.send(draft)) {
      setDraft('');
      atBottom.current = true;
    }
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void submit();
    } else if (e.key === 'Escape' && editing) {
      e.stopPropagation();
      cancelEdit();
    } else if (e.key === 'ArrowUp' && !draft && !editing) {
      // As in Slack: ↑ in an empty composer edits your last message.
      const last = [...shown].reverse().find((m) => m.sender?.id === me.id && !m.is_deleted);
      if (last && state.config.allow_editing_own_messages) {
        e.preventDefault();
        startEdit(last);
      }
    }
  };

  const max = state.config.max_message_length;
  const length = [...draft].length;
  const empty = draft.trim() === '';
  const placeholder = `Message ${chat.title}`;
  const showNames = chat.chat_type !== 'dm';

  let prev: Message | undefined;
  const items = shown.map((m) => {
    const day = newDay(prev?.created_at, m.created_at);
    const groupStart = day || startsGroup(prev, m);
    prev = m;
    return (
      <div key={m.client_id ?? `m${m.id}`} class="message-wrap">
        {day && (
          <div class="day-separator" role="separator">
            <span>{dayLabel(m.created_at, now)}</span>
          </div>
        )}
        <MessageItem
          m={m}
          me={me.id}
          config={state.config}
          groupStart={groupStart}
          showNames={showNames}
          selected={selected === m.id}
          menuOpen={menuFor === m.id}
          editing={editing?.id === m.id}
          members={members}
          now={now}
          actions={actions}
        />
      </div>
    );
  });

  return (
    <>
      <div id="message-list" class="message-list" role="log" aria-live="polite" aria-label={`Messages in ${chat.title}`} ref={list} onScroll={onScroll}>
        {held?.loaded && !held.hasOlder && (
          <div class="chat-start">
            <strong>{chat.title}</strong>
            <span>{shown.length || pending.length ? 'This is the start of the conversation.' : 'No messages yet. Say hello!'}</span>
          </div>
        )}
        {held?.hasOlder && <div class="loading-older">{state.loadingOlder[chat.id] ? 'Loading older messages…' : ''}</div>}
        {!held?.loaded && <div class="pane-loading">Loading messages…</div>}
        {items}
        {pending.map((p) => (
          <div key={p.client_id} class="message-wrap">
            <PendingItem p={p} me={me} onRetry={() => messenger.retrySend(p.client_id)} onDiscard={() => messenger.discardSend(p.client_id)} />
          </div>
        ))}
      </div>
      {unseen > 0 && (
        <button type="button" class="new-below" onClick={toBottom}>
          <ArrowDownIcon /> {unseen === 1 ? '1 new message' : `${unseen} new messages`}
        </button>
      )}
      <form
        class={`composer${editing ? ' is-editing' : ''}`}
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        {editing && (
          <div class="editing-bar">
            <span>Editing message</span>
            <button type="button" class="link-btn" onClick={cancelEdit}>
              Cancel <kbd>Esc</kbd>
            </button>
          </div>
        )}
        <div class="composer-row">
          <button type="button" class="icon-btn composer-emoji-btn" aria-label="Insert emoji" title="Insert emoji" onClick={() => setPickerFor('composer')}>
            <SmileIcon />
          </button>
          <textarea
            id="message-input"
            ref={input}
            rows={1}
            placeholder={placeholder}
            aria-label={editing ? 'Edit message' : placeholder}
            value={draft}
            onInput={(e) => {
              setDraft((e.target as HTMLTextAreaElement).value);
              if (!editing) messenger.typingInput();
            }}
            onKeyDown={onKeyDown}
            onBlur={() => messenger.stopTyping()}
          />
          {editing ? (
            <button type="submit" class="btn btn-primary edit-save-btn" disabled={empty || length > max}>
              Save
            </button>
          ) : (
            <button type="submit" id="send-btn" class="icon-btn send-btn" aria-label="Send" title="Send (Enter)" disabled={empty || length > max}>
              <SendIcon />
            </button>
          )}
        </div>
        {length > max * 0.9 && (
          <div class={`char-count${length > max ? ' over' : ''}`} aria-live="polite">
            {length} / {max}
          </div>
        )}
      </form>
      {pickerFor && (
        <EmojiPopover
          label={pickerFor === 'composer' ? 'Insert emoji' : 'Add reaction'}
          onClose={() => setPickerFor(null)}
          onPick={(emoji) => {
            if (pickerFor === 'composer') {
              setDraft((d) => d + emoji);
              input.current?.focus();
            } else {
              void messenger.toggleReaction(pickerFor, emoji);
            }
            setPickerFor(null);
          }}
        />
      )}
    </>
  );
}
