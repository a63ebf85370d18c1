//! One conversation: the message log (newest at the bottom, older pages on scroll up, the view
//! stays put while they load) and the composer (Enter sends, Shift+Enter a new line, Esc ends
//! an edit). Shared by the messages page and the widgets, which give it their own DOM hooks
//! (SPEC §11: `#message-list` / `#widget-message-list` / `.room-message-list`, and so on).

import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  startsGroup,
  visibleMessages,
  type Chat,
  type Id,
  type Message,
  type Messenger,
  type MessengerState,
  type User,
} from '../../client/src/index.ts';
import { EmojiPopover } from './emoji.tsx';
import { dayLabel, newDay } from './format.ts';
import { ArrowDownIcon, SendIcon, SmileIcon } from './icons.tsx';
import { MessageItem, PendingItem, type MessageActions } from './message.tsx';

/** The DOM hooks of one place a conversation is shown (an id, a class, or both). */
export interface Hook {
  id?: string;
  class?: string;
}

export interface ConversationHooks {
  list: Hook;
  input: Hook;
  send: Hook;
}

export const PAGE_HOOKS: ConversationHooks = {
  list: { id: 'message-list' },
  input: { id: 'message-input' },
  send: { id: 'send-btn' },
};

interface Props {
  messenger: Messenger;
  state: MessengerState;
  /** Null: there is no chat yet (a DM widget before its first message). */
  chat: Chat | null;
  /** What the log and the composer call the conversation. */
  title: string;
  /** The composer's placeholder (default: "Message <title>"). */
  placeholder?: string;
  hooks: ConversationHooks;
  /** Focus the composer when shown (not on touch screens: the keyboard would jump up). */
  autoFocus: boolean;
  /** Sends (the DM widget creates its DM first); default: `messenger.send`. */
  onSend?: (text: string) => boolean | Promise<boolean>;
  /** Esc in the composer while not editing (a widget closes). */
  onEscape?: () => void;
}

const NEAR_BOTTOM_PX = 48;
const NEAR_TOP_PX = 200;

const cls = (...parts: Array<string | false | undefined>) => parts.filter(Boolean).join(' ');

export function Conversation({ messenger, state, chat, title, placeholder: hint, hooks, autoFocus, onSend, onEscape }: Props) {
  const me = state.me!;
  const chatId = chat?.id ?? null;
  const held = chatId === null ? undefined : state.messages[chatId];
  const shown = held ? visibleMessages(held, state.config.show_deleted_message_indicators) : [];
  const pending = held?.pending ?? [];
  const members = useMemo(() => new Map<Id, User>((chat?.members ?? []).map((u) => [u.id, u])), [chat?.members]);
  const now = new Date(state.now);
  const loaded = chatId === null || !!held?.loaded;
  const hasOlder = !!held?.hasOlder;

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

  useEffect(() => {
    if (autoFocus && !matchMedia('(pointer: coarse)').matches) input.current?.focus();
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
    if (el.scrollTop < NEAR_TOP_PX && hasOlder && chatId !== null) void messenger.loadOlder(chatId);
    lastHeight.current = el.scrollHeight;
  };

  // A first page that does not fill the view: fetch more until it scrolls (or none are left).
  useEffect(() => {
    const el = list.current;
    if (el && chatId !== null && held?.loaded && hasOlder && el.scrollHeight <= el.clientHeight + NEAR_TOP_PX) void messenger.loadOlder(chatId);
  }, [held?.loaded, hasOlder, shown.length]);

  const toBottom = () => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
    atBottom.current = true;
    setUnseen(0);
  };

  const startEdit = (m: Message) => {
    setEditing(m);
    setDraft(m.content);
  };

  // Entering an edit puts the caret after the text, in the render that shows the text: a
  // later frame would move the caret under whatever was typed or selected meanwhile.
  useLayoutEffect(() => {
    const el = input.current;
    if (editing && el) {
      el.focus();
      el.setSelectionRange(el.value.length, el.value.length);
    }
  }, [editing?.id]);

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
    const text = draft;
    if (await (onSend ? onSend(text) : messenger.send(text))) {
      // Typed on while the send was on its way (a DM being created): keep what is new.
      setDraft((d) => (d === text ? '' : d));
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
    } else if (e.key === 'Escape' && onEscape) {
      e.stopPropagation();
      onEscape();
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
  const placeholder = hint ?? `Message ${title}`;
  const showNames = chat?.chat_type !== 'dm';

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
      <div
        id={hooks.list.id}
        class={cls('message-list', hooks.list.class)}
        role="log"
        aria-live="polite"
        aria-label={`Messages in ${title}`}
        ref={list}
        onScroll={onScroll}
      >
        {loaded && !hasOlder && (
          <div class="chat-start">
            <strong>{title}</strong>
            <span>{shown.length || pending.length ? 'This is the start of the conversation.' : 'No messages yet. Say hello!'}</span>
          </div>
        )}
        {hasOlder && <div class="loading-older">{chatId !== null && state.loadingOlder[chatId] ? 'Loading older messages…' : ''}</div>}
        {!loaded && <div class="pane-loading">Loading messages…</div>}
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
            id={hooks.input.id}
            class={cls('composer-input', hooks.input.class)}
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
            <button
              type="submit"
              id={hooks.send.id}
              class={cls('icon-btn send-btn', hooks.send.class)}
              aria-label="Send"
              title="Send (Enter)"
              disabled={empty || length > max}
            >
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
