//! The user stream (SPEC §9, docs/realtime.md "The user stream"): every chat's events for one
//! user. `GET /messages/api/events/` polls it; `GET /messages/api/ws/` (realtime) is its socket.

use serde::Serialize;
use serde_json::Value;
use worker::Response;

use crate::auth;
use crate::cursor::Cursor;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, Cx};
use crate::realtime;
use crate::replay;
use crate::storage::chats::membership_by_session;
use crate::storage::stream;

/// Events one poll answers at most (`has_more` says there are more).
pub const POLL_LIMIT: i64 = 100;

/// What a poll reads: the events after a cursor, or (without one) only where the log is.
enum Reads {
    After(Cursor, stream::StreamReads),
    Head(crate::storage::Rows<stream::Head>),
}

#[derive(Serialize)]
struct Poll {
    events: Vec<Value>,
    cursor: String,
    has_more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    typing: Option<Vec<i64>>,
}

/// `GET /messages/api/events/?after=<cursor>&chat=<id>` — the events of every chat the caller
/// belongs to after `cursor`, oldest first, each with `chat_id`, `seq` and its own `cursor`,
/// and the caller's `chat_added` / `chat_removed`; one D1 round trip. Without `after`: no
/// events and the current cursor. `chat` (members only, else 404) adds who is typing there.
/// A malformed cursor → 400; one older than the log keeps → 410 `resync_required`.
pub async fn poll(cx: &Cx) -> ApiResult<Response> {
    let after = match cx.query("after") {
        None => None,
        Some(a) => Some(
            Cursor::parse(&a)
                .ok_or_else(|| ApiError::field("after", "Not a cursor this API gave out."))?,
        ),
    };
    let chat = match cx.query("chat") {
        None => None,
        Some(c) => Some(
            c.trim()
                .parse::<i64>()
                .ok()
                .filter(|id| (1..=(1i64 << 53)).contains(id))
                .ok_or_else(|| ApiError::field("chat", "Must be a chat id."))?,
        ),
    };
    let (caller, (gate, reads), res) = auth::authenticate_with(cx, |b, s| {
        let gate = match chat {
            Some(id) => Some(membership_by_session(b, id, s.token_hash, s.now)?),
            None => None,
        };
        let reads = match after.clone() {
            Some(cursor) => {
                let read = stream::read(b, &s.viewer(), &cursor, POLL_LIMIT)?;
                Reads::After(cursor, read)
            }
            None => Reads::Head(stream::head(b)?),
        };
        Ok((gate, reads))
    })
    .await?;
    if let Some(gate) = gate {
        res.first(gate)?.ok_or(ApiError::NotFound)?;
    }
    let me = caller.user.id;
    let mut answer = match reads {
        Reads::After(after, reads) => answer(&reads.read(&res)?, after, me)?,
        Reads::Head(head) => Poll {
            events: Vec::new(),
            cursor: Cursor::at(res.first(head)?.map_or(0, |h| h.head)).to_string(),
            has_more: false,
            typing: None,
        },
    };
    if let Some(chat_id) = chat {
        answer.typing = Some(realtime::typists(cx, chat_id, me).await?);
    }
    http::ok(&answer)
}

/// A poll's answer from what it read after `after`.
fn answer(data: &stream::StreamData, after: Cursor, me: i64) -> ApiResult<Poll> {
    if data.head.stale {
        return Err(ApiError::ResyncRequired);
    }
    let full = data.rows.len() as i64 >= POLL_LIMIT;
    let mut cursor = after;
    let mut events = Vec::new();
    for e in replay::render_stream(data, me) {
        let new = cursor.logged(e.chat_id, e.seq, e.gid);
        if new {
            let mut json = e.json;
            json["cursor"] = Value::from(cursor.to_string());
            events.push(json);
        }
    }
    let mut has_more = full;
    if !full {
        let end = data.upto.min(data.head.head);
        if end >= data.head.head {
            cursor.caught_up(end);
        } else {
            cursor.base = cursor.base.max(end);
        }
        has_more = data.upto < data.head.head;
    }
    Ok(Poll {
        events,
        cursor: cursor.to_string(),
        has_more,
        typing: None,
    })
}
