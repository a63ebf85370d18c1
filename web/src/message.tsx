//! One message of the list, with the hooks of SPEC §11: bubble (own right, others left),
//! sender name, content (text, links only for http/https), timestamp on click ("Edited"),
//! read status on own messages, reaction pills, the emoji and context-menu buttons.

import { useEffect, useRef } from 'preact/hooks';
import {
  canDeleteMessage,
  canEdit,
  canReact,
  readStatus,
  type Id,
  type Message,
  type PendingSend,
  type UiConfig,
  type User,
  GONE_USER,
} from '../../client/src/index.ts';
import { clock, fullTime, linkify } from './format.ts';
import { DotsIcon, EditIcon, SmileIcon, TrashIcon } from './icons.tsx';

/** Message text: user text is text (Preact escapes it); http(s) URLs become links. */
export function Content({ text }: { text: string }) {
  return (
    <span class="message-content">
      {linkify(text).map((p, i) =>
        'href' in p ? (
          <a key={i} href={p.href} target="_blank" rel="noopener noreferrer nofollow">
            {p.text}
          </a>
        ) : (
          p.text
        ),
      )}
    </span>
  );
}

export interface MessageActions {
  select(id: Id | null): void;
  openMenu(id: Id | null): void;
  openPicker(m: Message): void;
  react(m: Message, emoji: string): void;
  edit(m: Message): void;
  remove(m: Message): void;
}

interface Props {
  m: Message;
  me: Id;
  config: UiConfig;
  /** Shows the sender's name and avatar (first of a run from one sender). */
  groupStart: boolean;
  /** Group chats name every sender; DMs need not. */
  showNames: boolean;
  selected: boolean;
  menuOpen: boolean;
  editing: boolean;
  members: Map<Id, User>;
  now: Date;
  actions: MessageActions;
}

export function MessageItem({ m, me, config, groupStart, showNames, selected, menuOpen, editing, members, now, actions }: Props) {
  const sender = m.sender ?? GONE_USER;
  const own = sender.id === me;
  const side = own ? 'own' : 'other';
  const nameVisible = !own && groupStart && showNames;

  if (m.is_deleted) {
    return (
      <div class={`message-row ${side}${groupStart ? ' group-start' : ''}${nameVisible ? ' with-name' : ''}`} data-message-id={m.id}>
        <Avatar user={sender} show={!own && groupStart} />
        <div class="message-body">
          <span class={nameVisible ? 'sender-name' : 'sender-name visually-hidden'}>{sender.display_name}</span>
          <div class={`message-bubble message-bubble-${side} is-deleted`}>
            <span class="deleted-indicator">This message was deleted</span>
          </div>
        </div>
      </div>
    );
  }

  const mayEdit = canEdit(m, me, config);
  const mayDelete = canDeleteMessage(m, me, config);
  const mayReact = canReact(m, config);
  const rs = own ? readStatus(m, me) : null;
  const readers = rs?.readers.map((id) => members.get(id)?.display_name ?? 'someone') ?? [];

  return (
    <div
      class={`message-row ${side}${groupStart ? ' group-start' : ''}${nameVisible ? ' with-name' : ''}${selected ? ' selected' : ''}${editing ? ' editing' : ''}`}
      data-message-id={m.id}
    >
      <Avatar user={sender} show={!own && groupStart} />
      <div class="message-body">
        {nameVisible ? (
          <div class="message-meta">
            <span class="sender-name">{sender.display_name}</span>
            <span class="meta-time">{clock(m.created_at)}</span>
          </div>
        ) : (
          <span class="sender-name visually-hidden">{sender.display_name}</span>
        )}
        <div
          class={`message-bubble message-bubble-${side}`}
          role="button"
          tabIndex={0}
          aria-expanded={selected}
          aria-label={undefined}
          onClick={(e) => {
            if ((e.target as HTMLElement).closest('a')) return;
            actions.select(selected ? null : m.id);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter' || e.key === ' ') {
              e.preventDefault();
              actions.select(selected ? null : m.id);
            }
          }}
        >
          <Content text={m.content} />
          {rs && (
            <span
              class={`read-status is-${rs.status}`}
              data-status={rs.status}
              title={rs.status === 'read' ? `Read by ${readers.join(', ')}` : 'Sent'}
            >
              <span aria-hidden="true">{rs.status === 'read' ? '✓✓' : '✓'}</span>
              <span class="visually-hidden">{rs.status === 'read' ? 'Read' : 'Sent'}</span>
            </span>
          )}
        </div>
        {selected && (
          <div class="message-timestamp">
            <time dateTime={m.created_at}>{fullTime(m.created_at, now)}</time>
            {m.is_edited && (
              <span class="edited" title={`Edited ${fullTime(m.updated_at, now)}`}>
                {' '}
                · Edited
              </span>
            )}
          </div>
        )}
        <div class="reactions-container">
          {m.reactions.map((r) => {
            const mine = r.users.includes(me);
            const who = r.users.map((id) => (id === me ? 'You' : (members.get(id)?.display_name ?? 'someone'))).join(', ');
            return mayReact ? (
              <button
                type="button"
                key={r.emoji}
                class={`reaction${mine ? ' reaction-own' : ''}`}
                aria-pressed={mine}
                title={`${who} reacted with ${r.emoji}`}
                onClick={() => actions.react(m, r.emoji)}
              >
                <span class="reaction-emoji">{r.emoji}</span>
                <span class="reaction-count">{r.count}</span>
              </button>
            ) : (
              <span key={r.emoji} class={`reaction${mine ? ' reaction-own' : ''}`} title={`${who} reacted with ${r.emoji}`}>
                <span class="reaction-emoji">{r.emoji}</span>
                <span class="reaction-count">{r.count}</span>
              </span>
            );
          })}
        </div>
      </div>
      {(mayReact || mayEdit || mayDelete) && (
        <div class={`message-actions${menuOpen ? ' open' : ''}`}>
          {mayReact && (
            <button type="button" class="icon-btn emoji-btn" aria-label="Add reaction" title="Add reaction" onClick={() => actions.openPicker(m)}>
              <SmileIcon />
            </button>
          )}
          {(mayEdit || mayDelete) && (
            <div class="menu-anchor">
              <button
                type="button"
                class="icon-btn context-menu-btn"
                aria-label="More actions"
                title="More actions"
                aria-haspopup="menu"
                aria-expanded={menuOpen}
                onClick={() => actions.openMenu(menuOpen ? null : m.id)}
              >
                <DotsIcon />
              </button>
              {menuOpen && <ContextMenu onClose={() => actions.openMenu(null)} edit={mayEdit ? () => actions.edit(m) : null} remove={mayDelete ? () => actions.remove(m) : null} />}
            </div>
          )}
        </div>
      )}
    </div>
  );
}

