//! The client → server frames of the chat socket (SPEC §6) and the room's internal requests
//! (worker → Durable Object). Parsing is strict and total: any input maps to a frame or to the
//! text of an error frame, never a panic.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Frames larger than this close the socket with 1009 (message too big), as request bodies
/// over 64 KiB get 413 (SPEC §2).
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Close code for a socket whose member was removed, whose chat was deleted or whose session
/// was revoked: 4403 ("forbidden" in the private 4xxx range), so clients stop reconnecting.
pub const CLOSE_GONE: u16 = 4403;
/// RFC 6455 "message too big".
pub const CLOSE_TOO_BIG: u16 = 1009;

#[derive(Debug, PartialEq)]
pub enum ClientFrame {
    Typing(bool),
    MarkRead(Option<i64>),
    Ping,
}

/// Reads one text frame.
pub fn parse(text: &str) -> Result<ClientFrame, String> {
    if text.trim() == "ping" {
        return Ok(ClientFrame::Ping);
    }
    let v: Value = serde_json::from_str(text).map_err(|_| "Malformed JSON.".to_string())?;
    let Some(obj) = v.as_object() else {
        return Err("Expected a JSON object.".into());
    };
    match obj.get("type").and_then(Value::as_str) {
        Some("typing") => match obj.get("is_typing") {
            Some(Value::Bool(b)) => Ok(ClientFrame::Typing(*b)),
            _ => Err("is_typing must be a boolean.".into()),
        },
        Some("mark_read") => match obj.get("message_id") {
            None | Some(Value::Null) => Ok(ClientFrame::MarkRead(None)),
            Some(v) => v
                .as_i64()
                .filter(|id| (1..=(1i64 << 53)).contains(id))
                .map(|id| ClientFrame::MarkRead(Some(id)))
                .ok_or_else(|| "message_id must be a positive integer id.".into()),
        },
        Some("ping") => Ok(ClientFrame::Ping),
        Some(other) => Err(format!("Unknown message type: {}.", truncate(other))),
        None => Err("Missing message type.".into()),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

pub fn error_frame(detail: &str) -> Value {
    json!({"type": "error", "detail": detail})
}

pub fn typing_frame(user_id: i64, is_typing: bool) -> Value {
    json!({"type": "typing", "user_id": user_id, "is_typing": is_typing})
}

/// What the worker tells the room (`POST https://room/<op>` with this JSON body).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum RoomCall {
    Publish {
        chat_id: i64,
        event: Value,
    },
    Disconnect {
        chat_id: i64,
        user_ids: Option<Vec<i64>>,
    },
    Typing {
        chat_id: i64,
        user_id: i64,
        is_typing: bool,
    },
}

/// The identity the worker attaches to a socket it forwards (query of `https://room/connect`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SocketInfo {
    pub user_id: i64,
    /// SHA-256 of the session token: checked against D1 when the client speaks, so a logged
    /// out session's sockets close (SPEC §3 logout revokes).
    pub token_hash: String,
    /// Durable events with `seq <= after` were already sent to this socket (resume).
    #[serde(default)]
    pub after: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_frames_parse() {
        assert_eq!(
            parse(r#"{"type":"typing","is_typing":true}"#),
            Ok(ClientFrame::Typing(true))
        );
        assert_eq!(
            parse(r#"{"type":"mark_read"}"#),
            Ok(ClientFrame::MarkRead(None))
        );
        assert_eq!(
            parse(r#"{"type":"mark_read","message_id":12}"#),
            Ok(ClientFrame::MarkRead(Some(12)))
        );
        assert_eq!(parse("ping"), Ok(ClientFrame::Ping));
        assert_eq!(parse(r#"{"type":"ping"}"#), Ok(ClientFrame::Ping));
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        for bad in [
            "",
            "{",
            "[]",
            "42",
            r#"{"type":"typing"}"#,
            r#"{"type":"typing","is_typing":"yes"}"#,
            r#"{"type":"mark_read","message_id":-1}"#,
            r#"{"type":"mark_read","message_id":"7"}"#,
            r#"{"type":"dance"}"#,
            r#"{"type":7}"#,
            r#"{}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad:?} is refused");
        }
        assert!(parse(r#"{"type":"dance"}"#).unwrap_err().contains("dance"));
    }

    #[test]
    fn room_calls_round_trip() {
        let c = RoomCall::Disconnect {
            chat_id: 3,
            user_ids: None,
        };
        let s = serde_json::to_string(&c).unwrap();
        assert!(s.contains("\"op\":\"disconnect\""), "{s}");
        assert!(matches!(
            serde_json::from_str::<RoomCall>(&s).unwrap(),
            RoomCall::Disconnect { chat_id: 3, .. }
        ));
    }
}
