//! What travels on a chat socket and between the worker and its chat room (docs/realtime.md): client
//! frames, server frames, and the worker → Durable Object requests. Parsing is strict and
//! total: any input maps to a frame or to an error frame, never a panic.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::storage::Cost;
use crate::writes::{Reply, Write};

/// Frames larger than this close the socket with 1009 (message too big), as request bodies
/// over 64 KiB get 413.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Close code for a socket whose member was removed, whose chat was deleted or whose session
/// was revoked: 4403 ("forbidden" in the private 4xxx range), so clients stop reconnecting.
pub const CLOSE_GONE: u16 = 4403;

/// Frames (typing, mark_read) a socket may send in a burst, and per second after it; more are
/// answered with an error frame and dropped.
pub const FRAME_BURST: f64 = 10.0;
pub const FRAMES_PER_SECOND: f64 = 5.0;
/// RFC 6455 "message too big".
pub const CLOSE_TOO_BIG: u16 = 1009;

/// A frame from the client.
#[derive(Debug, PartialEq)]
pub enum ClientFrame {
    Typing(bool),
    MarkRead(Option<i64>),
    /// `{"type": "ping"}` (answered `{"type": "pong"}`); the bare text `ping` is answered by
    /// the runtime itself (auto-response) and never reaches the room.
    Ping,
}

/// Reads one text frame; an error is the frame to answer with.
pub fn parse(text: &str) -> Result<ClientFrame, ApiError> {
    let bad = |detail: String| ApiError::field("non_field_errors", detail);
    let v: Value = serde_json::from_str(text).map_err(|_| bad("Malformed JSON.".into()))?;
    let Some(obj) = v.as_object() else {
        return Err(bad("Expected a JSON object.".into()));
    };
    match obj.get("type").and_then(Value::as_str) {
        Some("typing") => match obj.get("is_typing") {
            Some(Value::Bool(b)) => Ok(ClientFrame::Typing(*b)),
            _ => Err(ApiError::field("is_typing", "Must be a boolean.")),
        },
        Some("mark_read") => match obj.get("message_id") {
            None | Some(Value::Null) => Ok(ClientFrame::MarkRead(None)),
            Some(v) => v
                .as_i64()
                .filter(|id| (1..=(1i64 << 53)).contains(id))
                .map(|id| ClientFrame::MarkRead(Some(id)))
                .ok_or_else(|| ApiError::field("message_id", "Must be a positive integer id.")),
        },
        Some("ping") => Ok(ClientFrame::Ping),
        Some(other) => Err(ApiError::field(
            "type",
            format!(
                "Unknown message type: {}.",
                other.chars().take(40).collect::<String>()
            ),
        )),
        None => Err(ApiError::field("type", "Missing message type.")),
    }
}

/// `{"type": "error", "detail": ...}` plus the body a REST answer would carry: a 400 adds
/// `error` and `details` naming the fields, and its `detail` is the first field message.
pub fn error_frame(e: &ApiError) -> Value {
    let mut body = e.body();
    if body.get("detail").is_none() {
        let first = body["details"]
            .as_object()
            .and_then(|d| d.values().next())
            .and_then(|msgs| msgs[0].as_str())
            .unwrap_or("Invalid request.")
            .to_string();
        body["detail"] = json!(first);
    }
    body["type"] = json!("error");
    body
}

pub fn typing_frame(user_id: i64, is_typing: bool) -> Value {
    json!({"type": "typing", "user_id": user_id, "is_typing": is_typing})
}

/// A room's member count after a join, leave, add or removal: not durable (no `seq`), sent
/// to members and watchers alike (SPEC §10).
pub fn member_count_frame(count: i64) -> Value {
    json!({"type": "member_count", "count": count})
}

/// What the worker asks of a chat room (`POST https://room/call` with this JSON body).
#[derive(Debug, Serialize, Deserialize)]
pub struct RoomCall {
    pub chat_id: i64,
    #[serde(flatten)]
    pub op: RoomOp,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum RoomOp {
    /// A write to the chat: the room, its single writer, commits it (with the others that
    /// arrive meanwhile), delivers its events, and answers `WriteReply`.
    Write {
        write: Write,
    },
    /// Close `user_id`'s sockets of session `token_hash` (`None`: of every session).
    SignOut {
        user_id: i64,
        token_hash: Option<String>,
    },
    Typing {
        user_id: i64,
        is_typing: bool,
    },
    /// Who is typing now, but `user_id` (answered as a `WriteReply` with the ids as body).
    Typists {
        user_id: i64,
    },
}

/// The room's answer to a `Write`: the write's reply and the D1 cost of its batch.
#[derive(Debug, Serialize, Deserialize)]
pub struct WriteReply {
    pub reply: Reply,
    pub cost: Cost,
}

/// A socket the worker authenticated, handed to the room with the upgrade request (the
/// `CONNECT_HEADER` of `GET https://room/connect`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Connect {
    pub chat_id: i64,
    pub user_id: i64,
    pub token_hash: String,
    /// When the session ends (ms since the epoch): the room closes the socket then.
    pub expires_at: i64,
    /// Replay events after this seq first (`?since=`).
    pub since: Option<i64>,
    /// The chat is a room: a non-member's socket is accepted as a watcher.
    #[serde(default)]
    pub room: bool,
}