function ContextMenu({ edit, remove, onClose }: { edit: (() => void) | null; remove: (() => void) | null; onClose: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    ref.current?.querySelector<HTMLElement>('button')?.focus();
    const onDown = (e: PointerEvent) => {
      if (ref.current && !ref.current.parentElement?.contains(e.target as Node)) onClose();
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        onClose();
      }
    };
    document.addEventListener('pointerdown', onDown);
    document.addEventListener('keydown', onKey, true);
    return () => {
      document.removeEventListener('pointerdown', onDown);
      document.removeEventListener('keydown', onKey, true);
    };
  }, []);
  const run = (f: () => void) => () => {
    onClose();
    f();
  };
  return (
    <div class="context-menu" role="menu" ref={ref}>
      {edit && (
        <button type="button" role="menuitem" class="menu-item edit-btn" onClick={run(edit)}>
          <EditIcon /> Edit
        </button>
      )}
      {remove && (
        <button type="button" role="menuitem" class="menu-item danger delete-btn" onClick={run(remove)}>
          <TrashIcon /> Delete
        </button>
      )}
    </div>
  );
}

function Avatar({ user, show }: { user: User; show: boolean }) {
  if (!show) return <span class="avatar-spacer" />;
  if (!user.avatar_url) return <span class="avatar avatar-msg" aria-hidden="true" />;
  return <img class="avatar avatar-msg" src={user.avatar_url} alt="" width={32} height={32} />;
}

/** Our own message on its way (or failed): shown at once, replaced in place when stored. */
export function PendingItem({ p, me, onRetry, onDiscard }: { p: PendingSend; me: User; onRetry: () => void; onDiscard: () => void }) {
  return (
    <div class={`message-row own pending is-${p.status}`} data-client-id={p.client_id}>
      <span class="avatar-spacer" />
      <div class="message-body">
        <span class="sender-name visually-hidden">{me.display_name}</span>
        <div class="message-bubble message-bubble-own">
          <Content text={p.content} />
          <span class={`read-status is-${p.status}`} data-status={p.status} title={p.status === 'sending' ? 'Sending…' : 'Not sent'}>
            <span aria-hidden="true">{p.status === 'sending' ? '◷' : '!'}</span>
            <span class="visually-hidden">{p.status === 'sending' ? 'Sending' : 'Not sent'}</span>
          </span>
        </div>
        {p.status === 'failed' && (
          <div class="send-failed" role="alert">
            Not sent{p.error ? `: ${p.error}` : ''}.{' '}
            <button type="button" class="link-btn retry-send-btn" onClick={onRetry}>
              Retry
            </button>{' '}
            <button type="button" class="link-btn" onClick={onDiscard}>
              Discard
            </button>
          </div>
        )}
      </div>
    </div>
  );
}
