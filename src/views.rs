//! Every JSON shape of the API, as typed `Serialize` structs, and how they are built from
//! storage rows: users (`UserSummary`), messages, reactions, chats and the durable chat events
//! (SPEC §2, §4–§6). REST handlers, the event log's replay and the chat room all send these.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;

use crate::domain::{ChatKind, EventKind};
use crate::storage::chats::{MemberRow, PageData};
use crate::storage::messages::{Loaded, MessageRow};
use crate::storage::users::UserRow;

/// `UserSummary`: `{id, username, display_name, avatar_url}`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserSummary {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub avatar_url: String,
}

/// `UserSummary` plus `email` (search results, `/auth/me/`, sign-in answers).
#[derive(Debug, Clone, Serialize)]
pub struct UserWithEmail {
    #[serde(flatten)]
    pub summary: UserSummary,
    pub email: String,
}

impl UserSummary {
    pub fn of(u: &UserRow) -> UserSummary {
        let name = display_name(u);
        UserSummary {
            id: u.id,
            username: u.username.clone(),
            avatar_url: avatar_url(u.id, &name),
            display_name: name,
        }
    }
}

impl UserWithEmail {
    pub fn of(u: &UserRow) -> UserWithEmail {
        UserWithEmail {
            summary: UserSummary::of(u),
            email: u.email.clone(),
        }
    }
}

/// "first last" when either is set, else the username (SPEC §2).
pub fn display_name(u: &UserRow) -> String {
    let full = format!("{} {}", u.first_name.trim(), u.last_name.trim());
    let full = full.trim();
    if full.is_empty() {
        u.username.clone()
    } else {
        full.to_string()
    }
}

const PALETTE: [&str; 12] = [
    "#e57373", "#f06292", "#ba68c8", "#9575cd", "#7986cb", "#64b5f6", "#4db6ac", "#81c784",
    "#aed581", "#ffb74d", "#ff8a65", "#a1887f",
];

/// Up to two initials: first letters of the first and last words of the display name.
pub fn initials(name: &str) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    let first = |w: &str| w.chars().next().into_iter().flat_map(char::to_uppercase);
    match words.as_slice() {
        [] => "?".to_string(),
        [one] => first(one).collect(),
        [a, .., b] => first(a).chain(first(b)).collect(),
    }
}

/// The default avatar: an SVG of the initials on a colour derived from the id, as a data URL.
pub fn avatar_url(id: i64, name: &str) -> String {
    let colour = PALETTE[id.rem_euclid(PALETTE.len() as i64) as usize];
    let text = xml_escape(&initials(name));
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"64\" height=\"64\" viewBox=\"0 0 64 64\">\
         <rect width=\"64\" height=\"64\" rx=\"32\" fill=\"{colour}\"/>\
         <text x=\"50%\" y=\"50%\" dy=\".35em\" text-anchor=\"middle\" fill=\"#fff\" \
         font-family=\"sans-serif\" font-size=\"26\">{text}</text></svg>"
    );
    format!("data:image/svg+xml;base64,{}", STANDARD.encode(svg))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One emoji on a message: `{emoji, count, users}`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Reaction {
    pub emoji: String,
    pub count: usize,
    pub users: Vec<i64>,
}

/// A message (SPEC §5). A chat's `last_message` carries no `reactions` / `read_by`.
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

/// A chat as one member sees it (SPEC §4).
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
                }
            })
            .collect()
    }

    /// The first chat of a page as `me` sees it.
    pub fn first(data: &PageData, me: i64) -> Option<Chat> {
        Chat::page(data, me).into_iter().next()
    }
}

/// A message an event names, or its id when it is gone.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum MessageOrId {
    Message { message: Box<Message> },
    Gone { message_id: Option<i64> },
}

/// A chat an event names, or its id when nobody is left to see it.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ChatOrId {
    Chat { chat: Box<Chat> },
    Gone { chat_id: i64 },
}

/// What a durable chat event says (SPEC §6).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    NewMessage(MessageOrId),
    MessageUpdated(MessageOrId),
    MessageDeleted {
        message_id: Option<i64>,
    },
    ReactionUpdated {
        message_id: Option<i64>,
        reactions: Vec<Reaction>,
    },
    ReadReceipt {
        user_id: Option<i64>,
        last_read_message_id: Option<i64>,
    },
    MembersAdded {
        user_ids: Vec<i64>,
    },
    MemberRemoved {
        user_id: Option<i64>,
    },
    ChatUpdated(ChatOrId),
    ChatDeleted {
        chat_id: i64,
    },
}

impl EventBody {
    pub fn kind(&self) -> EventKind {
        match self {
            EventBody::NewMessage(_) => EventKind::NewMessage,
            EventBody::MessageUpdated(_) => EventKind::MessageUpdated,
            EventBody::MessageDeleted { .. } => EventKind::MessageDeleted,
            EventBody::ReactionUpdated { .. } => EventKind::ReactionUpdated,
            EventBody::ReadReceipt { .. } => EventKind::ReadReceipt,
            EventBody::MembersAdded { .. } => EventKind::MembersAdded,
            EventBody::MemberRemoved { .. } => EventKind::MemberRemoved,
            EventBody::ChatUpdated(_) => EventKind::ChatUpdated,
            EventBody::ChatDeleted { .. } => EventKind::ChatDeleted,
        }
    }
}

