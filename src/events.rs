//! The JSON of every durable chat event (SPEC §6), built here for live publishes and replays
//! alike, and the rendering of stored events (`chat_events` rows) into it for `?since=` replay
//! and the room's gap filling.
//!
//! A replayed event has the live event's shape. What it refers to (a message, its reactions,
//! the chat) is rendered as it is now, not as it was when the event happened: a replayed
//! `new_message` of a message edited since carries the edited text, and the later
//! `message_updated` carries it again. A client applying events in order ends in the same
//! state either way.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::storage::events::EventRow;
use crate::storage::{chats, messages, rooms, Db};

/// Event types whose payload is the message they name.
const MESSAGE_EVENTS: [&str; 3] = ["new_message", "message_updated", "reaction_updated"];

/// The client JSON of `rows` (oldest first), each with its `type` and `seq`. Loads the
/// messages the events name in one batch, and the chat when a `chat_updated` is among them.
pub async fn render(db: &Db, chat_id: i64, rows: Vec<EventRow>) -> ApiResult<Vec<Value>> {
    let mut ids: Vec<i64> = rows
        .iter()
        .filter(|r| MESSAGE_EVENTS.contains(&r.kind.as_str()))
        .filter_map(|r| r.message_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut found = Found::default();
    if !ids.is_empty() {
        let loaded = messages::load_many(db, chat_id, &ids).await?;
        for m in crate::messages::render(&loaded) {
            if let Some(id) = m["id"].as_i64() {
                found.messages.insert(id, m);
            }
        }
    }
    if let Some(renamer) = rows.iter().rev().find(|r| r.kind == "chat_updated") {
        if let Some(viewer) = rooms::viewer(db, chat_id, renamer.user_id).await? {
            let data = chats::page(db, &chats::Page::one(viewer, chat_id)).await?;
            found.chat = crate::chats::first(&data, viewer).ok();
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
    messages: HashMap<i64, Value>,
    chat: Option<Value>,
}

/// One stored event in the live event's shape. A message or chat that is gone leaves its id in
/// place of the object.
fn render_row(chat_id: i64, row: EventRow, found: &Found) -> Value {
    let seq = row.seq;
    let message = row.message_id.and_then(|id| found.messages.get(&id));
    let gone = |kind: &str, key: &str, id: Option<i64>| json!({"type": kind, "seq": seq, key: id});
    match row.kind.as_str() {
        "new_message" => match message {
            Some(m) => new_message(seq, m.clone()),
            None => gone("new_message", "message_id", row.message_id),
        },
        "message_updated" => match message {
            Some(m) => message_updated(seq, m.clone()),
            None => gone("message_updated", "message_id", row.message_id),
        },
        "reaction_updated" => reaction_updated(
            seq,
            row.message_id,
            message.map_or(json!([]), |m| m["reactions"].clone()),
        ),
        "message_deleted" => message_deleted(seq, row.message_id),
        // The read pointer the receipt moved to is stored in the row's message_id.
        "read_receipt" => read_receipt(seq, row.user_id, row.message_id),
        "members_added" => members_added(
            seq,
            row.data
                .as_deref()
                .and_then(|d| serde_json::from_str(d).ok())
                .filter(Value::is_array)
                .unwrap_or_else(|| json!([])),
        ),
        "member_removed" => member_removed(seq, row.user_id),
        "chat_updated" => match &found.chat {
            Some(c) => chat_updated(seq, c.clone()),
            None => gone("chat_updated", "chat_id", Some(chat_id)),
        },
        "chat_deleted" => chat_deleted(seq, chat_id),
        other => json!({"type": other, "seq": seq}),
    }
}

// The client JSON of each durable event (SPEC §6), for live publishes and replays alike.

pub fn new_message(seq: i64, message: Value) -> Value {
    json!({"type": "new_message", "seq": seq, "message": message})
}

pub fn message_updated(seq: i64, message: Value) -> Value {
    json!({"type": "message_updated", "seq": seq, "message": message})
}

pub fn message_deleted(seq: i64, message_id: impl Into<Value>) -> Value {
    json!({"type": "message_deleted", "seq": seq, "message_id": message_id.into()})
}

pub fn reaction_updated(seq: i64, message_id: impl Into<Value>, reactions: Value) -> Value {
    json!({"type": "reaction_updated", "seq": seq, "message_id": message_id.into(),
           "reactions": reactions})
}

pub fn read_receipt(seq: i64, user_id: impl Into<Value>, pointer: impl Into<Value>) -> Value {
    json!({"type": "read_receipt", "seq": seq, "user_id": user_id.into(),
           "last_read_message_id": pointer.into()})
}

pub fn members_added(seq: i64, user_ids: impl Into<Value>) -> Value {
    json!({"type": "members_added", "seq": seq, "user_ids": user_ids.into()})
}

pub fn member_removed(seq: i64, user_id: impl Into<Value>) -> Value {
    json!({"type": "member_removed", "seq": seq, "user_id": user_id.into()})
}

pub fn chat_updated(seq: i64, chat: Value) -> Value {
    json!({"type": "chat_updated", "seq": seq, "chat": chat})
}

pub fn chat_deleted(seq: i64, chat_id: i64) -> Value {
    json!({"type": "chat_deleted", "seq": seq, "chat_id": chat_id})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        kind: &str,
        message_id: Option<i64>,
        user_id: Option<i64>,
        data: Option<&str>,
    ) -> EventRow {
        EventRow {
            seq: 4,
            kind: kind.into(),
            message_id,
            user_id,
            data: data.map(str::to_string),
        }
    }

    fn found() -> Found {
        let mut f = Found::default();
        f.messages.insert(
            9,
            json!({"id": 9, "content": "hi", "reactions": [{"emoji": "👍", "count": 1, "users": [2]}]}),
        );
        f
    }

    #[test]
    fn message_events_carry_the_message() {
        let f = found();
        assert_eq!(
            render_row(1, row("new_message", Some(9), Some(2), None), &f),
            json!({"type": "new_message", "seq": 4, "message": f.messages[&9]})
        );
        assert_eq!(
            render_row(1, row("message_updated", Some(9), None, None), &f),
            json!({"type": "message_updated", "seq": 4, "message": f.messages[&9]})
        );
        assert_eq!(
            render_row(1, row("reaction_updated", Some(9), Some(2), None), &f),
            json!({"type": "reaction_updated", "seq": 4, "message_id": 9,
                   "reactions": [{"emoji": "👍", "count": 1, "users": [2]}]})
        );
        assert_eq!(
            render_row(1, row("message_deleted", Some(9), None, None), &f),
            json!({"type": "message_deleted", "seq": 4, "message_id": 9})
        );
    }

    #[test]
    fn a_missing_message_or_chat_leaves_its_id() {
        let f = Found::default();
        assert_eq!(
            render_row(1, row("new_message", Some(7), None, None), &f),
            json!({"type": "new_message", "seq": 4, "message_id": 7})
        );
        assert_eq!(
            render_row(1, row("reaction_updated", Some(7), None, None), &f),
            json!({"type": "reaction_updated", "seq": 4, "message_id": 7, "reactions": []})
        );
        assert_eq!(
            render_row(3, row("chat_updated", None, Some(2), None), &f),
            json!({"type": "chat_updated", "seq": 4, "chat_id": 3})
        );
    }

    #[test]
    fn membership_and_receipt_events() {
        let mut f = Found::default();
        assert_eq!(
            render_row(1, row("read_receipt", Some(9), Some(2), None), &f),
            json!({"type": "read_receipt", "seq": 4, "user_id": 2, "last_read_message_id": 9})
        );
        assert_eq!(
            render_row(1, row("members_added", None, None, Some("[5,6]")), &f),
            json!({"type": "members_added", "seq": 4, "user_ids": [5, 6]})
        );
        assert_eq!(
            render_row(1, row("members_added", None, None, Some("junk")), &f),
            json!({"type": "members_added", "seq": 4, "user_ids": []})
        );
        assert_eq!(
            render_row(1, row("member_removed", None, Some(5), None), &f),
            json!({"type": "member_removed", "seq": 4, "user_id": 5})
        );
        f.chat = Some(json!({"id": 1, "title": "t"}));
        assert_eq!(
            render_row(1, row("chat_updated", None, Some(2), None), &f),
            json!({"type": "chat_updated", "seq": 4, "chat": {"id": 1, "title": "t"}})
        );
        assert_eq!(
            render_row(1, row("chat_deleted", None, None, None), &f),
            json!({"type": "chat_deleted", "seq": 4, "chat_id": 1})
        );
    }
}
