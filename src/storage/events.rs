//! The chat event log and its sequencer (SPEC §6).
//!
//! Every durable event of a chat gets the chat's next `seq` inside the same D1 batch (one
//! transaction) that makes the change, so seqs are gapless and in commit order per chat.
//! A batch that may or may not produce an event (an idempotent retry, a read pointer that does
//! not move) guards the bump; later statements of the batch recognise "this batch bumped" as
//! "the chat's last_seq has no event row yet" (`PENDING`).

use serde::Deserialize;
use worker::{D1PreparedStatement, D1Result};

use super::{Arg, Db};
use crate::args;
use crate::error::ApiResult;

/// Events kept per chat for `?since=` replay; older ones answer `resync_required`.
pub const RETENTION: i64 = 1000;

/// SQL condition, over a row `chats`, true right after this batch bumped `last_seq` and before
/// it wrote the event row.
pub const PENDING: &str = "chats.last_seq > 0 AND NOT EXISTS (SELECT 1 FROM chat_events e
     WHERE e.chat_id = chats.id AND e.seq = chats.last_seq)";

/// What an event row points at.
pub enum EventRef {
    None,
    Message(i64),
    /// The message this batch inserted with the pending seq (new_message).
    PendingMessage,
    /// A message id computed in SQL when the batch runs (read_receipt: the new read pointer).
    Expr(String, Vec<Arg>),
}

/// One event to append: its type, references, and JSON known up front.
pub struct NewEvent<'a> {
    pub kind: &'a str,
    pub message: EventRef,
    pub user_id: Option<i64>,
    pub data: Option<String>,
}

/// The statements that append `ev` to `chat_id`'s log, only if `guard` (an SQL condition over
/// the `chats` row, with its own bound values) holds before the change. Put them first in the
/// batch; statements after them may test `PENDING` to act only when the event was appended.
pub fn append(
    db: &Db,
    chat_id: i64,
    ev: NewEvent<'_>,
    guard: Option<(&str, Vec<Arg>)>,
    now: &str,
) -> ApiResult<Vec<D1PreparedStatement>> {
    // The guard comes first so its own `?`/`?N` placeholders number from 1; the chat id is
    // bound after them.
    let (guard_sql, mut bump_args) = guard.unwrap_or(("1", vec![]));
    let id_param = bump_args.len() + 1;
    bump_args.push(Arg::Int(chat_id));
    let bump = db.stmt(
        &format!(
            "UPDATE chats SET last_seq = last_seq + 1 WHERE ({guard_sql}) AND id = ?{id_param}"
        ),
        bump_args,
    )?;
    let mut insert_args = vec![Arg::from(ev.kind)];
    let message_sql = match ev.message {
        EventRef::PendingMessage => {
            "(SELECT m.id FROM messages m WHERE m.chat_id = chats.id AND m.seq = chats.last_seq)"
                .to_string()
        }
        EventRef::None => {
            insert_args.push(Arg::Null);
            "?".to_string()
        }
        EventRef::Message(id) => {
            insert_args.push(Arg::Int(id));
            "?".to_string()
        }
        EventRef::Expr(sql, args) => {
            insert_args.extend(args);
            format!("({sql})")
        }
    };
    insert_args.extend([
        Arg::from(ev.user_id),
        Arg::from(ev.data),
        Arg::from(now),
        Arg::Int(chat_id),
    ]);
    let insert = db.stmt(
        &format!(
            "INSERT INTO chat_events (chat_id, seq, type, message_id, user_id, data, created_at)
             SELECT id, last_seq, ?, {message_sql}, ?, ?, ? FROM chats WHERE id = ? AND {PENDING}"
        ),
        insert_args,
    )?;
    let prune = db.stmt(
        "DELETE FROM chat_events WHERE chat_id = ?
           AND seq <= (SELECT last_seq FROM chats WHERE id = ?) - ?",
        args![chat_id, chat_id, RETENTION],
    )?;
    Ok(vec![bump, insert, prune])
}

/// The statement reading the chat's newest seq, for the end of a batch that appended an event
/// (`read_seq` reads its result).
pub fn seq_stmt(db: &Db, chat_id: i64) -> ApiResult<D1PreparedStatement> {
    db.stmt("SELECT last_seq FROM chats WHERE id = ?", args![chat_id])
}

/// The seq `seq_stmt` read (0 when the chat is gone).
pub fn read_seq(res: &D1Result) -> ApiResult<i64> {
    #[derive(Deserialize)]
    struct Seq {
        last_seq: i64,
    }
    Ok(super::first_row::<Seq>(res)?.map_or(0, |s| s.last_seq))
}

/// A stored event.
#[derive(Debug, Clone, Deserialize)]
pub struct EventRow {
    pub seq: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub message_id: Option<i64>,
    pub user_id: Option<i64>,
    pub data: Option<String>,
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
    let bounds = db.stmt(
        "SELECT last_seq, COALESCE((SELECT MIN(seq) FROM chat_events WHERE chat_id = chats.id), 0)
                AS oldest_seq
         FROM chats WHERE id = ?",
        args![chat_id],
    )?;
    let rows = db.stmt(
        "SELECT seq, type, message_id, user_id, data FROM chat_events
         WHERE chat_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        args![chat_id, since, limit],
    )?;
    let res = db.batch(vec![bounds, rows]).await?;
    let Some(bounds) = super::first_row::<LogBounds>(&res[0])? else {
        return Ok(None);
    };
    Ok(Some((bounds, super::rows(&res[1])?)))
}
