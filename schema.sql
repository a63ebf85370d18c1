-- Edge Messaging: the canonical D1 schema. Read this first.
--
-- Applied to a fresh database as is (`make dev`, tests, README "Deploying"). Every statement is
-- idempotent (IF NOT EXISTS) so applying it twice is harmless. Once a database may hold data,
-- changes go in migrations/NNNN_*.sql as well as here (migrations/README.md).
--
-- Conventions: ids are INTEGER PRIMARY KEY (SQLite rowids, the JSON ids); timestamps are
-- ISO-8601 UTC text with millisecond precision ("2025-01-02T15:30:00.123Z"), so text order is
-- time order; booleans are 0/1 integers.

-- Bumped whenever a migration lands; GET /healthz answers 200 only when it can read this row.
CREATE TABLE IF NOT EXISTS schema_meta (
    id      INTEGER PRIMARY KEY CHECK (id = 1),  -- a single row
    version INTEGER NOT NULL
);
INSERT OR IGNORE INTO schema_meta (id, version) VALUES (1, 8);

-- People. Compatible with Django's auth_user so a Django site's users can be imported.
CREATE TABLE IF NOT EXISTS users (
    id          INTEGER PRIMARY KEY,
    username    TEXT NOT NULL,
    -- Usernames are unique case-insensitively (SPEC §3): the unique key is the lowercased form.
    username_lower TEXT NOT NULL UNIQUE,
    -- Django's format: pbkdf2_sha256$<iterations>$<salt>$<base64 hash>. Starting with "!" it is
    -- unusable, as Django's: users a host site signs in (sso_subject) have "!sso".
    password    TEXT NOT NULL,
    email       TEXT NOT NULL DEFAULT '',
    first_name  TEXT NOT NULL DEFAULT '',
    last_name   TEXT NOT NULL DEFAULT '',
    -- Lowercased "username first last email", written by the app (Unicode-aware lowercasing,
    -- which SQLite's lower() lacks) so user and chat search is one LIKE on one column.
    search_text TEXT NOT NULL DEFAULT '',
    -- The Unicode confusable skeleton (TR39) of the lowercased NFC username: "ann" and "аnn"
    -- (Cyrillic а) share one, so the second is refused. NULL for accounts made before it
    -- existed until registration fills them in (src/auth/usernames.rs).
    username_key TEXT,
    is_active   INTEGER NOT NULL DEFAULT 1,
    date_joined TEXT NOT NULL,
    -- Host-site sign-in (SPEC §3, src/sso.rs): the site's user id (the token's `sub`) for a
    -- user the site signs in, so the same `sub` is always the same user (users_by_sso_subject);
    -- NULL for accounts made here.
    sso_subject TEXT,
    -- A picture URL the host site gave (http or https, at most 1024 characters, checked by
    -- src/sso.rs); '' means the generated SVG of the initials (src/views/users.rs).
    avatar_url  TEXT NOT NULL DEFAULT ''
);

-- Login sessions. The same row backs the API token and the browser cookie; only the SHA-256 of
-- the token is stored, so a leaked database does not leak usable credentials.
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,            -- hex SHA-256 of the bearer token
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL                -- compared as text: same ISO format everywhere
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);
-- Pruning expired sessions.
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
CREATE UNIQUE INDEX IF NOT EXISTS users_by_key ON users (username_key)
    WHERE username_key IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS users_by_sso_subject ON users (sso_subject)
    WHERE sso_subject IS NOT NULL;

-- The most PBKDF2 iterations any stored password hash uses (hashes imported from Django use
-- 600k-1M): a login for an unknown username spends that much work too, so its answer comes no
-- faster than for an account with such a hash (no user enumeration by timing).
CREATE TABLE IF NOT EXISTS password_work (
    id             INTEGER PRIMARY KEY CHECK (id = 1),  -- a single row
    max_iterations INTEGER NOT NULL
);
INSERT OR IGNORE INTO password_work (id, max_iterations) VALUES (1, 100000);
-- Kept by the database itself, whoever writes a hash (registration, login upgrade, an import).
CREATE TRIGGER IF NOT EXISTS users_password_work_insert AFTER INSERT ON users
WHEN NEW.password LIKE 'pbkdf2_sha256$%'
BEGIN
    UPDATE password_work SET max_iterations = MAX(max_iterations,
        CAST(substr(NEW.password, 15, instr(substr(NEW.password, 15), '$') - 1) AS INTEGER))
    WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS users_password_work_update AFTER UPDATE OF password ON users
