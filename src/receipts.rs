//! Read receipts (SPEC §5): each member's read pointer per chat, which only moves forward.
//!
//! Minimal version for the realtime branch; the receipts module on main replaces the body of
//! `mark_read`, keeping its signature.

use serde_json::Value;

use crate::error::ApiResult;
use crate::storage::Db;

/// Moves `user_id`'s read pointer in `chat_id` to `message_id` (or the newest message); returns
/// the durable `read_receipt` event to publish when the pointer moved, `None` otherwise.
pub async fn mark_read(
    _db: &Db,
    _chat_id: i64,
    _user_id: i64,
    _message_id: Option<i64>,
) -> ApiResult<Option<Value>> {
    Ok(None)
}
