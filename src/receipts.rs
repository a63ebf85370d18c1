//! Read receipts: per-member read pointers that only move forward.

use worker::Response;

use crate::auth;
use crate::error::ApiResult;
use crate::http::Cx;
use crate::realtime;
use crate::writes::Write;

/// `POST /messages/api/chats/{id}/mark-as-read/` `{message_id?}` →
/// `{status, marked_count, last_read_message_id}`; emits `read_receipt` when it moved.
pub async fn mark_as_read(cx: &Cx, chat_id: i64) -> ApiResult<Response> {
    let (me, _) = auth::member(cx, chat_id).await?;
    let mut input = cx.json()?;
    let message_id = input.opt_id("message_id");
    input.finish()?;
    let write = Write::MarkRead {
        user_id: me.user.id,
        message_id,
    };
    realtime::write(cx, chat_id, write).await
}
