//! Messages, reactions and read pointers.

use serde::Deserialize;

use super::users::UserRow;

/// A message row joined with its sender (`sender_*` are NULL when the account is gone).
#[derive(Debug, Clone, Deserialize)]
pub struct MessageRow {
    pub id: i64,
    pub chat_id: i64,
    pub seq: i64,
    pub content: String,
    pub client_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub is_edited: i64,
    pub is_deleted: i64,
    pub sender_id: Option<i64>,
    pub sender_username: Option<String>,
    pub sender_email: Option<String>,
    pub sender_first_name: Option<String>,
    pub sender_last_name: Option<String>,
}

impl MessageRow {
    pub fn sender(&self) -> Option<UserRow> {
        Some(UserRow {
            id: self.sender_id?,
            username: self.sender_username.clone()?,
            email: self.sender_email.clone().unwrap_or_default(),
            first_name: self.sender_first_name.clone().unwrap_or_default(),
            last_name: self.sender_last_name.clone().unwrap_or_default(),
        })
    }
}

/// Columns of `MessageRow`, for `FROM messages msg LEFT JOIN users su ON su.id = msg.sender_id`.
pub const MESSAGE_COLUMNS: &str = "msg.id, msg.chat_id, msg.seq, msg.content, msg.client_id,
    msg.created_at, msg.updated_at, msg.is_edited, msg.is_deleted, msg.sender_id,
    su.username AS sender_username, su.email AS sender_email,
    su.first_name AS sender_first_name, su.last_name AS sender_last_name";

/// The join that goes with `MESSAGE_COLUMNS`.
pub const MESSAGE_FROM: &str = "messages msg LEFT JOIN users su ON su.id = msg.sender_id";
