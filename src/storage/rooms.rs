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