/// A durable chat event: `{"type": ..., "seq": N, ...}`.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(flatten)]
    pub body: EventBody,
    pub seq: i64,
}

impl Event {
    pub fn new(seq: i64, body: EventBody) -> Event {
        Event { body, seq }
    }

    pub fn new_message(seq: i64, message: Message) -> Event {
        Event::new(
            seq,
            EventBody::NewMessage(MessageOrId::Message {
                message: Box::new(message),
            }),
        )
    }

    pub fn message_updated(seq: i64, message: Message) -> Event {
        Event::new(
            seq,
            EventBody::MessageUpdated(MessageOrId::Message {
                message: Box::new(message),
            }),
        )
    }

    pub fn message_deleted(seq: i64, message_id: i64) -> Event {
        Event::new(
            seq,
            EventBody::MessageDeleted {
                message_id: Some(message_id),
            },
        )
    }

    pub fn reaction_updated(seq: i64, message_id: i64, reactions: Vec<Reaction>) -> Event {
        Event::new(
            seq,
            EventBody::ReactionUpdated {
                message_id: Some(message_id),
                reactions,
            },
        )
    }

    pub fn read_receipt(seq: i64, user_id: i64, pointer: i64) -> Event {
        Event::new(
            seq,
            EventBody::ReadReceipt {
                user_id: Some(user_id),
                last_read_message_id: Some(pointer),
            },
        )
    }

    pub fn members_added(seq: i64, user_ids: Vec<i64>) -> Event {
        Event::new(seq, EventBody::MembersAdded { user_ids })
    }

    pub fn member_removed(seq: i64, user_id: i64) -> Event {
        Event::new(
            seq,
            EventBody::MemberRemoved {
                user_id: Some(user_id),
            },
        )
    }

    pub fn chat_updated(seq: i64, chat: Chat) -> Event {
        Event::new(
            seq,
            EventBody::ChatUpdated(ChatOrId::Chat {
                chat: Box::new(chat),
            }),
        )
    }

    pub fn chat_deleted(seq: i64, chat_id: i64) -> Event {
        Event::new(seq, EventBody::ChatDeleted { chat_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(first: &str, last: &str) -> UserRow {
        UserRow {
            id: 7,
            username: "jdoe".into(),
            email: "j@example.com".into(),
            first_name: first.into(),
            last_name: last.into(),
        }
    }

    #[test]
    fn display_name_prefers_the_full_name() {
        assert_eq!(display_name(&user("John", "Doe")), "John Doe");
        assert_eq!(display_name(&user("John", "")), "John");
        assert_eq!(display_name(&user("", "")), "jdoe");
    }

    #[test]
    fn initials_take_first_and_last_words() {
        assert_eq!(initials("John Ronald Doe"), "JD");
        assert_eq!(initials("émile"), "É");
        assert_eq!(initials(""), "?");
    }

    #[test]
    fn avatars_are_svg_data_urls_with_escaped_text() {
        let url = avatar_url(3, "<b> &");
        let svg = String::from_utf8(
            STANDARD
                .decode(url.trim_start_matches("data:image/svg+xml;base64,"))
                .unwrap(),
        )
        .unwrap();
        assert!(svg.contains("&lt;&amp;"), "escaped: {svg}");
        assert!(svg.contains(PALETTE[3]));
    }

    #[test]
    fn users_with_email_flatten_the_summary() {
        let v = serde_json::to_value(UserWithEmail::of(&user("Ann", ""))).unwrap();
        assert_eq!(v["display_name"], "Ann");
        assert_eq!(v["email"], "j@example.com");
        assert_eq!(v.as_object().unwrap().len(), 5);
    }

    #[test]
    fn events_have_their_type_seq_and_payload_at_the_top() {
        let v = serde_json::to_value(Event::message_deleted(4, 9)).unwrap();
        assert_eq!(
            v,
            json!({"type": "message_deleted", "seq": 4, "message_id": 9})
        );
        let v = serde_json::to_value(Event::new(
            5,
            EventBody::NewMessage(MessageOrId::Gone {
                message_id: Some(7),
            }),
        ))
        .unwrap();
        assert_eq!(v, json!({"type": "new_message", "seq": 5, "message_id": 7}));
        let v = serde_json::to_value(Event::read_receipt(6, 2, 9)).unwrap();
        assert_eq!(
            v,
            json!({"type": "read_receipt", "seq": 6, "user_id": 2, "last_read_message_id": 9})
        );
    }

    #[test]
    fn every_event_body_names_its_kind() {
        let body = EventBody::MembersAdded { user_ids: vec![1] };
        let v = serde_json::to_value(Event::new(1, body.clone())).unwrap();
        assert_eq!(v["type"], body.kind().as_str());
    }
}
