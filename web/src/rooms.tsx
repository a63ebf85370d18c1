//! The rooms dialog (SPEC §10, §11): browse and search the public rooms, each a `.room-item`
//! with `.room-title`, `.member-count` and `.join-room-btn` (or Open, for rooms you are in).

import { useEffect, useRef, useState } from 'preact/hooks';
import type { Id, Messenger, Room } from '../../client/src/index.ts';
import { Modal } from './dialogs.tsx';
import { memberCount } from './format.ts';
import { HashIcon } from './icons.tsx';

interface Props {
  messenger: Messenger;
  onOpen: (id: Id) => void;
  onClose: () => void;
}

export function RoomsDialog({ messenger, onOpen, onClose }: Props) {
  const [query, setQuery] = useState('');
  const [rooms, setRooms] = useState<Room[] | null>(null);
  const [page, setPage] = useState(1);
  const [more, setMore] = useState(false);
  const [loading, setLoading] = useState(false);
  const [joining, setJoining] = useState<Id | null>(null);
  const asked = useRef(0);

  const load = async (search: string, p: number) => {
    const mine = ++asked.current;
    setLoading(true);
    const got = await messenger.listRooms(search, p);
    if (mine !== asked.current) return;
    setLoading(false);
    if (!got) return;
    setRooms((held) => (p === 1 || !held ? got.results : [...held, ...got.results.filter((r) => !held.some((h) => h.id === r.id))]));
    setPage(p);
    setMore(got.next !== null);
  };

  useEffect(() => {
    void load('', 1);
  }, []);

  // Search as you type, a moment after the last key.
  useEffect(() => {
    if (rooms === null) return;
    const t = setTimeout(() => void load(query.trim(), 1), 250);
    return () => clearTimeout(t);
  }, [query]);

  const join = async (room: Room) => {
    setJoining(room.id);
    const joined = await messenger.joinRoom(room.id);
    setJoining(null);
    if (joined) {
      onClose();
      onOpen(joined.id);
    }
  };

  return (
    <Modal title="Rooms" onClose={onClose} class="rooms-dialog" initialFocus="#room-search-input">
      <div class="tab-panel">
        <form class="search-row" onSubmit={(e) => e.preventDefault()}>
          <input
            id="room-search-input"
            type="search"
            placeholder="Search rooms"
            aria-label="Search rooms"
            autocomplete="off"
            value={query}
            onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
          />
        </form>
        <ul class="people-list rooms-list" aria-live="polite" aria-busy={loading}>
          {rooms === null ? (
            <li class="empty-hint">Loading rooms…</li>
          ) : rooms.length === 0 ? (
            <li class="empty-hint">{query.trim() ? `No rooms match “${query.trim()}”.` : 'No rooms yet. Rooms appear here once a page has one.'}</li>
          ) : (
            rooms.map((r) => (
              <li key={r.id} class="room-item" data-room-id={r.id}>
                <span class="avatar group-avatar" aria-hidden="true">
                  <HashIcon />
                </span>
                <span class="person-names">
                  <span class="person-name room-title">{r.title}</span>
                  <span class="person-username member-count">{memberCount(r.member_count)}</span>
                </span>
                {r.is_member ? (
                  <button
                    type="button"
                    class="btn btn-small open-room-btn"
                    onClick={() => {
                      onClose();
                      onOpen(r.id);
                    }}
                  >
                    Open
                  </button>
                ) : (
                  <button type="button" class="btn btn-primary btn-small join-room-btn" disabled={joining !== null} onClick={() => void join(r)}>
                    {joining === r.id ? 'Joining…' : 'Join'}
                  </button>
                )}
              </li>
            ))
          )}
        </ul>
        {more && (
          <button type="button" class="btn btn-ghost load-more-rooms" disabled={loading} onClick={() => void load(query.trim(), page + 1)}>
            {loading ? 'Loading…' : 'More rooms'}
          </button>
        )}
      </div>
    </Modal>
  );
}
