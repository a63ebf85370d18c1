-- 0008: a narrow index of the chats' rename events by gid (src/storage/stream.rs). A poll finds
-- the chats its chat_updated events carry through it, without repeating the whole event
-- selection in each statement that renders those chats (docs/realtime.md).

CREATE INDEX IF NOT EXISTS chat_events_updates ON chat_events (gid)
    WHERE type = 'chat_updated';

UPDATE schema_meta SET version = MAX(version, 8) WHERE id = 1;
