//! Writes to a chat itself: rename and delete.

use super::{Close, Done, Published, Reply};
use crate::error::{ApiError, ApiResult};
use crate::storage::batch::Sequenced;
use crate::storage::chats::{self as store, RenameReads};
use crate::storage::{Batch, Results};
use crate::views::{Chat, Event};

pub struct RenamePlan {
    reads: RenameReads,
    by: i64,
}

pub struct DeletePlan {
    event: Sequenced,
    chat_id: i64,
}

pub fn rename(
    b: &mut Batch,
    chat_id: i64,
    by: i64,
    title: &str,
    now: &str,
) -> ApiResult<RenamePlan> {
    Ok(RenamePlan {
        reads: store::rename(b, chat_id, by, title, now)?,
        by,
    })
}

pub fn delete(b: &mut Batch, chat_id: i64, now: &str) -> ApiResult<DeletePlan> {
    Ok(DeletePlan {
        event: store::delete(b, chat_id, now)?,
        chat_id,
    })
}

impl RenamePlan {
    /// 200 with the chat as the renamer sees it, and `chat_updated` carrying that view.
    pub fn done(&self, res: &Results) -> Done {
        let (stamp, data) = match self.reads.read(res) {
            Ok(read) => read,
            Err(e) => return Done::reply(Err(e)),
        };
        let (Some(stamp), Some(chat)) = (stamp, Chat::first(&data, self.by)) else {
            return Done::reply(Err(ApiError::NotFound));
        };
        let event = Event::chat_updated(stamp.seq, chat.clone());
        Done::with(
            Reply::json(200, &chat),
            vec![Published::of(&event, stamp.global)],
        )
    }
}

impl DeletePlan {
    /// 204, `chat_deleted` (the chat's last event, logged so that its members' streams get
    /// `chat_removed`), and every socket closed.
    pub fn done(&self, res: &Results) -> Done {
        let stamp = match self.event.stamp(res) {
            Ok(Some(stamp)) => stamp,
            Ok(None) => return Done::reply(Err(ApiError::NotFound)),
            Err(e) => return Done::reply(Err(e)),
        };
        let event = Event::chat_deleted(stamp.seq, self.chat_id);
        Done {
            close: Some(Close::Everyone),
            ..Done::with(
                Ok(Reply::no_content()),
                vec![Published::of(&event, stamp.global)],
            )
        }
    }
}
