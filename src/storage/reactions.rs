//! Reactions: adding or removing one user's emoji on a message.

use super::batch::{pending, EventRef, NewEvent};
use super::messages::ChangeReads;
use super::{Batch, Sql};
use crate::args;
use crate::domain::EventKind;
use crate::error::ApiResult;

/// What a reaction change is.
pub struct Reacting<'a> {
    pub chat_id: i64,
    pub message_id: i64,
    pub user_id: i64,
    pub emoji: &'a str,
    /// Add (true) or remove (false) the user's `emoji`.
    pub add: bool,
    /// A new emoji is refused once the message has this many distinct ones.
    pub max_distinct: i64,
}

/// Adds or removes the caller's emoji on a message, logging `reaction_updated`, in the batch
/// `b`. Adding requires the message not deleted and, for an emoji not yet on it, fewer than
/// `max_distinct` distinct ones; when the state no longer matches, nothing is written. The
/// message is read back after the change.
pub fn react(b: &mut Batch, r: &Reacting<'_>, now: &str) -> ApiResult<ChangeReads> {
    let mine =
        "EXISTS (SELECT 1 FROM reactions WHERE message_id = ?1 AND user_id = ?2 AND emoji = ?3)";
    let guard = if r.add {
        Sql::new(
            format!(
                "NOT {mine} AND EXISTS (SELECT 1 FROM messages WHERE id = ?1 AND is_deleted = 0)
                 AND (EXISTS (SELECT 1 FROM reactions WHERE message_id = ?1 AND emoji = ?3)
                      OR (SELECT COUNT(DISTINCT emoji) FROM reactions WHERE message_id = ?1) < ?4)"
            ),
            args![r.message_id, r.user_id, r.emoji, r.max_distinct],
        )
    } else {
        Sql::new(mine, args![r.message_id, r.user_id, r.emoji])
    };
    let (event, ()) = b.event(
        r.chat_id,
        Some(guard),
        NewEvent {
            kind: EventKind::ReactionUpdated,
            message: EventRef::Message(r.message_id),
            user_id: Some(r.user_id),
            data: None,
            now: now.to_string(),
        },
        |b| {
            let write = if r.add {
                "INSERT INTO reactions (message_id, emoji, user_id, created_at)
                 SELECT ?2, ?3, ?4, ?5 WHERE {pending}"
            } else {
                "DELETE FROM reactions WHERE message_id = ?2 AND emoji = ?3 AND user_id = ?4
                   AND {pending}"
            };
            let mut a = args![r.chat_id, r.message_id, r.emoji, r.user_id];
            if r.add {
                a.push(now.into());
            }
            b.exec(&write.replace("{pending}", &pending(1)), a)?;
            Ok(())
        },
    )?;
    ChangeReads::new(b, event, r.chat_id, r.message_id)
}
