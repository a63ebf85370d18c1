//! Dialogs: a modal shell (focus moves in and back, Esc closes, Tab stays inside), the
//! confirmation dialog and the members dialog (SPEC §11 hooks).

import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Chat, Id, Messenger, User } from '../../client/src/index.ts';
import { CloseIcon, SearchIcon } from './icons.tsx';

interface ModalProps {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  class?: string;
  /** The element to focus first (else the first focusable one). */
  initialFocus?: string;
  closeButton?: boolean;
}

const FOCUSABLE = 'button:not([disabled]), input:not([disabled]), textarea, select, a[href], [tabindex]:not([tabindex="-1"])';

export function Modal({ title, onClose, children, class: cls = '', initialFocus, closeButton = true }: ModalProps) {
  const box = useRef<HTMLDivElement>(null);
  const titleId = useRef(`dialog-${Math.random().toString(36).slice(2)}`).current;

  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const first = (initialFocus && box.current?.querySelector<HTMLElement>(initialFocus)) || box.current?.querySelector<HTMLElement>(FOCUSABLE);
    first?.focus();
    return () => before?.focus?.();
  }, []);

  // Esc closes also when focus has left the dialog (a button that was pressed and then
  // disabled while it works drops the focus to the page).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !box.current?.contains(e.target as Node)) onClose();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [onClose]);

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      onClose();
    } else if (e.key === 'Tab' && box.current) {
      const items = [...box.current.querySelectorAll<HTMLElement>(FOCUSABLE)];
      if (items.length === 0) return;
      const first = items[0]!;
      const last = items[items.length - 1]!;
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    }
  };

  return (
    <div class="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div class={`modal ${cls}`} role="dialog" aria-modal="true" aria-labelledby={titleId} ref={box} onKeyDown={onKeyDown}>
        <div class="modal-header">
          <h2 id={titleId}>{title}</h2>
          {closeButton && (
            <button type="button" id="close-dialog-btn" class="icon-btn" aria-label="Close" title="Close" onClick={onClose}>
              <CloseIcon />
            </button>
          )}
        </div>
        {children}
      </div>
    </div>
  );
}

export interface ConfirmRequest {
  title: string;
  text: string;
  confirm: string;
  onConfirm: () => void;
}

export function ConfirmDialog({ request, onClose }: { request: ConfirmRequest; onClose: () => void }) {
  return (
    <Modal title={request.title} onClose={onClose} class="confirm-dialog" closeButton={false} initialFocus="#confirmation-cancel-btn">
      <p class="modal-text">{request.text}</p>
      <div class="modal-actions">
        <button type="button" id="confirmation-cancel-btn" class="btn" onClick={onClose}>
          Cancel
        </button>
        <button
          type="button"
          id="confirmation-confirm-btn"
          class="btn btn-danger"
          onClick={() => {
            onClose();
            request.onConfirm();
          }}
        >
          {request.confirm}
        </button>
      </div>
    </Modal>
  );
}

function Person({ user, extra }: { user: User; extra?: ComponentChildren }) {
  return (
    <span class="person">
      <img class="avatar avatar-sm" src={user.avatar_url} alt="" width={32} height={32} />
      <span class="person-names">
        <span class="person-name">{user.display_name}</span>
        <span class="person-username">@{user.username}</span>
      </span>
      {extra}
    </span>
  );
}

interface MembersProps {
  messenger: Messenger;
  chat: Chat;
  me: Id;
  onClose: () => void;
}

/** Search people and add them at once; the manage tab lists members with remove. */
export function MembersDialog({ messenger, chat, me, onClose }: MembersProps) {
  const [tab, setTab] = useState<'add' | 'manage'>('add');
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<User[] | null>(null);
  const [searching, setSearching] = useState(false);
  const [busy, setBusy] = useState<Set<Id>>(new Set());
  const memberIds = new Set(chat.members.map((m) => m.id));

  const search = async (e?: Event) => {
    e?.preventDefault();
    const q = query.trim();
    if (!q) return;
    setSearching(true);
    const found = await messenger.searchUsers(q);
    setResults(found);
    setSearching(false);
  };

  const withBusy = async (id: Id, f: () => Promise<unknown>) => {
    setBusy((b) => new Set(b).add(id));
    await f();
    setBusy((b) => {
      const n = new Set(b);
      n.delete(id);
      return n;
    });
  };

  return (
    <Modal title={`Members of ${chat.title}`} onClose={onClose} class="members-dialog" initialFocus="#user-search-input">
      <div class="tabs" role="tablist">
        <button type="button" role="tab" id="add-members-tab" class="tab" aria-selected={tab === 'add'} onClick={() => setTab('add')}>
          Add people
        </button>
        <button type="button" role="tab" id="manage-members-tab" class="tab" aria-selected={tab === 'manage'} onClick={() => setTab('manage')}>
          Members <span class="tab-count">{chat.members.length}</span>
        </button>
      </div>
      {tab === 'add' ? (
        <div class="tab-panel" role="tabpanel" aria-labelledby="add-members-tab">
          <form class="search-row" onSubmit={search}>
            <input
              id="user-search-input"
              type="search"
              placeholder="Search by name, username or email"
              aria-label="Search people"
              autocomplete="off"
              value={query}
              onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
            />
            <button type="submit" id="search-btn" class="btn btn-primary" disabled={searching}>
              <SearchIcon /> <span>Search</span>
            </button>
          </form>
          <ul class="people-list" aria-live="polite" aria-busy={searching}>
            {results === null ? (
              <li class="empty-hint">Find people to add to this chat.</li>
            ) : results.length === 0 ? (
              <li class="empty-hint">Nobody matches “{query.trim()}”.</li>
            ) : (
              results.map((u) => (
                <li key={u.id}>
                  {memberIds.has(u.id) ? (
                    <div class="user-result is-member">
                      <Person user={u} extra={<span class="badge">Member</span>} />
                    </div>
                  ) : (
                    <button
                      type="button"
                      class="user-result add-user-btn"
                      disabled={busy.has(u.id)}
                      title={`Add ${u.display_name}`}
                      onClick={() => withBusy(u.id, () => messenger.addMember(chat.id, u.id))}
                    >
                      <Person user={u} extra={<span class="add-chip">Add</span>} />
                    </button>
                  )}
                </li>
              ))
            )}
          </ul>
        </div>
      ) : (
        <div class="tab-panel" role="tabpanel" aria-labelledby="manage-members-tab">
          <ul class="people-list">
            {chat.members.map((u) => (
              <li key={u.id} class="member-item">
                <Person
                  user={u}
                  extra={
                    <>
                      {chat.admins.includes(u.id) && <span class="badge">Admin</span>}
                      {u.id === me ? (
                        <span class="badge badge-muted">You</span>
                      ) : (
                        <button
                          type="button"
                          class="btn btn-small btn-danger-outline remove-member-btn"
                          disabled={busy.has(u.id)}
                          aria-label={`Remove ${u.display_name} (@${u.username})`}
                          onClick={() => withBusy(u.id, () => messenger.removeMember(chat.id, u.id))}
                        >
                          Remove
                        </button>
                      )}
                    </>
                  }
                />
              </li>
            ))}
          </ul>
        </div>
      )}
    </Modal>
  );
}
