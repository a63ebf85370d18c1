//! Chat writes shared by the REST handlers and the chat room (the socket's `mark_read`): the
//! storage change plus the event it publishes, with the refusals both report alike.

use crate::error::{ApiError, ApiResult};
use crate::storage::{receipts, Db};
use crate::time;
use crate::views::Event;

/// What moving a read pointer did.
pub struct ReadUpTo {
    /// Messages from others that became read.
    pub marked: i64,
    /// The pointer after the call.
    pub pointer: i64,
    /// `read_receipt`, when the pointer moved.
    pub event: Option<Event>,
}

/// Moves `user_id`'s read pointer in `chat_id` forward to `message_id` (or the newest
/// message). A `message_id` outside the chat is a 400.
pub async fn read_up_to(
    db: &Db,
    chat_id: i64,
    user_id: i64,
    message_id: Option<i64>,
) -> ApiResult<ReadUpTo> {
    let moved = receipts::advance(db, chat_id, user_id, message_id, &time::now_iso()).await?;
    if !moved.target_ok {
        return Err(ApiError::field("message_id", "Not a message of this chat."));
    }
    Ok(ReadUpTo {
        marked: moved.marked,
        pointer: moved.pointer,
        event: moved
            .seq
            .map(|seq| Event::read_receipt(seq, user_id, moved.pointer)),
    })
}