WHEN NEW.password LIKE 'pbkdf2_sha256$%'
BEGIN
    UPDATE password_work SET max_iterations = MAX(max_iterations,
        CAST(substr(NEW.password, 15, instr(substr(NEW.password, 15), '$') - 1) AS INTEGER))
    WHERE id = 1;
END;

-- Which chats a session has sockets open in (one row per session and chat, however many
-- sockets), so logging out closes them at once. Rows go with their session.
CREATE TABLE IF NOT EXISTS socket_sessions (
    token_hash TEXT NOT NULL REFERENCES sessions(token_hash) ON DELETE CASCADE,
    chat_id    INTEGER NOT NULL,
    PRIMARY KEY (token_hash, chat_id)
) WITHOUT ROWID;

-- Attempt counters for rate limiting logins and registrations, one fixed window per key. An
-- attempt is counted before the password is checked (so parallel guesses cannot all pass the
-- check) and taken back when it succeeds. Keys (src/auth/throttle.rs): "ua:<username>|<addr>"
-- (strict), "u:<username>" and "a:<addr>" (loose), "r:<addr>" (registrations); an address is
-- an IPv4 address or an IPv6 /64.
CREATE TABLE IF NOT EXISTS login_failures (
    key          TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,          -- unix seconds
    failures     INTEGER NOT NULL           -- attempts counted in the window
);
-- Pruning ended windows.
CREATE INDEX IF NOT EXISTS login_failures_by_window ON login_failures (window_start);

