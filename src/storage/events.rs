//! Reading a chat's durable event log (`chat_events`), for `?since=` replay and gap filling.
//! Events are appended by `Batch::event` (batch.rs), in the transaction of their change.

use serde::Deserialize;

use super::{Batch, Db};
use crate::args;
use crate::domain::EventKind;
use crate::error::ApiResult;

/// A stored event.
#[derive(Debug, Clone, Deserialize)]
pub struct EventRow {
    pub seq: i64,
    /// The message it is about; a `read_receipt` keeps the new read pointer here.
    pub message_id: Option<i64>,
    /// Who: the reader, the removed member, the renamer.
    pub user_id: Option<i64>,
    /// JSON known when the event was written (the added user ids).
    pub data: Option<String>,
    /// `new_message`, `member_removed`, ...: the `type` column.
    #[serde(rename = "type")]
    pub kind: EventKind,
}

/// The chat's newest seq and its oldest retained one (0 when none).
#[derive(Debug, Deserialize)]
pub struct LogBounds {
    pub last_seq: i64,
    pub oldest_seq: i64,
}

/// Events with `seq > since`, oldest first (at most `limit`), and the log's bounds, in one
/// round trip. `None` when the chat does not exist.
pub async fn since(
    db: &Db,
    chat_id: i64,
    since: i64,
    limit: i64,
) -> ApiResult<Option<(LogBounds, Vec<EventRow>)>> {
    let mut b = Batch::new(db);
    let bounds = b.query::<LogBounds>(
        "SELECT last_seq,
                COALESCE((SELECT MIN(seq) FROM chat_events WHERE chat_id = chats.id), 0)
                  AS oldest_seq
         FROM chats WHERE id = ?1",
        args![chat_id],
    )?;
    let rows = b.query(
        "SELECT seq, type, message_id, user_id, data FROM chat_events
         WHERE chat_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        args![chat_id, since, limit],
    )?;
    let res = b.run().await?;
    match res.first(bounds)? {
        Some(bounds) => Ok(Some((bounds, res.all(rows)?))),
        None => Ok(None),
    }
}
