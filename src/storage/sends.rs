//! Sending a message in one D1 round trip: the batch authenticates the session, checks the
//! membership and the `client_id`, stores the message with the chat's next seq, and reads back
//! what the answer needs — all of it guarded, so a made-up session or a non-member writes
//! nothing. The chat's room runs it (it is its chat's single writer) together with the other
//! writes that arrived meanwhile.

use serde::Deserialize;

use super::batch::{EventRef, NewEvent, Stamp, PENDING};
use super::messages::{Loaded, MessageRow, PointerRow, ReactionRow};
use super::users::UserRow;
use super::{compose, int_bool, Batch, Results, Rows, Sql};
use crate::args;
use crate::domain::EventKind;
use crate::error::ApiResult;

/// A message to send.
pub struct Sending<'a> {
    pub chat_id: i64,
    pub token_hash: &'a str,
    pub content: &'a str,
    pub client_id: Option<&'a str>,
    pub now: &'a str,
}

/// The sender, read before anything is written, with the message they sent earlier with this
/// `client_id`, if any (JSON: the message row, its reactions and the chat's read pointers).
#[derive(Debug, Deserialize)]
pub struct Sender {
    #[serde(flatten)]
    pub user: UserRow,
    #[serde(deserialize_with = "int_bool")]
    pub is_member: bool,
    /// The chat is a room (its non-members are told to join, not that it does not exist).
    #[serde(default, deserialize_with = "int_bool")]
    pub in_room: bool,
    earlier: Option<String>,
}

/// The row the send stored.
#[derive(Debug, Deserialize)]
pub struct Stored {
    pub id: i64,
    pub seq: i64,
}

/// What a send did.
pub struct Sent {
    /// `None`: the session is unknown, expired or revoked.
    pub sender: Option<Sender>,
    /// The message stored earlier with this `client_id` (a retry): nothing new was written.
    pub earlier: Option<Loaded>,
    /// The new message's row and its event's stamp.
    pub stored: Option<(Stored, Stamp)>,
}

/// `Sender::earlier`'s JSON.
#[derive(Debug, Deserialize)]
struct Earlier {
    message: MessageRow,
    reactions: Vec<ReactionRow>,
    pointers: Vec<PointerRow>,
}

/// The handles of a send in a batch.
pub struct SendReads {
    sender: Rows<Sender>,
    event: super::batch::Sequenced,
    stored: Rows<Stored>,
}

impl SendReads {
    pub fn read(&self, res: &Results) -> ApiResult<Sent> {
        let stored = match (res.first(self.stored)?, self.event.stamp(res)?) {
            (Some(row), Some(stamp)) => Some((row, stamp)),
            _ => None,
        };
        let mut sender = res.first(self.sender)?;
        let earlier = match sender.as_mut().and_then(|s| s.earlier.take()) {
            Some(json) => {
                let e: Earlier = serde_json::from_str(&json)?;
                Some(Loaded {
                    messages: vec![e.message],
                    reactions: e.reactions,
                    pointers: e.pointers,
                })
            }
            None => None,
        };
        Ok(Sent {
            sender,
            earlier,
            stored,
        })
    }
}

/// The session's user id, in SQL (`?1` token hash, `?2` now).
const SESSION_USER: &str = "(SELECT s.user_id FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.is_active = 1)";

/// Pushes a send into `b`: who sends (and whether a member), an earlier message with the same
/// `client_id` (read before this send writes, so a retry within one batch sees the first), then
/// — only for a live session of a member and a new `client_id` — the chat's next seq, the
/// message and `new_message`. The count, the chat's activity time and the sender's read pointer
/// follow the message by trigger (`messages_after_insert`): four statements in all.
pub fn send(b: &mut Batch, s: &Sending) -> ApiResult<SendReads> {
    let session = Sql::new(SESSION_USER, args![s.token_hash, s.now]);
    // The earlier message is read before this send writes, so a retry in the same batch
    // finds the first.
    let sender = compose(
        "SELECT u.id, u.username, u.email, u.first_name, u.last_name, u.avatar_url,
           EXISTS (SELECT 1 FROM chat_members WHERE chat_id = ?1 AND user_id = u.id)
             AS is_member,
           EXISTS (SELECT 1 FROM chats WHERE id = ?1 AND chat_type = 'room') AS in_room,
           (SELECT json_object(
              'message', json_object('id', msg.id, 'chat_id', msg.chat_id, 'seq', msg.seq,
                'content', msg.content, 'client_id', msg.client_id,
                'created_at', msg.created_at, 'updated_at', msg.updated_at,
                'is_edited', msg.is_edited, 'is_deleted', msg.is_deleted,
                'sender_id', msg.sender_id, 'sender_username', u.username,
                'sender_email', u.email, 'sender_first_name', u.first_name,
                'sender_last_name', u.last_name, 'sender_avatar_url', u.avatar_url),
              'reactions', (SELECT json_group_array(json_object('message_id', r.message_id,
                              'emoji', r.emoji, 'user_id', r.user_id))
                            FROM (SELECT * FROM reactions WHERE message_id = msg.id
                                  ORDER BY id) r),
              'pointers', (SELECT json_group_array(json_object('user_id', p.user_id,
                             'last_read_message_id', p.last_read_message_id))
                           FROM chat_members p WHERE p.chat_id = msg.chat_id))
            FROM messages msg
            WHERE msg.chat_id = ?1 AND ?2 IS NOT NULL AND msg.client_id = ?2
              AND msg.sender_id = u.id) AS earlier
         FROM users u WHERE u.id = {}",
        args![s.chat_id, s.client_id],
        &[&session],
    );
    let sender = b.query(&sender.text, sender.args)?;
    let guard = compose(
        "EXISTS (SELECT 1 FROM chat_members WHERE chat_id = chats.id AND user_id = {})
         AND (?1 IS NULL OR NOT EXISTS (SELECT 1 FROM messages
               WHERE chat_id = chats.id AND client_id = ?1 AND sender_id = {}))",
        args![s.client_id],
        &[&session, &session],
    );
    let event = NewEvent {
        kind: EventKind::NewMessage,
        message: EventRef::PendingMessage,
        user_id: None,
        data: None,
        now: s.now.to_string(),
    };
    let (event, stored) = b.event(s.chat_id, Some(guard), event, |b| {
        // `ordinal` (the message's position in the chat, issue 18) is given here from the
        // count the trigger is about to bump, which spares the trigger writing the row again.
        let insert = compose(
            &format!(
                "INSERT INTO messages (chat_id, seq, sender_id, content, client_id, created_at,
                                       updated_at, ordinal)
                 SELECT id, last_seq, {{}}, ?2, ?3, ?4, ?4, message_count + 1
                 FROM chats WHERE id = ?1 AND {PENDING}
                 RETURNING id, seq"
            ),
            args![s.chat_id, s.content, s.client_id, s.now],
            &[&session],
        );
        b.query(&insert.text, insert.args)
    })?;
    Ok(SendReads {
        sender,
        event,
        stored,
    })
}
