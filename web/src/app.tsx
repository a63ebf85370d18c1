//! The messages page: sidebar and chat side by side (two tabs below 700 px), the dialogs, the
//! connection banner and the toasts. State comes from the client library's `Messenger`; this
//! file only renders it and turns clicks into its actions.

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { totalUnread, type Id, type Messenger, type MessengerState } from '../../client/src/index.ts';
import { ChatPane } from './chatpane.tsx';
import { ConfirmDialog, MembersDialog, type ConfirmRequest } from './dialogs.tsx';
import { CloseIcon } from './icons.tsx';
import { RoomsDialog } from './rooms.tsx';
import { Sidebar } from './sidebar.tsx';

function useMessenger(messenger: Messenger): MessengerState {
  const [state, setState] = useState(messenger.state);
  useEffect(() => messenger.subscribe(setState), [messenger]);
  return state;
}

/** The `?chat=<id>` of the address, so a reload (or a shared link) reopens the chat. */
function chatFromUrl(): Id | null {
  const v = new URLSearchParams(location.search).get('chat');
  const n = v ? Number(v) : NaN;
  return Number.isInteger(n) && n > 0 ? n : null;
}

function setChatInUrl(id: Id | null): void {
  const url = new URL(location.href);
  if (id === null) url.searchParams.delete('chat');
  else url.searchParams.set('chat', String(id));
  history.replaceState(null, '', url);
}

export function App({ messenger }: { messenger: Messenger }) {
  const state = useMessenger(messenger);
  // Read once: the address changes as chats open (setChatInUrl).
  const linkedChat = useRef(chatFromUrl()).current;
  const [tab, setTab] = useState<'chats' | 'messages'>(linkedChat ? 'messages' : 'chats');
  const [membersOpen, setMembersOpen] = useState(false);
  const [roomsOpen, setRoomsOpen] = useState(false);
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);

  useEffect(() => {
    void messenger.init(linkedChat);
    const onVisibility = () => messenger.setVisible(document.visibilityState === 'visible');
    const onOnline = () => messenger.reconnectNow();
    document.addEventListener('visibilitychange', onVisibility);
    window.addEventListener('online', onOnline);
    onVisibility();
    return () => {
      document.removeEventListener('visibilitychange', onVisibility);
      window.removeEventListener('online', onOnline);
    };
  }, [messenger]);

  useEffect(() => {
    if (state.phase === 'signed_out') {
      location.assign(`/login/?next=${encodeURIComponent(location.pathname + location.search)}`);
    }
  }, [state.phase]);

  // The tab title counts unread messages.
  useEffect(() => {
    const n = totalUnread(state.chats);
    document.title = n > 0 ? `(${n}) Messages` : 'Messages';
  }, [state.chats]);

  const chat = state.openChatId === null ? null : (state.chats.chats.find((c) => c.id === state.openChatId) ?? null);

  // A chat that went away (deleted, left) closes its dialogs.
  useEffect(() => {
    if (state.phase !== 'ready') return;
    if (!chat) setMembersOpen(false);
    setChatInUrl(state.openChatId);
    if (state.openChatId === null) setTab('chats');
  }, [state.phase, state.openChatId, !!chat]);

  const open = useCallback(
    (id: Id) => {
      setTab('messages');
      void messenger.openChat(id);
    },
    [messenger],
  );

  const newChat = async () => {
    const created = await messenger.createGroup();
    if (created) {
      setTab('messages');
      setMembersOpen(true);
    }
  };

  if (state.phase === 'loading' || state.phase === 'signed_out') {
    return (
      <div class="boot" aria-busy="true">
        <div class="boot-spinner" />
        <p>Loading your chats…</p>
      </div>
    );
  }
  if (state.phase === 'failed') {
    return (
      <div class="boot">
        <p>Couldn't load your chats{state.error ? `: ${state.error}` : '.'}</p>
        <button type="button" class="btn btn-primary" onClick={() => location.reload()}>
          Try again
        </button>
      </div>
    );
  }

  const unread = totalUnread(state.chats);
  const conn = state.connection;

  return (
    <div class={`layout show-${tab}`}>
      <nav class="mobile-tabs" role="tablist" aria-label="Views">
        <button type="button" role="tab" id="chats-tab" aria-selected={tab === 'chats'} onClick={() => setTab('chats')}>
          Chats {unread > 0 && <span class="tab-badge">{unread}</span>}
        </button>
        <button type="button" role="tab" id="messages-tab" aria-selected={tab === 'messages'} disabled={!chat} onClick={() => setTab('messages')}>
          {chat ? chat.title : 'Messages'}
        </button>
      </nav>
      {conn.status === 'reconnecting' && (
        <div class="connection-banner" role="status">
          Connection lost. Reconnecting…{' '}
          <button type="button" class="link-btn" onClick={() => messenger.reconnectNow()}>
            Retry now
          </button>
        </div>
      )}
      <Sidebar
        state={state}
        roomsAvailable={state.roomsAvailable}
        onOpen={open}
        onNewChat={newChat}
        onBrowseRooms={() => setRoomsOpen(true)}
        onSearch={(q) => void messenger.setSearch(q)}
        onMore={() => void messenger.loadMoreChats()}
      />
      <ChatPane
        messenger={messenger}
        state={state}
        chat={chat}
        onBack={() => setTab('chats')}
        onNewChat={newChat}
        onMembers={() => setMembersOpen(true)}
        onLeave={() =>
          chat &&
          setConfirm({
            title: 'Leave chat?',
            text: `You will stop receiving messages from “${chat.title}”.${chat.admins.length === 1 && chat.admins[0] === state.me!.id && chat.members.length > 1 ? ' The longest-standing member becomes its admin.' : ''}`,
            confirm: 'Leave',
            onConfirm: () => void messenger.leaveChat(chat.id),
          })
        }
        onDelete={() =>
          chat &&
          setConfirm({
            title: 'Delete chat?',
            text: `“${chat.title}” and all its messages will be deleted for everyone. This cannot be undone.`,
            confirm: 'Delete',
            onConfirm: () => void messenger.deleteChat(chat.id),
          })
        }
      />
      {membersOpen && chat && <MembersDialog messenger={messenger} chat={chat} me={state.me!.id} onClose={() => setMembersOpen(false)} />}
      {roomsOpen && <RoomsDialog messenger={messenger} onOpen={open} onClose={() => setRoomsOpen(false)} />}
      {confirm && <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} />}
      <div class="toasts" aria-live="polite">
        {state.notices.map((n) => (
          <div key={n.id} class={`toast toast-${n.kind}`} role={n.kind === 'error' ? 'alert' : 'status'}>
            <span>{n.text}</span>
            <button type="button" class="icon-btn" aria-label="Dismiss" onClick={() => messenger.dismiss(n.id)}>
              <CloseIcon />
            </button>
          </div>
        ))}
      </div>
    </div>
  );
}
