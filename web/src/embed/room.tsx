//! The room widget (SPEC §10, §11): `.room-widget` with the room's title, its live
//! `.member-count` ("1 member" / "N members"), `.join-room-btn` or `.leave-room-btn-header`,
//! and for members the conversation (the messages page's own components); visitors who have
//! not joined see a lock instead. Viewing never joins, nor creates the room.

import type { ComponentChildren, JSX } from 'preact';
import { typingText, typingUsers, type RoomWidget } from '../../../client/src/index.ts';
import { Conversation, type ConversationHooks } from '../conversation.tsx';
import { memberCount } from '../format.ts';
import { ExpandIcon, HashIcon, LeaveIcon, LockIcon } from '../icons.tsx';
import { Notices, signInHref, useStore } from './common.tsx';

const HOOKS: ConversationHooks = {
  list: { class: 'room-message-list' },
  input: { class: 'room-message-input' },
  send: { class: 'room-send-btn' },
};

export function RoomWidgetView({ store }: { store: RoomWidget }) {
  const s = useStore(store);
  const title = s.room?.title || s.title;

  if (s.phase === 'hidden') return null;
  if (s.phase === 'signed_out') {
    return (
      <>
        <RoomHeader title={title} count={null} />
        <div class="em-lock">
          <LockIcon size={28} />
          <p>
            <strong>Join the discussion</strong>
          </p>
          <p>Sign in to see the messages and take part.</p>
          <a class="btn btn-primary em-signin-link" href={signInHref()}>
            Sign in to chat
          </a>
        </div>
      </>
    );
  }
  if (s.phase === 'loading') {
    return (
      <>
        <RoomHeader title={title} count={null} />
        <div class="em-loading">Loading…</div>
      </>
    );
  }
  if (s.phase === 'failed') {
    return (
      <>
        <RoomHeader title={title} count={null} />
        <div class="em-lock">
          <p>Couldn't load the room.</p>
          <button type="button" class="btn" onClick={() => void store.start()}>
            Try again
          </button>
        </div>
      </>
    );
  }

  const action = s.isMember ? (
    <>
      {s.room && (
        <a class="icon-btn em-open-full" href={`/messages/?chat=${s.room.id}`} title="Open in Messages" aria-label="Open in Messages">
          <ExpandIcon />
        </a>
      )}
      <button type="button" class="btn btn-ghost btn-small leave-room-btn-header" disabled={s.busy} title="Leave the room" onClick={() => void store.leave()}>
        <LeaveIcon /> <span>Leave</span>
      </button>
    </>
  ) : (
    <button type="button" class="btn btn-primary btn-small join-room-btn" disabled={s.busy} onClick={() => void store.join()}>
      Join room
    </button>
  );

  return (
    <>
      <RoomHeader title={title} count={s.count} action={action} store={store} />
      {s.error && (
        <p class="em-notice" role="alert">
          {s.error}
        </p>
      )}
      {s.isMember && s.messenger ? (
        <MemberView store={store} title={title} />
      ) : (
        <div class="em-lock">
          <LockIcon size={28} />
          <p>
            <strong>Join the room to see messages</strong>
          </p>
          <p>{s.count === 0 ? 'Nobody is here yet. Be the first to say something.' : 'Anyone can join. Viewing this page does not make you a member.'}</p>
          <button type="button" class="btn btn-primary em-lock-join" disabled={s.busy} onClick={() => void store.join()}>
            Join room
          </button>
        </div>
      )}
    </>
  );
}

function RoomHeader({ title, count, action, store }: { title: string; count: number | null; action?: ComponentChildren; store?: RoomWidget }) {
  return (
    <header class="em-room-header">
      <span class="em-room-icon" aria-hidden="true">
        <HashIcon />
      </span>
      <div class="em-titles">
        <h2 class="em-title room-title">{title}</h2>
        {count !== null && store ? <RoomSubtitle store={store} count={count} /> : <span class="em-subtitle">Discussion</span>}
      </div>
      {action}
    </header>
  );
}

/** The live count, or who is typing, or that the connection is down. */
function RoomSubtitle({ store, count }: { store: RoomWidget; count: number }) {
  const s = useStore(store);
  const m = s.messenger;
  const countEl = (
    <span class="member-count" aria-live="polite">
      {memberCount(count)}
    </span>
  );
  if (!m) return <span class="em-subtitle">{countEl}</span>;
  return <MemberSubtitle store={store} countEl={countEl} />;
}

function MemberSubtitle({ store, countEl }: { store: RoomWidget; countEl: JSX.Element }) {
  const s = useStore(store);
  const ms = useStore(s.messenger!);
  const room = s.room!;
  const chat = ms.chats.chats.find((c) => c.id === room.id);
  const names = typingUsers(ms.typing, room.id, ms.now)
    .map((id) => chat?.members.find((u) => u.id === id)?.display_name.split(' ')[0] ?? 'Someone');
  const reconnecting = ms.connection.status === 'reconnecting';
  const extra = reconnecting ? 'Reconnecting…' : names.length ? typingText(names) : null;
  return (
    <span class={`em-subtitle${reconnecting ? ' em-offline' : names.length ? ' em-typing' : ''}`}>
      {countEl}
      {extra && <> · {extra}</>}
    </span>
  );
}

function MemberView({ store, title }: { store: RoomWidget; title: string }) {
  const s = useStore(store);
  const m = s.messenger!;
  const ms = useStore(m);
  const chat = ms.chats.chats.find((c) => c.id === s.room!.id) ?? null;
  if (ms.phase !== 'ready' || !ms.me || !chat) {
    return <div class="em-loading">{ms.phase === 'failed' ? "Couldn't connect." : 'Loading messages…'}</div>;
  }
  return (
    <>
      <Notices messenger={m} />
      <div class="em-conversation">
        <Conversation key={chat.id} messenger={m} state={ms} chat={chat} title={title} placeholder="Message the room" hooks={HOOKS} autoFocus={false} />
      </div>
    </>
  );
}
