-- 0006: public rooms (SPEC §10). `chats` gains `room_key` and `member_count`, and its
-- `chat_type` CHECK admits 'room'. What each part is for is commented in schema.sql.
--
-- Widening a CHECK in SQLite means rebuilding the table, and `chats` is the parent of
-- ON DELETE CASCADE foreign keys (chat_members, messages, chat_events; reactions through
-- messages). D1 enforces foreign keys, and `PRAGMA defer_foreign_keys` defers only the
-- checks, not the actions: `DROP TABLE chats` deletes every row first, and that delete
-- cascades into every member, message, reaction and event (tried on a local D1: all gone).
-- So before the drop the old rows' ids are negated: no child row matches them any more, the
-- drop's delete cascades into nothing, and the children, which still name `chats`, point at
-- the new table once it takes the name. Updating a parent key is a NO ACTION change,
-- deferred here to the end of the migration's transaction, when every child matches again.
-- Only `chats` is copied: the migration costs one row per chat, whatever the messages.

PRAGMA defer_foreign_keys = true;

CREATE TABLE chats_v6 (
    id          INTEGER PRIMARY KEY,
    chat_type   TEXT NOT NULL CHECK (chat_type IN ('dm', 'group', 'room')),
    title       TEXT NOT NULL DEFAULT '',
    dm_key      TEXT UNIQUE,
    created_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    last_activity_at TEXT NOT NULL,
    last_seq    INTEGER NOT NULL DEFAULT 0,
    member_gen  INTEGER NOT NULL DEFAULT 0,
    message_count INTEGER NOT NULL DEFAULT 0,
    pruned_gid  INTEGER NOT NULL DEFAULT 0,
    room_key    TEXT UNIQUE,
    member_count INTEGER NOT NULL DEFAULT 0
);
INSERT INTO chats_v6 (id, chat_type, title, dm_key, created_by, created_at, updated_at,
                      last_activity_at, last_seq, member_gen, message_count, pruned_gid,
                      room_key, member_count)
SELECT id, chat_type, title, dm_key, created_by, created_at, updated_at, last_activity_at,
       last_seq, member_gen, message_count, pruned_gid, NULL,
       (SELECT COUNT(*) FROM chat_members m WHERE m.chat_id = chats.id)
FROM chats;

-- A trigger on another table that names `chats` stops the rename below ("no such table"):
-- they go and come back unchanged.
DROP TRIGGER IF EXISTS messages_after_insert;
DROP TRIGGER IF EXISTS chat_events_retention;
DROP TRIGGER IF EXISTS chat_members_keep_pointer;
UPDATE chats SET id = -id;
DROP TABLE chats;
ALTER TABLE chats_v6 RENAME TO chats;

CREATE INDEX IF NOT EXISTS chats_by_activity ON chats (last_activity_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS rooms_by_activity ON chats (last_activity_at DESC, id DESC)
    WHERE chat_type = 'room';
CREATE TRIGGER IF NOT EXISTS chats_id_floor AFTER DELETE ON chats
BEGIN
    UPDATE id_floors SET value = MAX(value, OLD.id) WHERE name = 'chats';
END;
CREATE TRIGGER IF NOT EXISTS messages_after_insert AFTER INSERT ON messages
BEGIN
    UPDATE chats SET message_count = message_count + 1, last_activity_at = NEW.created_at
    WHERE id = NEW.chat_id;
    UPDATE messages SET ordinal = (SELECT message_count FROM chats WHERE id = NEW.chat_id)
    WHERE id = NEW.id AND NEW.ordinal IS NULL;
    UPDATE chat_members SET last_read_message_id = MAX(last_read_message_id, NEW.id)
    WHERE chat_id = NEW.chat_id AND user_id = NEW.sender_id;
END;
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

-- The member counter, kept by the database in the statement that adds or removes the row.
CREATE TRIGGER IF NOT EXISTS chat_members_count_insert AFTER INSERT ON chat_members
BEGIN
    UPDATE chats SET member_count = member_count + 1 WHERE id = NEW.chat_id;
END;
CREATE TRIGGER IF NOT EXISTS chat_members_count_delete AFTER DELETE ON chat_members
BEGIN
    UPDATE chats SET member_count = member_count - 1 WHERE id = OLD.chat_id;
END;

-- Joins and leaves stay O(1) in large rooms: the longest-standing member and the admins.
CREATE INDEX IF NOT EXISTS chat_members_by_seniority ON chat_members (chat_id, joined_at);
CREATE INDEX IF NOT EXISTS chat_members_admins ON chat_members (chat_id) WHERE is_admin = 1;

PRAGMA defer_foreign_keys = false;

UPDATE schema_meta SET version = MAX(version, 6) WHERE id = 1;
