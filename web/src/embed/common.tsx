//! Small parts both widgets use: subscribing to a store, the sign-in link back to this page,
//! the messenger's notices, and the connection line.

import { useEffect, useState } from 'preact/hooks';
import type { Messenger } from '../../../client/src/index.ts';
import { CloseIcon } from '../icons.tsx';

interface Observable<S> {
  state: S;
  subscribe(fn: (s: S) => void): () => void;
}

/** The store's state, re-rendering on every change. */
export function useStore<S>(store: Observable<S>): S {
  const [state, setState] = useState(store.state);
  useEffect(() => {
    setState(store.state);
    return store.subscribe(setState);
  }, [store]);
  return state;
}

/** `/login/?next=<this page>` (SPEC §11): signing in comes back here. */
export function signInHref(): string {
  return `/login/?next=${encodeURIComponent(location.pathname + location.search)}`;
}

/** The messenger's notices (a failed send, a refused edit), each dismissable. */
export function Notices({ messenger }: { messenger: Messenger }) {
  const s = useStore(messenger);
  if (s.notices.length === 0) return null;
  return (
    <div class="em-notices">
      {s.notices.map((n) => (
        <p key={n.id} class="em-notice" role={n.kind === 'error' ? 'alert' : 'status'}>
          <span>{n.text}</span>
          <button type="button" class="icon-btn" aria-label="Dismiss" onClick={() => messenger.dismiss(n.id)}>
            <CloseIcon />
          </button>
        </p>
      ))}
    </div>
  );
}

/** "Reconnecting…" while the connection is down, else `fallback`. */
export function ConnectionNote({ messenger, fallback }: { messenger: Messenger; fallback: string }) {
  const s = useStore(messenger);
  if (s.connection.status === 'reconnecting') {
    return (
      <span class="em-subtitle em-offline" role="status">
        Reconnecting…
      </span>
    );
  }
  return <span class="em-subtitle">{fallback}</span>;
}
