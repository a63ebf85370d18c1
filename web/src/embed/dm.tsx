//! The DM widget (SPEC §11): a floating `#chat-toggle-btn` that opens `#fixed-chat-widget`, a
//! window bottom-right with the person's name, the conversation (the messages page's own
//! components) and `#widget-close-btn`. Closing it ends its live connection. Anonymous
//! visitors get a "Sign in to chat" link that brings them back here.

import { useEffect, useRef } from 'preact/hooks';
import { typingText, typingUsers, type DmWidget } from '../../../client/src/index.ts';
import { Conversation, type ConversationHooks } from '../conversation.tsx';
import { ChatIcon, CloseIcon, ExpandIcon } from '../icons.tsx';
import { ConnectionNote, Notices, signInHref, useStore } from './common.tsx';

const HOOKS: ConversationHooks = {
  list: { id: 'widget-message-list' },
  input: { id: 'widget-message-input' },
  send: { id: 'widget-send-btn' },
};

export function DmWidgetView({ store }: { store: DmWidget }) {
  const s = useStore(store);
  const toggle = useRef<HTMLButtonElement>(null);
  const wasOpen = useRef(false);

  // Focus goes back to the button when the window closes.
  useEffect(() => {
    if (wasOpen.current && !s.open) toggle.current?.focus();
    wasOpen.current = s.open;
  }, [s.open]);

  if (s.phase === 'signed_out') {
    return (
      <a class="em-signin-toggle" href={signInHref()}>
        <ChatIcon /> <span class="em-toggle-label">Sign in to chat</span>
      </a>
    );
  }
  if (s.phase !== 'ready' || !s.other) return null;

  const name = s.other.display_name;
  if (!s.open || !s.messenger) {
    return (
      <button
        type="button"
        id="chat-toggle-btn"
        ref={toggle}
        aria-expanded="false"
        aria-controls="fixed-chat-widget"
        title={`Message ${name}`}
        onClick={() => void store.open()}
      >
        <ChatIcon /> <span class="em-toggle-label">Message {name}</span>
        {s.unread > 0 && (
          <span class="em-badge" aria-label={`${s.unread} unread`}>
            {s.unread > 99 ? '99+' : s.unread}
          </span>
        )}
      </button>
    );
  }
  return <DmWindow store={store} name={name} />;
}

function DmWindow({ store, name }: { store: DmWidget; name: string }) {
  const s = useStore(store);
  const m = s.messenger!;
  const ms = useStore(m);
  const other = s.other!;
  const chat = ms.openChatId === null ? null : (ms.chats.chats.find((c) => c.id === ms.openChatId) ?? null);
  const typers = chat ? typingUsers(ms.typing, chat.id, ms.now).filter((id) => id === other.id) : [];

  // Esc closes the window, unless an edit, a menu or the picker took it first.
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Escape') store.close();
  };

  return (
    <section id="fixed-chat-widget" role="dialog" aria-label={`Chat with ${name}`} onKeyDown={onKeyDown}>
      <header class="em-window-header">
        <img class="avatar avatar-sm" src={other.avatar_url} alt="" width={32} height={32} />
        <div class="em-titles">
          <h2 class="em-title">{name}</h2>
          {typers.length > 0 ? (
            <span class="em-subtitle em-typing" aria-live="polite">
              {typingText([name.split(' ')[0]!])}
            </span>
          ) : (
            <ConnectionNote messenger={m} fallback={`@${other.username}`} />
          )}
        </div>
        {chat && (
          <a class="icon-btn em-open-full" href={`/messages/?chat=${chat.id}`} title="Open in Messages" aria-label="Open in Messages">
            <ExpandIcon />
          </a>
        )}
        <button type="button" id="widget-close-btn" class="icon-btn" aria-label="Close chat" title="Close" onClick={() => store.close()}>
          <CloseIcon />
        </button>
      </header>
      <Notices messenger={m} />
      {ms.phase === 'ready' && ms.me ? (
        <div class="em-conversation">
          {/* One conversation from the first keystroke: creating the DM must not remount it
              (a draft typed meanwhile would be lost). */}
          <Conversation
            messenger={m}
            state={ms}
            chat={chat}
            title={name}
            hooks={HOOKS}
            autoFocus
            onSend={(text) => store.send(text)}
          />
        </div>
      ) : (
        <div class="em-loading">{ms.phase === 'failed' ? "Couldn't connect. Close and try again." : 'Loading…'}</div>
      )}
    </section>
  );
}
