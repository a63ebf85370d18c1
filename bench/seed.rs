//! The benchmark's data, written as SQL before the worker starts (the integration harness
//! applies it after schema.sql): faster than 500 registrations and free of the login limits.
//!
//! - REST: `READER` is a member of `CHATS` chats (groups of 5 and DMs, 5 messages each, some
//!   unread), and chat `BIG_CHAT` holds `BIG_CHAT_MESSAGES` messages from its 5 members with
//!   reactions, so the chat list and the message list answer full pages.
//! - Fan-out: one group chat per receiver count `r`, whose members are the first `r` of the
//!   fan-out users; the first of them is the sender.
//!
//! Sessions store the SHA-256 hex of the token (schema.sql), so every user's token is known.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

/// The user whose chat list and message pages the REST phases read.
pub const READER: i64 = 1;
/// Chats `1..=CHATS` are the reader's.
pub const CHATS: i64 = 20;
/// The reader's busiest chat (a group), whose newest page is listed.
pub const BIG_CHAT: i64 = 1;
pub const BIG_CHAT_MESSAGES: i64 = 200;
/// Another of the reader's groups, where the POST phase sends: sending to `BIG_CHAT` would
/// change the page the GET phase lists, round after round.
pub const SEND_CHAT: i64 = 2;
/// Chats `CHATS - DMS + 1..=CHATS` are DMs, the others groups.
const DMS: i64 = 5;
/// Friends (users `2..=FRIENDS + 1`) fill the reader's chats.
const FRIENDS: i64 = 40;
const MESSAGES_PER_SMALL_CHAT: i64 = 5;

/// Fan-out users are `FANOUT_USER_BASE + 1..=FANOUT_USER_BASE + max r`.
const FANOUT_USER_BASE: i64 = 10_000;
/// The fan-out chat for `r` receivers has id `FANOUT_CHAT_BASE + r`.
const FANOUT_CHAT_BASE: i64 = 100_000;
/// The room of the rooms phase (bench/rooms.rs): its members are the first `members` fan-out
/// users; the next ones watch it and join it.
pub const ROOM_CHAT: i64 = 200_000;

pub fn token(user_id: i64) -> String {
    format!("bench-token-{user_id}")
}

pub fn fanout_chat(receivers: usize) -> i64 {
    FANOUT_CHAT_BASE + receivers as i64
}

/// The `k`-th (0-based) member of every fan-out chat; member 0 sends.
pub fn fanout_user(k: usize) -> i64 {
    FANOUT_USER_BASE + 1 + k as i64
}

