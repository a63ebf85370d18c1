//! Read receipts (SPEC §5): per-member read pointers that only move forward.

use serde_json::{json, Value};
use worker::Response;

use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::events;
use crate::http::{self, Cx};
use crate::realtime;
use crate::storage::{messages as store, Db};
use crate::time;

/// Moves `user_id`'s pointer in `chat_id` to `message_id` (or the newest message). Returns the
/// `marked_count`, and the `read_receipt` event to publish when the pointer moved. A
/// `message_id` outside the chat is a 400.
pub async fn mark(
    db: &Db,
    chat_id: i64,
    user_id: i64,
    message_id: Option<i64>,
) -> ApiResult<(i64, i64, Option<Value>)> {
    let (row, seq) = store::mark_read(db, chat_id, user_id, message_id, &time::now_iso()).await?;
    if row.target_ok == 0 {
        return Err(ApiError::field("message_id", "Not a message of this chat."));
    }
    let event = seq.map(|seq| events::read_receipt(seq, user_id, row.pointer));
    Ok((row.marked, row.pointer, event))
}

/// The socket's `mark_read`: the event to publish, if the pointer moved.
pub async fn mark_read(
    db: &Db,
    chat_id: i64,
    user_id: i64,
    message_id: Option<i64>,
) -> ApiResult<Option<Value>> {
    Ok(mark(db, chat_id, user_id, message_id).await?.2)
}

/// `POST /messages/api/chats/{id}/mark-as-read/` `{message_id?}` →
/// `{status, marked_count, last_read_message_id}`; emits `read_receipt` when it moved.
pub async fn mark_as_read(cx: &Cx, chat_id: i64) -> ApiResult<Response> {
    let (me, _) = auth::member(cx, chat_id).await?;
    let mut input = cx.json()?;
    let message_id = input.opt_id("message_id");
    input.finish()?;
    let (marked, pointer, event) = mark(&cx.db, chat_id, me.user.id, message_id).await?;
    if let Some(event) = event {
        realtime::publish(cx, chat_id, event);
    }
    http::ok(&json!({"status": "success", "marked_count": marked, "last_read_message_id": pointer}))
}
