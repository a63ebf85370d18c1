//! Chat members: who belongs to a chat, adding and removing them.

use serde::Deserialize;

use super::batch::{pending, EventRef, NewEvent, Sequenced, Stamp, PENDING};
use super::chats::{active_users, ids, Id};
use super::{Batch, Db, Exec, Results, Rows, Sql};
use crate::args;
use crate::domain::EventKind;
use crate::error::ApiResult;

/// Whether `user_id` is a member of `chat_id`.
pub async fn is_member(db: &Db, chat_id: i64, user_id: i64) -> ApiResult<bool> {
    let row: Option<Id> = db
        .first(
            "SELECT user_id AS id FROM chat_members WHERE chat_id = ?1 AND user_id = ?2",
            args![chat_id, user_id],
        )
        .await?;
    Ok(row.is_some())
}

/// The member from whose point of view a replayed `chat_updated` shows the chat: `prefer`
/// (who renamed it) while still a member, else the longest-standing member. `None` for an
/// empty chat.
pub async fn perspective(db: &Db, chat_id: i64, prefer: Option<i64>) -> ApiResult<Option<i64>> {
    let row: Option<Id> = db
        .first(
            "SELECT user_id AS id FROM chat_members WHERE chat_id = ?1
             ORDER BY user_id IS ?2 DESC, joined_at, rowid LIMIT 1",
            args![chat_id, prefer],
        )
        .await?;
    Ok(row.map(|r| r.id))
}

/// The reads `add` checks its ids with: active users among `ids`, and which of them already
/// belong to the chat (to batch with authentication).
pub struct Candidates {
    active: Rows<Id>,
    members: Rows<Id>,
}

impl Candidates {
    pub fn query(b: &mut Batch, chat_id: i64, ids: &[i64]) -> ApiResult<Candidates> {
        let ids_json = serde_json::to_string(ids)?;
        Ok(Candidates {
            active: active_users(b, &ids_json)?,
            members: b.query(
                "SELECT user_id AS id FROM chat_members
                 WHERE chat_id = ?1 AND user_id IN (SELECT value FROM json_each(?2))",
                args![chat_id, ids_json.as_str()],
            )?,
        })
    }

    /// (active users, already members).
    pub fn read(&self, res: &Results) -> ApiResult<(Vec<i64>, Vec<i64>)> {
        Ok((ids(res, self.active)?, ids(res, self.members)?))
    }
}

/// What adding the users of `ids_json` (a JSON array of ids) to a chat checks and logs: none
/// of them is a member yet (over `chats`, the event's guard), and `members_added` with them.
/// Shared by adding members and joining a room.
pub(super) fn adding(ids_json: &str, now: &str) -> (Sql, NewEvent) {
    let guard = Sql::new(
        "NOT EXISTS (SELECT 1 FROM chat_members WHERE chat_id = chats.id
           AND user_id IN (SELECT value FROM json_each(?1)))",
        args![ids_json],
    );
    let event = NewEvent {
        kind: EventKind::MembersAdded,
        message: EventRef::None,
        user_id: None,
        data: Some(ids_json.to_string()),
        now: now.to_string(),
    };
    (guard, event)
}

/// Adds `new_ids` (active users, not yet members) and logs `members_added` with them, in the
/// batch `b`; nothing is written when a concurrent change made some of them members meanwhile
/// (the handle reads `None`).
pub fn add(b: &mut Batch, chat_id: i64, new_ids: &[i64], now: &str) -> ApiResult<Sequenced> {
    let ids_json = serde_json::to_string(new_ids)?;
    let (guard, event) = adding(&ids_json, now);
    let (event, ()) = b.event(chat_id, Some(guard), event, |b| {
        b.exec(
            &format!(
                "INSERT INTO chat_members (chat_id, user_id, is_admin, joined_at)
                 SELECT ?1, j.value, 0, ?2 FROM json_each(?3) j WHERE {}",
                pending(1)
            ),
            args![chat_id, now, ids_json.as_str()],
        )?;
        Ok(())
    })?;
    Ok(event)
}

#[derive(Deserialize)]
struct Gen {
    member_gen: i64,
}

/// What removing a member did.
pub struct Removed {
    /// The `member_removed` stamp (with the membership generation before the removal);
    /// `None` when the user was not a member.
    pub stamp: Option<Stamp>,
    /// The membership generation the removal bumped it to.
    pub member_gen: i64,
    /// True when nobody remained and the chat was deleted.
    pub chat_deleted: bool,
}

/// The handles of `remove` in a batch.
pub struct RemoveReads {
    event: Sequenced,
    gen: Rows<Gen>,
    deleted: Exec,
}

impl RemoveReads {
    pub fn read(&self, res: &Results) -> ApiResult<Removed> {
        Ok(Removed {
            stamp: self.event.stamp(res)?,
            member_gen: res.first(self.gen)?.map_or(0, |g| g.member_gen),
            chat_deleted: res.changes(self.deleted) > 0,
        })
    }
}

/// Removes `user_id` from the chat, logging `member_removed` and bumping the membership
/// generation, in the batch `b`. When no admin remains the longest-standing member becomes
/// admin (`hand_over_admin`); when nobody remains the chat is deleted.
pub fn remove(
    b: &mut Batch,
    chat_id: i64,
    user_id: i64,
    hand_over_admin: bool,
    now: &str,
) -> ApiResult<RemoveReads> {
    let guard = Sql::new(
        "EXISTS (SELECT 1 FROM chat_members WHERE chat_id = chats.id AND user_id = ?1)",
        args![user_id],
    );
    let event = NewEvent {
        kind: EventKind::MemberRemoved,
        message: EventRef::None,
        user_id: Some(user_id),
        data: None,
        now: now.to_string(),
    };
    let (event, gen) = b.event(chat_id, Some(guard), event, |b| {
        b.query::<Gen>(
            &format!(
                "UPDATE chats SET member_gen = member_gen + 1 WHERE id = ?1 AND {PENDING}
                 RETURNING member_gen"
            ),
            args![chat_id],
        )
    })?;
    b.exec(
        "DELETE FROM chat_members WHERE chat_id = ?1 AND user_id = ?2",
        args![chat_id, user_id],
    )?;
    if hand_over_admin {
        b.exec(
            "UPDATE chat_members SET is_admin = 1
             WHERE chat_id = ?1
               AND NOT EXISTS (SELECT 1 FROM chat_members WHERE chat_id = ?1 AND is_admin = 1)
               AND rowid = (SELECT rowid FROM chat_members WHERE chat_id = ?1
                            ORDER BY joined_at, rowid LIMIT 1)",
            args![chat_id],
        )?;
    }
    let deleted = b.exec(
        "DELETE FROM chats WHERE id = ?1
           AND NOT EXISTS (SELECT 1 FROM chat_members WHERE chat_id = ?1)",
        args![chat_id],
    )?;
    Ok(RemoveReads {
        event,
        gen,
        deleted,
    })
}

/// Which of `user_ids` are members of `chat_id` now.
pub async fn which_are_members(db: &Db, chat_id: i64, user_ids: &[i64]) -> ApiResult<Vec<i64>> {
    let rows: Vec<Id> = db
        .all(
            "SELECT user_id AS id FROM chat_members
             WHERE chat_id = ?1 AND user_id IN (SELECT value FROM json_each(?2))",
            args![chat_id, serde_json::to_string(user_ids)?],
        )
        .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}
