-- 0005: the user stream (issue 12, docs/realtime.md "The user stream"). Every chat event gets a
-- global `gid`; members remember where their stream starts in each chat; each user's own
-- membership changes are kept in `user_events`; users with a stream open are in
-- `stream_presence`. What each part is for is commented in schema.sql.

ALTER TABLE chats ADD COLUMN pruned_gid INTEGER NOT NULL DEFAULT 0;
INSERT OR IGNORE INTO id_floors (name, value) VALUES ('events_pruned', 0);

-- Existing members see their chats' retained events (since_gid 0); new rows start pending.
ALTER TABLE chat_members ADD COLUMN since_gid INTEGER NOT NULL DEFAULT -1;
UPDATE chat_members SET since_gid = 0;

-- chat_events gains `gid` as its primary key: SQLite cannot change a primary key in place, so
-- the table is rebuilt, its rows taking gids in their insertion order (rowid order).
CREATE TABLE chat_events_new (
    gid        INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id    INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    type       TEXT NOT NULL,
    message_id INTEGER,
    user_id    INTEGER,
    data       TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (chat_id, seq)
);
INSERT INTO chat_events_new (chat_id, seq, type, message_id, user_id, data, created_at)
    SELECT chat_id, seq, type, message_id, user_id, data, created_at
    FROM chat_events ORDER BY rowid;
DROP TRIGGER IF EXISTS chat_events_retention;
DROP TABLE chat_events;
ALTER TABLE chat_events_new RENAME TO chat_events;
CREATE INDEX IF NOT EXISTS chat_events_by_chat_gid ON chat_events (chat_id, gid);
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

CREATE TABLE IF NOT EXISTS stream_presence (
    user_id    INTEGER PRIMARY KEY,
    expires_at TEXT NOT NULL
);

UPDATE schema_meta SET version = MAX(version, 5) WHERE id = 1;