-- Chats: DMs, groups and public rooms (SPEC §10).
CREATE TABLE IF NOT EXISTS chats (
    -- Never reused (a new chat must not inherit a deleted one's Durable Object, sockets or
    -- log): chats are inserted with the id `NEXT_CHAT_ID` (src/storage/chats.rs) computes from
    -- `id_floors`, which the trigger below raises on every delete.
    id          INTEGER PRIMARY KEY,
    chat_type   TEXT NOT NULL CHECK (chat_type IN ('dm', 'group', 'room')),
    -- Groups' and rooms' title; empty for DMs, whose title is the other member's name as the
    -- caller sees it.
    title       TEXT NOT NULL DEFAULT '',
    -- "<smaller user id>:<larger user id>" for DMs, NULL for groups: the unique constraint is
    -- what makes "one DM per pair" hold even when both people create it at once.
    dm_key      TEXT UNIQUE,
    created_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    -- Ordering key of the chat list ("most recent activity first"): creation, then each message
    -- (the trigger `messages_after_insert`).
    last_activity_at TEXT NOT NULL,
    -- The chat's event sequencer: the seq of its newest durable event. Bumped in the same D1
    -- batch (one transaction) that writes the event, so seqs are gapless per chat.
    last_seq    INTEGER NOT NULL DEFAULT 0,
    -- Bumped by every member removal, in its batch. Every event the chat's room delivers
    -- carries it: a room that sees a higher one than it knows re-checks its sockets'
    -- membership before delivering, so a lost "close this socket" call cannot leak events.
    member_gen  INTEGER NOT NULL DEFAULT 0,
    -- Messages in the chat (tombstones included): a page's `count`, and the bound of
    -- `page=N`, without counting the chat. Kept by the trigger `messages_after_insert`; it is
    -- also the newest message's `ordinal`, which unread counts subtract from.
    message_count INTEGER NOT NULL DEFAULT 0,
    -- The newest `gid` the retention trigger pruned from this chat's log: a user-stream cursor
    -- below it (for a member) can no longer be served exactly (410 / resync_required).
    pruned_gid  INTEGER NOT NULL DEFAULT 0,
    -- A room's key (e.g. "video:42"): the page or object the room belongs to, so "the room of
    -- this page" is get-or-create (POST /rooms/ {key}); the unique constraint is what makes
    -- concurrent creates agree on one room. NULL for rooms without a key and other chats.
    room_key    TEXT UNIQUE,
    -- Members (rows of chat_members), kept by the triggers `chat_members_count_*` in the
    -- statement that adds or removes the row, so it never drifts and nobody counts a large
    -- room per request.
    member_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chats_by_activity ON chats (last_activity_at DESC, id DESC);
-- The rooms list (GET /rooms/), newest activity first, reads rooms only.
CREATE INDEX IF NOT EXISTS rooms_by_activity ON chats (last_activity_at DESC, id DESC)
    WHERE chat_type = 'room';

-- The highest id ever given out, per table whose ids must never be reused.
CREATE TABLE IF NOT EXISTS id_floors (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO id_floors (name, value) VALUES ('chats', 0);
-- The newest chat event gid pruned anywhere: a stream cursor at or above it cannot be stale,
-- so polls skip the per-chat check.
INSERT OR IGNORE INTO id_floors (name, value) VALUES ('events_pruned', 0);
CREATE TRIGGER IF NOT EXISTS chats_id_floor AFTER DELETE ON chats
BEGIN
    UPDATE id_floors SET value = MAX(value, OLD.id) WHERE name = 'chats';
END;

-- Membership, roles and read pointers.
CREATE TABLE IF NOT EXISTS chat_members (
    chat_id   INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    is_admin  INTEGER NOT NULL DEFAULT 0,
    -- "Longest-standing member" = smallest (joined_at, rowid): rowid breaks same-ms ties.
    joined_at TEXT NOT NULL,
    -- Read receipt pointer (SPEC §5): id of the last message this member has read; only moves
    -- forward (every update is `WHERE last_read_message_id < new`). It is never below the
    -- member's own newest message in the chat: sending moves it (`messages_after_insert`), and
    -- leaving keeps it for a return (`former_members`). So a member's unread messages are all
    -- the messages after it less the deleted ones, and a chat list counts them by subtraction
    -- (src/storage/chats.rs, `UNREAD`) instead of walking them.
    last_read_message_id INTEGER NOT NULL DEFAULT 0,
    -- Where the member's user stream starts in this chat: the gid of the event that added them
    -- (`chat_created` or `members_added`). A new row starts at -1 ("pending") and the trigger
    -- `chat_events_members_added` sets it when that event is written in the same batch.
    since_gid INTEGER NOT NULL DEFAULT -1,
    PRIMARY KEY (chat_id, user_id)
);
-- "My chats" (the chat list) and "is X a member" both start from the user.
CREATE INDEX IF NOT EXISTS chat_members_by_user ON chat_members (user_id, chat_id);
-- The longest-standing members first (admin hand-over, a room's first members shown) and
-- whether a chat has an admin, without reading a large room's every member.
CREATE INDEX IF NOT EXISTS chat_members_by_seniority ON chat_members (chat_id, joined_at);
CREATE INDEX IF NOT EXISTS chat_members_admins ON chat_members (chat_id) WHERE is_admin = 1;
-- `chats.member_count`, kept in the same statement as the membership row.
CREATE TRIGGER IF NOT EXISTS chat_members_count_insert AFTER INSERT ON chat_members
BEGIN
    UPDATE chats SET member_count = member_count + 1 WHERE id = NEW.chat_id;
END;
CREATE TRIGGER IF NOT EXISTS chat_members_count_delete AFTER DELETE ON chat_members
BEGIN
    UPDATE chats SET member_count = member_count - 1 WHERE id = OLD.chat_id;
END;

-- The read pointers of people who left a chat (or were removed), given back when they return:
-- their own messages stay behind their pointer, so they never count as unread for them. A
-- row goes with its chat or user (and when its member returns).
CREATE TABLE IF NOT EXISTS former_members (
    chat_id   INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    last_read_message_id INTEGER NOT NULL,
    PRIMARY KEY (chat_id, user_id)
) WITHOUT ROWID;
-- Kept on leaving; not when the chat or the user is being deleted (a cascade: the row would
-- refer to nothing).
CREATE TRIGGER IF NOT EXISTS chat_members_keep_pointer AFTER DELETE ON chat_members
WHEN OLD.last_read_message_id > 0
BEGIN
    INSERT INTO former_members (chat_id, user_id, last_read_message_id)
    SELECT OLD.chat_id, OLD.user_id, OLD.last_read_message_id
    WHERE EXISTS (SELECT 1 FROM chats WHERE id = OLD.chat_id)
      AND EXISTS (SELECT 1 FROM users WHERE id = OLD.user_id)
    ON CONFLICT (chat_id, user_id) DO UPDATE
        SET last_read_message_id = MAX(last_read_message_id, excluded.last_read_message_id);
END;
-- Given back on (re)joining, whoever inserts the member (creating a chat or a DM again,
-- adding members, joining a room).
CREATE TRIGGER IF NOT EXISTS chat_members_restore_pointer AFTER INSERT ON chat_members
WHEN EXISTS (SELECT 1 FROM former_members WHERE chat_id = NEW.chat_id AND user_id = NEW.user_id)
BEGIN
    UPDATE chat_members SET last_read_message_id = MAX(last_read_message_id,
        (SELECT last_read_message_id FROM former_members
         WHERE chat_id = NEW.chat_id AND user_id = NEW.user_id))
    WHERE chat_id = NEW.chat_id AND user_id = NEW.user_id;
    DELETE FROM former_members WHERE chat_id = NEW.chat_id AND user_id = NEW.user_id;
END;

-- Messages. Soft-deleted ones stay as tombstones (is_deleted = 1, content '') so clients sync.
CREATE TABLE IF NOT EXISTS messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: ids never reused, so keyset
                                                  -- paging and read pointers stay monotonic
    chat_id    INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,                  -- the chat event seq of its new_message
    sender_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    content    TEXT NOT NULL,
    client_id  TEXT,                              -- idempotency key chosen by the client
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    is_edited  INTEGER NOT NULL DEFAULT 0,
    is_deleted INTEGER NOT NULL DEFAULT 0,
    -- The message's position in its chat: 1 for the first, the chat's `message_count` for the
    -- newest (ids grow with it). How many of a chat's messages are after a read pointer is a
    -- subtraction: `message_count - <ordinal of the pointer's message>`. Given by the send's
    -- insert, or by `messages_after_insert` when an insert leaves it NULL (imports).
    ordinal    INTEGER
);
-- Message pages, last_message and pointers' ordinals all seek a chat's messages by id.
CREATE INDEX IF NOT EXISTS messages_by_chat ON messages (chat_id, id);
-- Deleted messages only (few): unread counts subtract those after the pointer.
CREATE INDEX IF NOT EXISTS messages_deleted ON messages (chat_id, id) WHERE is_deleted = 1;
-- What every new message implies, kept by the database in the transaction of the insert
-- (sends, and imports too): the chat's message count and last activity (the chat list's
-- order), the message's ordinal, and its sender having read it (sending marks the chat read
-- for the sender).
CREATE TRIGGER IF NOT EXISTS messages_after_insert AFTER INSERT ON messages
BEGIN
    UPDATE chats SET message_count = message_count + 1, last_activity_at = NEW.created_at
    WHERE id = NEW.chat_id;
    -- Only for an insert that gave no ordinal (a send gives it: one row write fewer).
    UPDATE messages SET ordinal = (SELECT message_count FROM chats WHERE id = NEW.chat_id)
    WHERE id = NEW.id AND NEW.ordinal IS NULL;
    UPDATE chat_members SET last_read_message_id = MAX(last_read_message_id, NEW.id)
    WHERE chat_id = NEW.chat_id AND user_id = NEW.sender_id;
