-- 0003: security hardening, and what the one-round-trip send path relies on (counters and
-- pointers kept by triggers, event retention by a trigger). What each part is for is
-- commented in schema.sql.

-- Chat ids are never reused.
CREATE TABLE IF NOT EXISTS id_floors (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO id_floors (name, value)
    VALUES ('chats', (SELECT COALESCE(MAX(id), 0) FROM chats));
CREATE TRIGGER IF NOT EXISTS chats_id_floor AFTER DELETE ON chats
BEGIN
    UPDATE id_floors SET value = MAX(value, OLD.id) WHERE name = 'chats';
END;

-- Membership generation and message counter.
ALTER TABLE chats ADD COLUMN member_gen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chats ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
UPDATE chats SET message_count = (SELECT COUNT(*) FROM messages WHERE chat_id = chats.id);
CREATE TRIGGER IF NOT EXISTS messages_after_insert AFTER INSERT ON messages
BEGIN
    UPDATE chats SET message_count = message_count + 1, last_activity_at = NEW.created_at
    WHERE id = NEW.chat_id;
    UPDATE chat_members SET last_read_message_id = MAX(last_read_message_id, NEW.id)
    WHERE chat_id = NEW.chat_id AND user_id = NEW.sender_id;
END;
CREATE TRIGGER IF NOT EXISTS chat_events_retention AFTER INSERT ON chat_events
WHEN NEW.seq % 64 = 0
BEGIN
    DELETE FROM chat_events WHERE chat_id = NEW.chat_id AND seq <= NEW.seq - 1000;
END;

-- Sessions: pruning, and which chats their sockets are open in.
CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS socket_sessions (
    token_hash TEXT NOT NULL REFERENCES sessions(token_hash) ON DELETE CASCADE,
    chat_id    INTEGER NOT NULL,
    PRIMARY KEY (token_hash, chat_id)
) WITHOUT ROWID;

-- Confusable usernames.
ALTER TABLE users ADD COLUMN username_key TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS users_by_key ON users (username_key)
    WHERE username_key IS NOT NULL;

-- The work of the most expensive stored password hash.
CREATE TABLE IF NOT EXISTS password_work (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    max_iterations INTEGER NOT NULL
);
INSERT OR IGNORE INTO password_work (id, max_iterations) VALUES (1, 100000);
UPDATE password_work SET max_iterations = MAX(max_iterations, COALESCE((
    SELECT MAX(CAST(substr(password, 15, instr(substr(password, 15), '$') - 1) AS INTEGER))
    FROM users WHERE password LIKE 'pbkdf2_sha256$%'), 0)) WHERE id = 1;
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

CREATE INDEX IF NOT EXISTS login_failures_by_window ON login_failures (window_start);

-- Old-style failure counters ("user:...", "addr:...") are no longer read.
DELETE FROM login_failures WHERE key LIKE 'user:%' OR key LIKE 'addr:%';

UPDATE schema_meta SET version = MAX(version, 3) WHERE id = 1;
