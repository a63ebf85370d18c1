//! Read receipts: per-member read pointers that only move forward.

use serde_json::json;
use worker::Response;

use crate::auth;
use crate::error::ApiResult;
use crate::http::{self, Cx};
use crate::realtime;
use crate::writes;

/// `POST /messages/api/chats/{id}/mark-as-read/` `{message_id?}` →
/// `{status, marked_count, last_read_message_id}`; emits `read_receipt` when it moved.
pub async fn mark_as_read(cx: &Cx, chat_id: i64) -> ApiResult<Response> {
    let (me, _) = auth::member(cx, chat_id).await?;
    let mut input = cx.json()?;
    let message_id = input.opt_id("message_id");
    input.finish()?;
    let moved = writes::read_up_to(&cx.db, chat_id, me.user.id, message_id).await?;
    if let Some(event) = moved.event {
        realtime::publish(cx, chat_id, event);
    }
    http::ok(&json!({
        "status": "success",
        "marked_count": moved.marked,
        "last_read_message_id": moved.pointer,
    }))
}
