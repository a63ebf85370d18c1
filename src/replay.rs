//! Rendering stored events (`chat_events` rows) into the live events' JSON, for `?since=`
//! replay and the room's gap filling.
//!
//! A replayed event has the live event's shape. What it refers to (a message, its reactions,
//! the chat) is rendered as it is now, not as it was when the event happened: a replayed
//! `new_message` of a message edited since carries the edited text, and the later
//! `message_updated` carries it again. A client applying events in order ends in the same
//! state either way.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::domain::EventKind;
use crate::error::ApiResult;
use crate::storage::chats::{load_page, Page};
use crate::storage::events::EventRow;
use crate::storage::stream::StreamData;
use crate::storage::{members, messages, Db};
use crate::views::{Chat, ChatOrId, Event, EventBody, Message, MessageOrId};

/// The events of `rows` (oldest first). Loads the messages they name in one round trip, and
/// the chat when a `chat_updated` is among them.
pub async fn render(db: &Db, chat_id: i64, rows: Vec<EventRow>) -> ApiResult<Vec<Event>> {
    let names_message = |k: EventKind| {
        matches!(
            k,
            EventKind::NewMessage | EventKind::MessageUpdated | EventKind::ReactionUpdated
        )
    };
    let mut ids: Vec<i64> = rows
        .iter()
        .filter(|r| names_message(r.kind))
        .filter_map(|r| r.message_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut found = Found::default();
    if !ids.is_empty() {
        let loaded = messages::load_many(db, chat_id, &ids).await?;
        found.messages = Message::all(&loaded)
            .into_iter()
            .map(|m| (m.id, m))
            .collect();
    }
    let renamer = rows.iter().rev().find(|r| r.kind == EventKind::ChatUpdated);
    if let Some(renamer) = renamer {
        if let Some(viewer) = members::perspective(db, chat_id, renamer.user_id).await? {
            let data = load_page(db, &Page::one(viewer, chat_id)).await?;
            if let Some(chat) = Chat::first(&data, viewer) {
                found.chats.insert(chat_id, chat);
            }
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| render_row(chat_id, r, &found))
        .collect())
}

/// What the events refer to, loaded.
#[derive(Default)]
struct Found {
    messages: HashMap<i64, Message>,
    chats: HashMap<i64, Chat>,
}

/// One user-stream event: where it stands and its JSON (the chat socket's, plus `chat_id`;
/// the caller adds the `cursor`).
#[derive(Debug, Clone)]
pub struct StreamEvent {
    pub gid: i64,
    pub chat_id: i64,
    /// `None` for the user's own membership changes.
    pub seq: Option<i64>,
    pub json: Value,
}

/// Renders a user-stream read for user `me`: chat events as on chat sockets, plus
/// `chat_added {chat}` (the chat as `me` sees it now; `null` when `me` has left it since) and
/// `chat_removed`.
pub fn render_stream(data: &StreamData, me: i64) -> Vec<StreamEvent> {
    let mut found = Found::default();
    for loaded in data.loaded.values() {
        for m in Message::all(loaded) {
            found.messages.insert(m.id, m);
        }
    }
    for chat in Chat::page(&data.chats, me) {
        found.chats.insert(chat.id, chat);
    }
    data.rows
        .iter()
        .filter_map(|r| {
            let mut json = match (r.seq, EventKind::parse(&r.kind)) {
                (Some(seq), Some(kind)) => {
                    let row = EventRow {
                        seq,
                        message_id: r.message_id,
                        user_id: r.user_id,
                        data: r.data.clone(),
                        kind,
                    };
                    serde_json::to_value(render_row(r.chat_id, row, &found)).ok()?
                }
                (None, _) if r.kind == "chat_added" => {
                    json!({"type": "chat_added", "chat": found.chats.get(&r.chat_id)})
                }
                (None, _) => json!({"type": r.kind}),
                _ => return None,
            };
            json["chat_id"] = r.chat_id.into();
            Some(StreamEvent {
                gid: r.gid,
                chat_id: r.chat_id,
                seq: r.seq,
                json,
            })
        })
        .collect()
}

/// One stored event in the live event's shape. A message or chat that is gone leaves its id in
/// place of the object.
fn render_row(chat_id: i64, row: EventRow, found: &Found) -> Event {
    let message = row.message_id.and_then(|id| found.messages.get(&id));
    let message_or_id = || match message {
        Some(m) => MessageOrId::Message {
            message: Box::new(m.clone()),
        },
        None => MessageOrId::Gone {
            message_id: row.message_id,
        },
    };
    let body = match row.kind {
        EventKind::NewMessage => EventBody::NewMessage(message_or_id()),
        EventKind::MessageUpdated => EventBody::MessageUpdated(message_or_id()),
        EventKind::ReactionUpdated => EventBody::ReactionUpdated {
            message_id: row.message_id,
            reactions: message
                .and_then(|m| m.reactions.clone())
                .unwrap_or_default(),
        },
        EventKind::MessageDeleted => EventBody::MessageDeleted {
            message_id: row.message_id,
        },
        // The read pointer the receipt moved to is stored in the row's message_id.
        EventKind::ReadReceipt => EventBody::ReadReceipt {
            user_id: row.user_id,
            last_read_message_id: row.message_id,
        },
        // `chat_created` (seq 0) is never replayed: chat sockets start at seq 1, and streams
        // start after it. Were it asked for, it reads as adding the first members.
        EventKind::MembersAdded | EventKind::ChatCreated => EventBody::MembersAdded {
            user_ids: row
                .data
                .as_deref()
                .and_then(|d| serde_json::from_str::<Value>(d).ok())
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default(),
            member_count: None,
        },
        EventKind::MemberRemoved => EventBody::MemberRemoved {
            user_id: row.user_id,
            member_count: None,
        },
        EventKind::ChatUpdated => EventBody::ChatUpdated(match found.chats.get(&chat_id) {
            Some(c) => ChatOrId::Chat {
                chat: Box::new(c.clone()),
            },
            None => ChatOrId::Gone { chat_id },
        }),
        EventKind::ChatDeleted => EventBody::ChatDeleted { chat_id },
    };
    Event::new(row.seq, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::Reaction;
    use serde_json::json;

    fn row(
        kind: EventKind,
        message_id: Option<i64>,
        user_id: Option<i64>,
        data: Option<&str>,
    ) -> EventRow {
        EventRow {
            seq: 4,
            kind,
            message_id,
            user_id,
            data: data.map(str::to_string),
        }
    }

    fn found() -> Found {
        let mut f = Found::default();
        let m = Message {
            id: 9,
            chat: 1,
            seq: 3,
            content: "hi".into(),
            created_at: "t".into(),
            updated_at: "t".into(),
            is_edited: false,
            is_deleted: false,
            sender: None,
            client_id: None,
            reactions: Some(vec![Reaction {
                emoji: "👍".into(),
                count: 1,
                users: vec![2],
            }]),
            read_by: Some(vec![]),
        };
        f.messages.insert(9, m);
        f
    }

    fn json(e: Event) -> Value {
        serde_json::to_value(e).unwrap()
    }

    #[rustfmt::skip]
    #[test]
    fn stored_events_render_in_the_live_shape() {
        let with_message = found();
        let m = serde_json::to_value(&with_message.messages[&9]).unwrap();
        let none = Found::default();
        let reactions = json!([{"emoji": "👍", "count": 1, "users": [2]}]);
        let cases = [
            // (chat, row, what it refers to, the event)
            (1, row(EventKind::NewMessage, Some(9), Some(2), None), &with_message,
             json!({"type": "new_message", "seq": 4, "message": m})),
            (1, row(EventKind::MessageUpdated, Some(9), None, None), &with_message,
             json!({"type": "message_updated", "seq": 4, "message": m})),
            (1, row(EventKind::ReactionUpdated, Some(9), Some(2), None), &with_message,
             json!({"type": "reaction_updated", "seq": 4, "message_id": 9, "reactions": reactions})),
            (1, row(EventKind::MessageDeleted, Some(9), None, None), &with_message,
             json!({"type": "message_deleted", "seq": 4, "message_id": 9})),
            // A message or chat that is gone leaves its id.
            (1, row(EventKind::NewMessage, Some(7), None, None), &none,
             json!({"type": "new_message", "seq": 4, "message_id": 7})),
            (1, row(EventKind::ReactionUpdated, Some(7), None, None), &none,
             json!({"type": "reaction_updated", "seq": 4, "message_id": 7, "reactions": []})),
            (3, row(EventKind::ChatUpdated, None, Some(2), None), &none,
             json!({"type": "chat_updated", "seq": 4, "chat_id": 3})),
            // Membership and receipts.
            (1, row(EventKind::ReadReceipt, Some(9), Some(2), None), &none,
             json!({"type": "read_receipt", "seq": 4, "user_id": 2, "last_read_message_id": 9})),
            (1, row(EventKind::MembersAdded, None, None, Some("[5,6]")), &none,
             json!({"type": "members_added", "seq": 4, "user_ids": [5, 6]})),
            (1, row(EventKind::MembersAdded, None, None, Some("junk")), &none,
             json!({"type": "members_added", "seq": 4, "user_ids": []})),
            (1, row(EventKind::MemberRemoved, None, Some(5), None), &none,
             json!({"type": "member_removed", "seq": 4, "user_id": 5})),
            (1, row(EventKind::ChatDeleted, None, None, None), &none,
             json!({"type": "chat_deleted", "seq": 4, "chat_id": 1})),
        ];
        for (chat, row, found, want) in cases {
            let kind = row.kind;
            assert_eq!(json(render_row(chat, row, found)), want, "{kind:?}");
        }
    }
}
