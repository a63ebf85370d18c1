//! Queries of the real-time layer (SPEC §6): who may open a chat's socket or type in it.

use serde::Deserialize;

use super::Db;
use crate::args;
use crate::error::ApiResult;

/// Whether `user_id` is a member of `chat_id` (a row in `chat_members`).
pub async fn is_member(db: &Db, chat_id: i64, user_id: i64) -> ApiResult<bool> {
    #[derive(Deserialize)]
    struct Row {
        #[allow(dead_code)]
        one: i64,
    }
    let row: Option<Row> = db
        .first(db.stmt(
            "SELECT 1 AS one FROM chat_members WHERE chat_id = ? AND user_id = ?",
            args![chat_id, user_id],
        )?)
        .await?;
    Ok(row.is_some())
}

/// The member whose view of the chat a replayed `chat_updated` carries: `prefer` (who renamed
/// it) while still a member, else the longest-standing member. `None` for an empty chat.
pub async fn viewer(db: &Db, chat_id: i64, prefer: Option<i64>) -> ApiResult<Option<i64>> {
    #[derive(Deserialize)]
    struct Row {
        user_id: i64,
    }
    let row: Option<Row> = db
        .first(db.stmt(
            "SELECT user_id FROM chat_members WHERE chat_id = ?
             ORDER BY user_id IS ? DESC, joined_at, rowid LIMIT 1",
            args![chat_id, prefer],
        )?)
        .await?;
    Ok(row.map(|r| r.user_id))
}