END;
-- A retried send (same sender, chat and client_id) can never store a second message.
CREATE UNIQUE INDEX IF NOT EXISTS messages_client_id
    ON messages (chat_id, sender_id, client_id) WHERE client_id IS NOT NULL;

-- Reactions: one row per (message, emoji, user). `id` orders "first use" of each emoji.
CREATE TABLE IF NOT EXISTS reactions (
    id         INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    UNIQUE (message_id, emoji, user_id)
);

-- The chat's durable event log (SPEC §6): what `?since=<seq>` replays. Rows hold references,
-- not rendered JSON: a replayed event shows the current state of its message or chat.
--
-- `gid` orders every chat's events in one sequence (AUTOINCREMENT: never reused, assigned in
-- commit order since D1 runs one transaction at a time): the user stream's cursors are gids
-- (docs/realtime.md, "The user stream"). Seq 0 is a chat's `chat_created` (not replayed on
-- chat sockets, whose seqs start at 1): it gives the creation a gid.
CREATE TABLE IF NOT EXISTS chat_events (
    gid        INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id    INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    type       TEXT NOT NULL,   -- new_message, message_updated, read_receipt, members_added, ...
    message_id INTEGER,         -- for message events
    user_id    INTEGER,         -- who: read_receipt, member_removed, chat_updated (renamer), ...
                                -- (read_receipt keeps the new read pointer in message_id)
    data       TEXT,            -- JSON known when the event was written (e.g. added user ids)
    created_at TEXT NOT NULL,
    UNIQUE (chat_id, seq)
);
-- A poll probes each of the caller's chats for events after its cursor.
CREATE INDEX IF NOT EXISTS chat_events_by_chat_gid ON chat_events (chat_id, gid);
-- A poll finds the chats its chat_updated events carry by gid (the renames only).
CREATE INDEX IF NOT EXISTS chat_events_updates ON chat_events (gid)
    WHERE type = 'chat_updated';
