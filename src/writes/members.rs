//! Writes to a chat's members: adding and removing them.

use serde_json::json;

use super::{Close, Done, Published, Reply};
use crate::error::{ApiError, ApiResult};
use crate::storage::batch::{Global, Sequenced};
use crate::storage::members::{self as store, RemoveReads};
use crate::storage::{Batch, Results};
use crate::views::Event;

pub struct AddPlan {
    event: Sequenced,
    user_ids: Vec<i64>,
}

pub struct RemovePlan {
    reads: RemoveReads,
    chat_id: i64,
    user_id: i64,
}

pub fn add(b: &mut Batch, chat_id: i64, user_ids: &[i64], now: &str) -> ApiResult<AddPlan> {
    Ok(AddPlan {
        event: store::add(b, chat_id, user_ids, now)?,
        user_ids: user_ids.to_vec(),
    })
}

pub fn remove(
    b: &mut Batch,
    chat_id: i64,
    user_id: i64,
    hand_over_admin: bool,
    now: &str,
) -> ApiResult<RemovePlan> {
    Ok(RemovePlan {
        reads: store::remove(b, chat_id, user_id, hand_over_admin, now)?,
        chat_id,
        user_id,
    })
}

impl AddPlan {
    /// 200 `{status, added_count}` with `members_added`; 400 when some became members
    /// meanwhile (nothing was written).
    pub fn done(&self, res: &Results) -> Done {
        let stamp = match self.event.stamp(res) {
            Ok(Some(stamp)) => stamp,
            Ok(None) => {
                return Done::reply(Err(ApiError::field(
                    "user_ids",
                    "The member list changed meanwhile; please retry.",
                )))
            }
            Err(e) => return Done::reply(Err(e)),
        };
        let event = Event::members_added(stamp.seq, self.user_ids.clone());
        let answer = json!({"status": "success", "added_count": self.user_ids.len()});
        Done {
            added: self.user_ids.clone(),
            ..Done::with(
                Reply::json(200, &answer),
                vec![Published::of(&event, stamp.global)],
            )
        }
    }
}

impl RemovePlan {
    /// 204 with `member_removed` (or `chat_deleted` when nobody remained); the removed
    /// member's sockets close (everyone's when the chat went); 404 when not a member.
    pub fn done(&self, res: &Results) -> Done {
        let removed = match self.reads.read(res) {
            Ok(removed) => removed,
            Err(e) => return Done::reply(Err(e)),
        };
        let Some(stamp) = removed.stamp else {
            return Done::reply(Err(ApiError::NotFound));
        };
        // The last member leaving deletes the chat: nobody remains to be told, so its
        // `chat_deleted` is not logged (gid 0); the leaver's stream has `chat_removed`.
        let (event, close) = if removed.chat_deleted {
            let event = Event::chat_deleted(stamp.seq + 1, self.chat_id);
            (Published::of(&event, Global::default()), Close::Everyone)
        } else {
            let event = Event::member_removed(stamp.seq, self.user_id);
            (
                Published::of(&event, stamp.global),
                Close::Users(vec![self.user_id]),
            )
        };
        Done {
            close: Some(close),
            member_gen: Some(removed.member_gen),
            ..Done::with(Ok(Reply::no_content()), vec![event])
        }
    }
}
