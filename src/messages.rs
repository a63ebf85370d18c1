//! Messages (SPEC §5): the message JSON, listing with keyset paging, send, edit, delete.

use serde_json::{json, Value};

use crate::storage::messages::MessageRow;
use crate::users::summary;

/// A message without reactions and read receipts (a chat's `last_message`).
pub fn render_basic(m: &MessageRow) -> Value {
    json!({
        "id": m.id,
        "chat": m.chat_id,
        "seq": m.seq,
        "content": m.content,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
        "is_edited": m.is_edited == 1,
        "is_deleted": m.is_deleted == 1,
        "sender": m.sender().as_ref().map(summary),
        "client_id": m.client_id,
    })
}
