//! Data written as SQL before a worker starts (`Worker::start`'s seed), for tests and the
//! benchmark that need more than the API makes quickly: users with known tokens, group chats,
//! and chats of many messages inserted by one statement each.
//!
//! Messages go through the same insert trigger as every send (`messages_after_insert`): the
//! chat's count and activity, the message's ordinal and the sender's read pointer are kept by
//! the database exactly as for a send. What a send does beyond that (the event log, the
//! broadcast) is not written: the log's older events are pruned anyway, and nobody listens.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

/// A fixed time in the schema's format, seeded rows' creation time.
pub const EPOCH: &str = "2025-01-01T00:00:00.000Z";

/// The SHA-256 hex of `token`, as `sessions` stores it.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// User `id` named `name` (no password: they sign in with `token`).
pub fn user(id: i64, name: &str, token: &str) -> String {
    format!(
        "INSERT INTO users (id, username, username_lower, password, search_text, date_joined)
         VALUES ({id}, '{name}', '{name}', '!', '{name}', '{EPOCH}');
         INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
         VALUES ('{}', {id}, '{EPOCH}', '2999-01-01T00:00:00.000Z');\n",
        token_hash(token)
    )
}

/// Group chat `id` titled `title` with `members`, the first its admin.
pub fn group(id: i64, title: &str, members: &[i64]) -> String {
    let mut sql = format!(
        "INSERT INTO chats (id, chat_type, title, created_by, created_at, updated_at,
                            last_activity_at)
         VALUES ({id}, 'group', '{title}', {}, '{EPOCH}', '{EPOCH}', '{EPOCH}');\n",
        members[0]
    );
    for (k, m) in members.iter().enumerate() {
        let _ = writeln!(
            sql,
            "INSERT INTO chat_members (chat_id, user_id, is_admin, joined_at)
             VALUES ({id}, {m}, {}, '{EPOCH}');",
            (k == 0) as i64
        );
    }
    sql
}

/// `count` messages in chat `chat`, one statement: message `k` (from 1) is from
/// `senders[k % senders.len()]`, a second after the previous one, with the chat's next seq.
/// Members who send nothing keep their read pointers (all of it unread for them).
pub fn messages(chat: i64, senders: &[i64], count: i64) -> String {
    let senders_json = format!("{senders:?}");
    format!(
        "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < {count})
         INSERT INTO messages (chat_id, seq, sender_id, content, created_at, updated_at)
         SELECT {chat}, (SELECT last_seq FROM chats WHERE id = {chat}) + k,
                json_extract('{senders_json}', '$[' || (k % {n}) || ']'),
                'Message ' || k || ': a typical sentence or two of chat text, about as long as people write them.',
                strftime('%Y-%m-%dT%H:%M:%fZ', '{EPOCH}', '+' || k || ' seconds'),
                strftime('%Y-%m-%dT%H:%M:%fZ', '{EPOCH}', '+' || k || ' seconds')
         FROM n;
         UPDATE chats SET last_seq = last_seq + {count} WHERE id = {chat};\n",
        n = senders.len()
    )
}
