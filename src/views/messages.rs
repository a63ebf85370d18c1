//! The message JSON, with its reactions and read receipts.

use std::collections::HashMap;

use serde::Serialize;

use super::UserSummary;
use crate::storage::messages::{Loaded, MessageRow};

/// One emoji on a message: `{emoji, count, users}`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Reaction {
    pub emoji: String,
    pub count: usize,
    pub users: Vec<i64>,
}

/// A message. A chat's `last_message` carries no `reactions` / `read_by`.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub id: i64,
    pub chat: i64,
    pub seq: i64,
    pub content: String,
    pub created_at: String,
    pub updated_at: String,
    pub is_edited: bool,
    pub is_deleted: bool,
    pub sender: Option<UserSummary>,
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reactions: Option<Vec<Reaction>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_by: Option<Vec<i64>>,
}

impl Message {
    /// Without reactions and read receipts (a chat's `last_message`).
    pub fn basic(m: &MessageRow) -> Message {
        Message {
            id: m.id,
            chat: m.chat_id,
            seq: m.seq,
            content: m.content.clone(),
            created_at: m.created_at.clone(),
            updated_at: m.updated_at.clone(),
            is_edited: m.is_edited,
            is_deleted: m.is_deleted,
            sender: m.sender().as_ref().map(UserSummary::of),
            client_id: m.client_id.clone(),
            reactions: None,
            read_by: None,
        }
    }

    /// Full messages, in the order loaded: `reactions` in order of first use, `read_by` the
    /// members whose read pointer reached the message. Computed from one reactions query and
    /// one pointers query, whatever the page and member counts.
    pub fn all(loaded: &Loaded) -> Vec<Message> {
        let mut reactions: HashMap<i64, Vec<Reaction>> = HashMap::new();
        for r in &loaded.reactions {
            let list = reactions.entry(r.message_id).or_default();
            match list.iter_mut().find(|x| x.emoji == r.emoji) {
                Some(x) => {
                    x.users.push(r.user_id);
                    x.count += 1;
                }
                None => list.push(Reaction {
                    emoji: r.emoji.clone(),
                    count: 1,
                    users: vec![r.user_id],
                }),
            }
        }
        let mut pointers: Vec<(i64, i64)> = loaded
            .pointers
            .iter()
            .map(|p| (p.user_id, p.last_read_message_id))
            .collect();
        pointers.sort_unstable();
        loaded
            .messages
            .iter()
            .map(|m| Message {
                reactions: Some(reactions.remove(&m.id).unwrap_or_default()),
                read_by: Some(
                    pointers
                        .iter()
                        .filter(|(_, p)| *p >= m.id)
                        .map(|(u, _)| *u)
                        .collect(),
                ),
                ..Message::basic(m)
            })
            .collect()
    }

    /// The first loaded message, fully rendered.
    pub fn first(loaded: &Loaded) -> Option<Message> {
        Message::all(loaded).into_iter().next()
    }
}