/// The header carrying `Connect` as JSON (an upgrade request has no body).
pub const CONNECT_HEADER: &str = "x-room-connect";

/// What the worker and chat rooms ask of a stream hub (`POST https://stream/call`).
#[derive(Debug, Serialize, Deserialize)]
pub struct StreamCall {
    /// The hub (`user_id % STREAM_HUBS`).
    pub hub: u32,
    #[serde(flatten)]
    pub op: StreamOp,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum StreamOp {
    /// From a chat room, after commits: per batch, its events and what each of the hub's
    /// users gets, in order.
    Push {
        batches: Vec<super::fanout::HubPush>,
    },
    /// Close `user_id`'s sockets of session `token_hash` (`None`: of every session).
    SignOut {
        user_id: i64,
        token_hash: Option<String>,
    },
}

/// A user-stream socket the worker authenticated (`GET https://stream/connect`).
#[derive(Debug, Serialize, Deserialize)]
pub struct StreamConnect {
    pub user_id: i64,
    pub token_hash: String,
    /// When the session ends (ms since the epoch).
    pub expires_at: i64,
    /// Replay after this cursor first (`?after=`, already checked by the worker).
    pub after: Option<String>,
}

/// The header carrying `StreamConnect` as JSON.
pub const STREAM_CONNECT_HEADER: &str = "x-stream-connect";

/// What the stream object attaches to each socket (kept across hibernation): its position,
/// rewritten after every delivery so a woken object resumes each socket exactly.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamSocketInfo {
    pub key: u32,
    pub user_id: i64,
    pub token_hash: String,
    pub expires_at: i64,
    pub cursor: String,
}

/// What the room attaches to a socket it accepted (kept across hibernation).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SocketInfo {
    pub user_id: i64,
    /// SHA-256 of the session token: checked against D1 when the client speaks, so a logged
    /// out session's sockets close (logout revokes).
    pub token_hash: String,
    /// Durable events with `seq <= after` were already sent to this socket (resume).
    #[serde(default)]
    pub after: i64,
    /// When the session ends (ms since the epoch): no frame is sent after it, and the room's
    /// alarm closes the socket then.
    #[serde(default)]
    pub expires_at: i64,
    /// The socket is on a room: leaving makes it a watcher instead of closing it.
    #[serde(default)]
    pub room: bool,
    /// A room's visitor (or former member): it receives `member_count` frames only, and may
    /// not send typing or read receipts. Joining makes it a member's socket again.
    #[serde(default)]
    pub watcher: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_frames_parse() {
        assert_eq!(
            parse(r#"{"type":"typing","is_typing":true}"#).unwrap(),
            ClientFrame::Typing(true)
        );
        assert_eq!(
            parse(r#"{"type":"mark_read"}"#).unwrap(),
            ClientFrame::MarkRead(None)
        );
        assert_eq!(
            parse(r#"{"type":"mark_read","message_id":12}"#).unwrap(),
            ClientFrame::MarkRead(Some(12))
        );
        assert_eq!(parse(r#"{"type":"ping"}"#).unwrap(), ClientFrame::Ping);
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        for bad in [
            "",
            "{",
            "[]",
            "42",
            "ping",
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
        let e = error_frame(&parse(r#"{"type":"dance"}"#).unwrap_err());
        assert!(e["details"]["type"][0].as_str().unwrap().contains("dance"));
    }

    #[test]
    fn error_frames_carry_the_rest_body() {
        let e = error_frame(&ApiError::field(
            "message_id",
            "Not a message of this chat.",
        ));
        assert_eq!(e["type"], "error");
        assert_eq!(e["detail"], "Not a message of this chat.");
        assert_eq!(e["error"], "Invalid request");
        assert_eq!(e["details"]["message_id"][0], "Not a message of this chat.");
        let e = error_frame(&ApiError::NotFound);
        assert_eq!(e, json!({"type": "error", "detail": "Not found."}));
    }

    #[test]
    fn room_calls_round_trip() {
        let c = RoomCall {
            chat_id: 3,
            op: RoomOp::Write {
                write: Write::Delete { message_id: 9 },
            },
        };
        let s = serde_json::to_string(&c).unwrap();
        assert!(s.contains("\"op\":\"write\""), "{s}");
        let back = serde_json::from_str::<RoomCall>(&s).unwrap();
        assert_eq!(back.chat_id, 3);
        assert!(matches!(
            back.op,
            RoomOp::Write {
                write: Write::Delete { message_id: 9 }
            }
        ));
    }
}
