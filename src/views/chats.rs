//! The chat JSON, as one member sees it.

use std::collections::HashMap;

use serde::Serialize;

use super::{display_name, Message, UserSummary};
use crate::domain::ChatKind;
use crate::storage::chats::{MemberRow, PageData};

/// A chat as one member sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Chat {
    pub id: i64,
    pub title: String,
    pub chat_type: ChatKind,
    pub created_at: String,
    pub updated_at: String,
    pub last_message: Option<Message>,
    pub unread_count: i64,
    pub members: Vec<UserSummary>,
    pub admins: Vec<i64>,
    /// A room's key (null for rooms without one and for other chats).
    pub key: Option<String>,
    /// How many members the chat has (in a room `members` lists only the first of them).
    pub member_count: i64,
}

/// A room (SPEC §10): the chat as the caller sees it, and whether the caller has joined.
#[derive(Debug, Clone, Serialize)]
pub struct Room {
    #[serde(flatten)]
    pub chat: Chat,
    pub is_member: bool,
}

impl Room {
    /// The rooms of a page as `me` sees them.
    pub fn page(data: &PageData, me: i64) -> Vec<Room> {
        Chat::page(data, me)
            .into_iter()
            .zip(&data.chats)
            .map(|(chat, pc)| Room {
                chat,
                is_member: pc.is_member,
            })
            .collect()
    }

    pub fn first(data: &PageData, me: i64) -> Option<Room> {
        Room::page(data, me).into_iter().next()
    }
}

impl Chat {
    /// The chats of a page as `me` sees them.
    pub fn page(data: &PageData, me: i64) -> Vec<Chat> {
        let mut members: HashMap<i64, Vec<&MemberRow>> = HashMap::new();
        for m in &data.members {
            members.entry(m.chat_id).or_default().push(m);
        }
        let mut last: HashMap<i64, Message> = data
            .last_messages
            .iter()
            .map(|m| (m.chat_id, Message::basic(m)))
            .collect();
        data.chats
            .iter()
            .map(|pc| {
                let c = &pc.chat;
                let ms = members.remove(&c.id).unwrap_or_default();
                let title = if c.chat_type == ChatKind::Dm && c.title.is_empty() {
                    // A DM is named after the other person, as the caller sees it.
                    ms.iter()
                        .find(|m| m.user.id != me)
                        .map(|m| display_name(&m.user))
                        .unwrap_or_default()
                } else {
                    c.title.clone()
                };
                Chat {
                    id: c.id,
                    title,
                    chat_type: c.chat_type,
                    created_at: c.created_at.clone(),
                    updated_at: c.updated_at.clone(),
                    last_message: last.remove(&c.id),
                    unread_count: pc.unread_count,
                    members: ms.iter().map(|m| UserSummary::of(&m.user)).collect(),
                    admins: ms
                        .iter()
                        .filter(|m| m.is_admin)
                        .map(|m| m.user.id)
                        .collect(),
                    key: c.room_key.clone(),
                    member_count: c.member_count,
                }
            })
            .collect()
    }

    /// The first chat of a page as `me` sees it.
    pub fn first(data: &PageData, me: i64) -> Option<Chat> {
        Chat::page(data, me).into_iter().next()
    }
}
