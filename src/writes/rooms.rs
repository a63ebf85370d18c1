//! Writes to a room's members (SPEC §10): joins (an admin's adds too) and leaves (an admin's
//! removals too). Both send the room's new member count to every socket, watchers included;
//! a joiner's watcher sockets become members' before the join's event goes out, and a leaver's
//! become watchers right after theirs, so no message event reaches them after the leave.

use serde_json::json;

use super::{Close, Done, Published, Reply};
use crate::error::{ApiError, ApiResult};
use crate::storage::rooms::{self as store, ChangeReads};
use crate::storage::{Batch, Results};
use crate::views::{Event, Room};

pub struct JoinPlan {
    reads: ChangeReads,
    user_ids: Vec<i64>,
    view_as: Option<i64>,
}

pub struct LeavePlan {
    reads: ChangeReads,
    user_id: i64,
}

pub fn join(
    b: &mut Batch,
    chat_id: i64,
    user_ids: &[i64],
    view_as: Option<i64>,
    now: &str,
) -> ApiResult<JoinPlan> {
    Ok(JoinPlan {
        reads: store::join(b, chat_id, user_ids, view_as, now)?,
        user_ids: user_ids.to_vec(),
        view_as,
    })
}

pub fn leave(b: &mut Batch, chat_id: i64, user_id: i64, now: &str) -> ApiResult<LeavePlan> {
    Ok(LeavePlan {
        reads: store::leave(b, chat_id, user_id, now)?,
        user_id,
    })
}

impl JoinPlan {
    /// A join: 200 with the room as the joiner sees it (also when they had joined meanwhile:
    /// joining is idempotent). An admin's add: 200 `{status, added_count}`, or 400 when some
    /// became members meanwhile (nothing was written). `members_added` carries the count.
    pub fn done(&self, res: &Results) -> Done {
        let changed = match self.reads.read(res) {
            Ok(changed) => changed,
            Err(e) => return Done::reply(Err(e)),
        };
        let room = match (self.view_as, &changed.page) {
            (Some(me), Some(page)) => Room::first(page, me),
            _ => None,
        };
        let reply = match (self.view_as, room) {
            (Some(_), Some(room)) if room.is_member => Reply::json(200, &room),
            (Some(_), _) => Err(ApiError::NotFound),
            (None, _) if changed.stamp.is_none() => Err(ApiError::field(
                "user_ids",
                "The member list changed meanwhile; please retry.",
            )),
            (None, _) => Reply::json(
                200,
                &json!({"status": "success", "added_count": self.user_ids.len()}),
            ),
        };
        let (Some(stamp), Some(count)) = (changed.stamp, changed.member_count) else {
            return Done::reply(reply);
        };
        let event = Event::members_added(stamp.seq, self.user_ids.clone()).with_member_count(count);
        Done {
            member_count: Some(count),
            promote: self.user_ids.clone(),
            ..Done::with(reply, vec![Published::of(&event, stamp.global)])
        }
    }
}

impl LeavePlan {
    /// 204 with `member_removed` (carrying the count), the leaver's sockets going on as
    /// watchers; 204 with nothing when they were not a member (leaving is idempotent).
    pub fn done(&self, res: &Results) -> Done {
        let changed = match self.reads.read(res) {
            Ok(changed) => changed,
            Err(e) => return Done::reply(Err(e)),
        };
        let (Some(stamp), Some(count)) = (changed.stamp, changed.member_count) else {
            return Done::reply(Ok(Reply::no_content()));
        };
        let event = Event::member_removed(stamp.seq, self.user_id).with_member_count(count);
        Done {
            close: Some(Close::Demote(vec![self.user_id])),
            member_gen: changed.member_gen,
            member_count: Some(count),
            ..Done::with(
                Ok(Reply::no_content()),
                vec![Published::of(&event, stamp.global)],
            )
        }
    }
}