fn token_hash(t: &str) -> String {
    Sha256::digest(t.as_bytes())
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A timestamp `n` seconds after the seed's epoch, in the schema's format.
fn at(n: i64) -> String {
    let (d, s) = (n / 86_400, n % 86_400);
    format!(
        "2025-01-{:02}T{:02}:{:02}:{:02}.000Z",
        1 + d,
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

struct Sql {
    text: String,
    message_id: i64,
}

impl Sql {
    fn user(&mut self, id: i64, first: &str, last: &str) {
        let name = format!("bench{id}");
        let _ = writeln!(
            self.text,
            "INSERT INTO users (id, username, username_lower, password, email, first_name, last_name,
                                search_text, date_joined)
             VALUES ({id}, '{name}', '{name}', '!', '{name}@example.com', '{first}', '{last}',
                     '{name} {lf} {ll} {name}@example.com', '{t}');
             INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
             VALUES ('{h}', {id}, '{t}', '2999-01-01T00:00:00.000Z');",
            lf = first.to_lowercase(),
            ll = last.to_lowercase(),
            t = at(0),
            h = token_hash(&token(id)),
        );
    }

    fn chat(&mut self, id: i64, kind: &str, title: &str, dm_key: Option<String>, members: &[i64]) {
        let dm_key = dm_key.map_or("NULL".to_string(), |k| format!("'{k}'"));
        let _ = writeln!(
            self.text,
            "INSERT INTO chats (id, chat_type, title, dm_key, created_by, created_at, updated_at,
                                last_activity_at)
             VALUES ({id}, '{kind}', '{title}', {dm_key}, {creator}, '{t}', '{t}', '{t}');",
            creator = members[0],
            t = at(id),
        );
        for (k, m) in members.iter().enumerate() {
            let _ = writeln!(
                self.text,
                "INSERT INTO chat_members (chat_id, user_id, is_admin, joined_at)
                 VALUES ({id}, {m}, {admin}, '{t}');",
                admin = (k == 0 || kind == "dm") as i64,
                t = at(id),
            );
        }
    }

    /// `count` messages from `members` in turn, each with its `new_message` event; every
    /// member has read up to `read_upto` of them; every tenth message has reactions.
    fn messages(&mut self, chat: i64, members: &[i64], count: i64, read_upto: i64) {
        let mut last_read = 0;
        for seq in 1..=count {
            self.message_id += 1;
            let id = self.message_id;
            let sender = members[seq as usize % members.len()];
            let t = at(100_000 + id * 7);
            let content = format!(
                "Message {seq} of chat {chat}: a typical sentence or two of chat text, \
                 about as long as people write them."
            );
            let _ = writeln!(
                self.text,
                "INSERT INTO messages (id, chat_id, seq, sender_id, content, client_id, created_at,
                                       updated_at)
                 VALUES ({id}, {chat}, {seq}, {sender}, '{content}', 'seed-{id}', '{t}', '{t}');
                 INSERT INTO chat_events (chat_id, seq, type, message_id, user_id, created_at)
                 VALUES ({chat}, {seq}, 'new_message', {id}, {sender}, '{t}');"
            );
            if seq % 10 == 0 {
                for (e, user) in ["👍", "🎉"].iter().zip(members) {
                    let _ = writeln!(
                        self.text,
                        "INSERT INTO reactions (message_id, emoji, user_id, created_at)
                         VALUES ({id}, '{e}', {user}, '{t}');"
                    );
                }
            }
            if seq <= read_upto {
                last_read = id;
            }
            let _ = writeln!(
                self.text,
                "UPDATE chats SET last_seq = {seq}, last_activity_at = '{t}' WHERE id = {chat};"
            );
        }
        // Never behind a member's own messages (sending moves the pointer: schema.sql).
        let _ = writeln!(
            self.text,
            "UPDATE chat_members SET last_read_message_id = MAX({last_read}, COALESCE(
               (SELECT MAX(id) FROM messages m WHERE m.chat_id = {chat}
                AND m.sender_id = chat_members.user_id), 0))
             WHERE chat_id = {chat};"
        );
    }
}

/// The seed SQL for fan-out chats of `receivers` members each, and a room of `room_members`
/// members with `room_others` more fan-out users (its watchers and joiners).
pub fn sql(receivers: &[usize], room_members: usize, room_others: usize) -> String {
    let mut s = Sql {
        text: String::new(),
        message_id: 0,
    };
    s.user(READER, "Rita", "Reader");
    for f in 2..=FRIENDS + 1 {
        s.user(f, &format!("Friend{f}"), "Example");
    }
    for chat in 1..=CHATS {
        let friend = |k: i64| 2 + (chat * 4 + k) % FRIENDS;
        if chat > CHATS - DMS {
            let other = friend(0);
            let key = format!("{}:{}", READER.min(other), READER.max(other));
            s.chat(chat, "dm", "", Some(key), &[READER, other]);
            s.messages(chat, &[READER, other], MESSAGES_PER_SMALL_CHAT, 3);
        } else {
            let members: Vec<i64> = std::iter::once(READER).chain((0..4).map(friend)).collect();
            s.chat(chat, "group", &format!("Group {chat}"), None, &members);
            let count = if chat == BIG_CHAT {
                BIG_CHAT_MESSAGES
            } else {
                MESSAGES_PER_SMALL_CHAT
            };
            s.messages(chat, &members, count, count - 2);
        }
    }
    let most = receivers.iter().copied().max().unwrap_or(0);
    let most = most.max(room_members + room_others);
    for k in 0..most {
        s.user(fanout_user(k), &format!("Fan{k}"), "Out");
    }
    if room_members > 0 {
        let members: Vec<i64> = (0..room_members).map(fanout_user).collect();
        s.chat(ROOM_CHAT, "room", "Bench room", None, &members);
    }
    for &r in receivers {
        let members: Vec<i64> = (0..r).map(fanout_user).collect();
        s.chat(
            fanout_chat(r),
            "group",
            &format!("Fan-out {r}"),
            None,
            &members,
        );
    }
    s.text
}