-- At least the newest 1000 events per chat are kept (between 1000 and 1063: pruned every 64th
-- event, so most writes delete nothing); what was pruned is recorded for stale cursors.
CREATE TRIGGER IF NOT EXISTS chat_events_retention AFTER INSERT ON chat_events
WHEN NEW.seq % 64 = 0
BEGIN
    UPDATE chats SET pruned_gid = MAX(pruned_gid, COALESCE((SELECT MAX(gid) FROM chat_events
        WHERE chat_id = NEW.chat_id AND seq <= NEW.seq - 1000), 0))
    WHERE id = NEW.chat_id;
    UPDATE id_floors SET value = MAX(value, (SELECT pruned_gid FROM chats WHERE id = NEW.chat_id))
    WHERE name = 'events_pruned';
    DELETE FROM chat_events WHERE chat_id = NEW.chat_id AND seq <= NEW.seq - 1000;
END;

-- Each user's own membership changes, for their stream: `chat_added` (created, added, joined)
-- and `chat_removed` (removed, left, chat deleted), at the gid of the chat event that made
-- them. Written by the triggers below, one row per affected user; a chat's deletion removes
-- its events but not these rows.
CREATE TABLE IF NOT EXISTS user_events (
    user_id INTEGER NOT NULL,
    gid     INTEGER NOT NULL,
    type    TEXT NOT NULL CHECK (type IN ('chat_added', 'chat_removed')),
    chat_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, gid)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS chat_events_members_added AFTER INSERT ON chat_events
WHEN NEW.type IN ('chat_created', 'members_added')
BEGIN
    UPDATE chat_members SET since_gid = NEW.gid WHERE chat_id = NEW.chat_id AND since_gid < 0;
    INSERT OR IGNORE INTO user_events (user_id, gid, type, chat_id)
    SELECT user_id, NEW.gid, 'chat_added', NEW.chat_id FROM chat_members
    WHERE chat_id = NEW.chat_id AND since_gid = NEW.gid;
END;
CREATE TRIGGER IF NOT EXISTS chat_events_member_removed AFTER INSERT ON chat_events
WHEN NEW.type = 'member_removed'
BEGIN
    INSERT OR IGNORE INTO user_events (user_id, gid, type, chat_id)
    VALUES (NEW.user_id, NEW.gid, 'chat_removed', NEW.chat_id);
END;
CREATE TRIGGER IF NOT EXISTS chat_events_chat_deleted AFTER INSERT ON chat_events
WHEN NEW.type = 'chat_deleted'
BEGIN
    INSERT OR IGNORE INTO user_events (user_id, gid, type, chat_id)
    SELECT user_id, NEW.gid, 'chat_removed', NEW.chat_id FROM chat_members
    WHERE chat_id = NEW.chat_id;
END;
-- Users with a user stream open (`GET /messages/api/ws/`), kept by their UserStream Durable
-- Object: a chat's write batch reads which of its members are here, and only their streams
-- are handed the events. A row outlives a crashed object by at most its expiry.
CREATE TABLE IF NOT EXISTS stream_presence (
    user_id    INTEGER PRIMARY KEY,
    expires_at TEXT NOT NULL
);

-- The migrations this schema already contains, in wrangler's own table, so that
-- `wrangler d1 migrations apply` on a database made from this file applies only later ones.
CREATE TABLE IF NOT EXISTS d1_migrations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT UNIQUE,
    applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);
INSERT OR IGNORE INTO d1_migrations (name) VALUES
    ('0002_emoji_fully_qualified.sql'),
    ('0003_security.sql'),
    ('0004_bounded_reads.sql'),
    ('0005_user_stream.sql'),
    ('0006_rooms.sql'),
    ('0007_sso.sql'),
    ('0008_stream_updates.sql');
