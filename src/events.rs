//! Rendering stored chat events (`chat_events` rows) into the JSON clients receive (SPEC §6),
//! for `?since=` replay and for the room's gap filling.
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

/// One event in the live event's shape (`realtime::publish` callers). A message or chat that
/// is gone leaves its id in place of the object.
fn render_row(chat_id: i64, row: EventRow, found: &Found) -> Value {
    let mut ev = json!({"type": row.kind, "seq": row.seq});
    let message = row.message_id.and_then(|id| found.messages.get(&id));
    let payload = match row.kind.as_str() {
        "new_message" | "message_updated" => match message {
            Some(m) => json!({"message": m}),
            None => json!({"message_id": row.message_id}),
        },
        "reaction_updated" => json!({
            "message_id": row.message_id,
            "reactions": message.map_or(json!([]), |m| m["reactions"].clone()),
        }),
        "message_deleted" => json!({"message_id": row.message_id}),
        // The read pointer the receipt moved to is stored in the row's message_id.
        "read_receipt" => json!({"user_id": row.user_id, "last_read_message_id": row.message_id}),
        "members_added" => {
            let ids: Value = row
                .data
                .as_deref()
                .and_then(|d| serde_json::from_str(d).ok())
                .filter(Value::is_array)
                .unwrap_or_else(|| json!([]));
            json!({ "user_ids": ids })
        }
        "member_removed" => json!({"user_id": row.user_id}),
        "chat_updated" => match &found.chat {
            Some(c) => json!({"chat": c}),
            None => json!({"chat_id": chat_id}),
        },
        "chat_deleted" => json!({"chat_id": chat_id}),
        _ => json!({}),
    };
    if let (Value::Object(ev), Value::Object(p)) = (&mut ev, payload) {
        ev.extend(p);
    }
    ev
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
