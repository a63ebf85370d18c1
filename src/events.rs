//! Rendering stored chat events (`chat_events` rows) into the JSON clients receive (SPEC §6),
//! for `?since=` replay and for the room's gap filling.
//!
//! This minimal version renders what a row alone says; the messages module replaces the body
//! with full payloads (the current message, reactions, chat), keeping the signature.

use serde_json::{json, Map, Value};

use crate::error::ApiResult;
use crate::storage::events::EventRow;
use crate::storage::Db;

/// The client JSON of `rows` (oldest first), each with its `type` and `seq`.
pub async fn render(_db: &Db, chat_id: i64, rows: Vec<EventRow>) -> ApiResult<Vec<Value>> {
    Ok(rows.into_iter().map(|r| render_row(chat_id, r)).collect())
}

fn render_row(chat_id: i64, row: EventRow) -> Value {
    let mut ev = Map::new();
    ev.insert("type".into(), json!(row.kind));
    ev.insert("seq".into(), json!(row.seq));
    let data: Option<Value> = row
        .data
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok());
    match row.kind.as_str() {
        "members_added" => {
            let ids = match &data {
                Some(Value::Array(a)) => Value::Array(a.clone()),
                Some(Value::Object(o)) => o.get("user_ids").cloned().unwrap_or(json!([])),
                _ => json!([]),
            };
            ev.insert("user_ids".into(), ids);
        }
        "read_receipt" => {
            ev.insert("user_id".into(), json!(row.user_id));
            if let Some(Value::Number(n)) = &data {
                ev.insert("last_read_message_id".into(), Value::Number(n.clone()));
            }
        }
        "member_removed" => {
            ev.insert("user_id".into(), json!(row.user_id));
        }
        "chat_updated" | "chat_deleted" => {
            ev.insert("chat_id".into(), json!(chat_id));
        }
        _ => {}
    }
    if let Some(id) = row.message_id {
        ev.insert("message_id".into(), json!(id));
    }
    // Whatever else the writer stored as an object (e.g. last_read_message_id) is passed on.
    if let Some(Value::Object(o)) = data {
        for (k, v) in o {
            ev.entry(k).or_insert(v);
        }
    }
    Value::Object(ev)
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

    #[test]
    fn rows_render_what_they_know() {
        assert_eq!(
            render_row(1, row("new_message", Some(9), None, None)),
            json!({"type": "new_message", "seq": 4, "message_id": 9})
        );
        assert_eq!(
            render_row(
                1,
                row(
                    "read_receipt",
                    None,
                    Some(2),
                    Some(r#"{"last_read_message_id": 9}"#)
                )
            ),
            json!({"type": "read_receipt", "seq": 4, "user_id": 2, "last_read_message_id": 9})
        );
        assert_eq!(
            render_row(1, row("members_added", None, None, Some("[5,6]"))),
            json!({"type": "members_added", "seq": 4, "user_ids": [5, 6]})
        );
        assert_eq!(
            render_row(1, row("member_removed", None, Some(5), None)),
            json!({"type": "member_removed", "seq": 4, "user_id": 5})
        );
    }
}
