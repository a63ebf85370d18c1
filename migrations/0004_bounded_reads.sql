-- 0004: reads in bounded rows (issue 18). Unread counts become a subtraction instead of a walk
-- over every unread message: each message gets its position in its chat (`ordinal`), deleted
-- messages get a narrow index, and a member's read pointer is kept while they are away so their
-- own messages are never after it. What each part is for is commented in schema.sql.
--
-- Every statement reads the messages table at most once as a whole (no per-chat or per-member
-- walk), so the migration's time grows with the table, once.

-- Each message's position in its chat, in id order (ids grow with inserts in a chat).
ALTER TABLE messages ADD COLUMN ordinal INTEGER;
UPDATE messages SET ordinal = r.n
FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY chat_id ORDER BY id) AS n FROM messages) AS r
WHERE r.id = messages.id;
-- The count is the newest message's position: made equal to the messages there are.
UPDATE chats SET message_count =
    (SELECT COUNT(*) FROM messages WHERE messages.chat_id = chats.id);

-- Deleted messages, counted after a pointer.
CREATE INDEX IF NOT EXISTS messages_deleted ON messages (chat_id, id) WHERE is_deleted = 1;

-- The insert trigger now gives a message its ordinal when its insert did not.
DROP TRIGGER IF EXISTS messages_after_insert;
CREATE TRIGGER IF NOT EXISTS messages_after_insert AFTER INSERT ON messages
BEGIN
    UPDATE chats SET message_count = message_count + 1, last_activity_at = NEW.created_at
    WHERE id = NEW.chat_id;
    UPDATE messages SET ordinal = (SELECT message_count FROM chats WHERE id = NEW.chat_id)
    WHERE id = NEW.id AND NEW.ordinal IS NULL;
    UPDATE chat_members SET last_read_message_id = MAX(last_read_message_id, NEW.id)
    WHERE chat_id = NEW.chat_id AND user_id = NEW.sender_id;
END;

-- Read pointers of members who left, given back when they return.
CREATE TABLE IF NOT EXISTS former_members (
    chat_id   INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    last_read_message_id INTEGER NOT NULL,
    PRIMARY KEY (chat_id, user_id)
) WITHOUT ROWID;
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
CREATE TRIGGER IF NOT EXISTS chat_members_restore_pointer AFTER INSERT ON chat_members
WHEN EXISTS (SELECT 1 FROM former_members WHERE chat_id = NEW.chat_id AND user_id = NEW.user_id)
BEGIN
    UPDATE chat_members SET last_read_message_id = MAX(last_read_message_id,
        (SELECT last_read_message_id FROM former_members
         WHERE chat_id = NEW.chat_id AND user_id = NEW.user_id))
    WHERE chat_id = NEW.chat_id AND user_id = NEW.user_id;
    DELETE FROM former_members WHERE chat_id = NEW.chat_id AND user_id = NEW.user_id;
END;

-- Until now a member added back to a chat started again at pointer 0, behind their own earlier
-- messages (which the old walk skipped by sender). Such pointers move to the member's newest
-- own message, as a send would have moved them; nothing else about them changes.
UPDATE chat_members SET last_read_message_id = own.newest
FROM (SELECT chat_id, sender_id, MAX(id) AS newest FROM messages
      WHERE sender_id IS NOT NULL GROUP BY chat_id, sender_id) AS own
WHERE own.chat_id = chat_members.chat_id AND own.sender_id = chat_members.user_id
  AND own.newest > chat_members.last_read_message_id;
-- And people who left, with messages in the chat, come back behind their newest one.
INSERT OR IGNORE INTO former_members (chat_id, user_id, last_read_message_id)
SELECT m.chat_id, m.sender_id, MAX(m.id) FROM messages m
WHERE m.sender_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM users WHERE id = m.sender_id)
  AND NOT EXISTS (SELECT 1 FROM chat_members cm
                  WHERE cm.chat_id = m.chat_id AND cm.user_id = m.sender_id)
GROUP BY m.chat_id, m.sender_id;

UPDATE schema_meta SET version = MAX(version, 4) WHERE id = 1;
