//! Read pointers (read receipts): per member and chat, the last message read; they only move
//! forward.

use serde::Deserialize;

use super::batch::{pending, EventRef, NewEvent, Sequenced, Stamp};
use super::messages::{deleted_after, passed};
use super::{Batch, Results, Rows, Sql};
use crate::args;
use crate::domain::EventKind;
use crate::error::ApiResult;

/// What moving a read pointer did.
#[derive(Debug, Deserialize)]
pub struct Advanced {
    /// The pointer after the call.
    pub pointer: i64,
    /// Messages from others, not deleted, that became read.
    pub marked: i64,
    /// False when the requested message is not a message of this chat.
    #[serde(deserialize_with = "super::int_bool")]
    pub target_ok: bool,
    /// The `read_receipt`'s stamp when the pointer moved.
    #[serde(skip)]
    pub stamp: Option<Stamp>,
}

/// The handles of `advance` in a batch.
pub struct AdvanceReads {
    before: Rows<Advanced>,
    event: Sequenced,
}

impl AdvanceReads {
    pub fn read(&self, res: &Results) -> ApiResult<Advanced> {
        let mut out = res.first(self.before)?.unwrap_or(Advanced {
            pointer: 0,
            marked: 0,
            target_ok: false,
            stamp: None,
        });
        out.stamp = self.event.stamp(res)?;
        Ok(out)
    }
}

/// Moves `user_id`'s read pointer in `chat_id` forward to `message_id` (or the newest
/// message), logging `read_receipt` when it moved, in the batch `b`.
pub fn advance(
    b: &mut Batch,
    chat_id: i64,
    user_id: i64,
    message_id: Option<i64>,
    now: &str,
) -> ApiResult<AdvanceReads> {
    // ?1 chat, ?2 user, ?3 requested message: the pointer's target.
    let target = "COALESCE((SELECT id FROM messages WHERE id = ?3 AND chat_id = ?1),
                  CASE WHEN ?3 IS NULL THEN (SELECT MAX(id) FROM messages WHERE chat_id = ?1) END,
                  0)";
    // Read before the change: what the call will mark. By subtraction, as unread counts
    // (`messages::unread`): the positions the pointer passes, less the deleted messages among
    // them (none is the member's own: their pointer is never behind their own messages). A few
    // rows however many messages it marks.
    let before = b.query::<Advanced>(
        &format!(
            "SELECT t.pointer, MAX({} - {} - {}, 0) AS marked, t.target_ok
             FROM (SELECT me.last_read_message_id AS old,
                     MAX(me.last_read_message_id, {target}) AS pointer,
                     (?3 IS NULL OR EXISTS (SELECT 1 FROM messages WHERE id = ?3 AND chat_id = ?1))
                       AS target_ok
                   FROM chat_members me WHERE me.chat_id = ?1 AND me.user_id = ?2) t",
            passed("?1", "t.pointer"),
            passed("?1", "t.old"),
            deleted_after("?1", "t.old", Some("t.pointer")),
        ),
        args![chat_id, user_id, message_id],
    )?;
    let (event, ()) = b.event(
        chat_id,
        Some(Sql::new(
            format!(
                "EXISTS (SELECT 1 FROM chat_members WHERE chat_id = ?1 AND user_id = ?2
                         AND last_read_message_id < {target})"
            ),
            args![chat_id, user_id, message_id],
        )),
        NewEvent {
            kind: EventKind::ReadReceipt,
            message: EventRef::ReadPointer(user_id),
            user_id: Some(user_id),
            data: None,
            now: now.to_string(),
        },
        |b| {
            b.exec(
                &format!(
                    "UPDATE chat_members SET last_read_message_id = {target}
                     WHERE chat_id = ?1 AND user_id = ?2 AND last_read_message_id < {target}
                       AND {}",
                    pending(1)
                ),
                args![chat_id, user_id, message_id],
            )?;
            Ok(())
        },
    )?;
    Ok(AdvanceReads { before, event })
}
