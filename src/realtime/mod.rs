//! Real time (SPEC §6): one Durable Object per chat holds its WebSockets, fans out events in
//! `seq` order and runs typing indicators. This file is the worker side: the socket and REST
//! typing endpoints, and the publish contract used by the REST handlers.
//!
//! Contract used by the REST handlers (chats, members, messages, reactions, receipts):
//! - `publish(cx, chat_id, event)` after the D1 batch that made the event durable committed.
//!   `event` is the full JSON sent to clients: `{"type": ..., "seq": N, ...payload}`. The
//!   event is handed to the room after the response is on its way (`flush`, run under
//!   `wait_until` by the fetch handler), so the writer does not wait for the fan-out.
//!   Failures are logged, never fail the request (the event is durable; the room fills gaps
//!   from D1).
//! - `disconnect(cx, chat_id, user_ids)` closes the sockets of removed members at once
//!   (`None`: everybody, the chat was deleted): it first hands over the events this request
//!   published, in order, and answers only when the sockets are closed.

mod calls;
pub mod order;
pub mod protocol;
pub mod room;
mod sockets;
mod sync;
pub mod typing;

use serde_json::{json, Value};
use url::Url;
use wasm_bindgen::JsValue;
use worker::{Env, Headers, Method, Request, RequestInit, Response, Stub};

use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, Cx};
use protocol::{RoomCall, SocketInfo};

/// The chat's room (one Durable Object per chat id).
fn room(env: &Env, chat_id: i64) -> ApiResult<Stub> {
    Ok(env
        .durable_object("CHAT_ROOMS")?
        .id_from_name(&chat_id.to_string())?
        .get_stub()?)
}

/// Sends one internal call to the room. Only the worker can reach a Durable Object, so the
/// room trusts what arrives here (the user ids were authenticated by the worker).
async fn call_room(env: &Env, chat_id: i64, call: &RoomCall) -> ApiResult<()> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(JsValue::from_str(&serde_json::to_string(call)?)));
    let req = Request::new_with_init("https://room/call", &init)?;
    let resp = room(env, chat_id)?.fetch_with_request(req).await?;
    match resp.status_code() {
        200..=299 => Ok(()),
        s => Err(ApiError::Internal(format!("room answered {s}"))),
    }
}

/// Queues a durable event for the chat's room; `flush` delivers it once the response is on
/// its way. Never fails the caller: a lost publish shows up in the room as a gap, which it
/// fills from D1.
pub fn publish(cx: &Cx, chat_id: i64, event: Value) {
    cx.publish_later.borrow_mut().push((chat_id, event));
}

/// Hands queued events to their rooms, in order (the fetch handler runs this under
/// `wait_until`, after the response).
pub async fn flush(env: &Env, events: Vec<(i64, Value)>) {
    for (chat_id, event) in events {
        if let Err(e) = call_room(env, chat_id, &RoomCall::Publish { chat_id, event }).await {
            worker::console_error!("publish to chat {chat_id} failed: {e:?}");
        }
    }
}

/// Closes the sockets of `user_ids` on this chat (all sockets when `None`), after handing
/// over what this request published, so the removal's own event still reaches them.
pub async fn disconnect(cx: &Cx, chat_id: i64, user_ids: Option<Vec<i64>>) {
    let queued = cx.publish_later.take();
    flush(&cx.env, queued).await;
    let call = RoomCall::Disconnect { chat_id, user_ids };
    if let Err(e) = call_room(&cx.env, chat_id, &call).await {
        worker::console_error!("disconnect on chat {chat_id} failed: {e:?}");
    }
}

/// `GET /messages/api/chats/{id}/ws/?since=<seq>` — the chat's WebSocket. Anonymous → 401,
/// cross-site cookie upgrade → 403 (the CSRF rule applies to upgrades although they are GETs:
/// browsers send cookies on cross-site WebSocket handshakes), non-member → 404, not an
/// upgrade → 426. The room replays events after `since`, then goes live.
pub async fn connect(cx: &Cx, chat_id: i64) -> ApiResult<Response> {
    if auth::session(cx)?.1 {
        auth::check_same_site(cx)?;
    }
    let (caller, _) = auth::member(cx, chat_id).await?;
    let is_upgrade = cx
        .header("Upgrade")
        .is_some_and(|u| u.trim().eq_ignore_ascii_case("websocket"));
    if !is_upgrade {
        return Err(ApiError::UpgradeRequired);
    }
    let since = match cx.query("since") {
        None => None,
        Some(s) => Some(
            s.trim()
                .parse::<i64>()
                .ok()
                .filter(|n| (0..=(1i64 << 52)).contains(n))
                .ok_or_else(|| ApiError::field("since", "Must be a non-negative integer."))?,
        ),
    };
    let info = SocketInfo {
        user_id: caller.user.id,
        token_hash: caller.token_hash,
        after: 0,
    };
    let mut url =
        Url::parse("https://room/connect").map_err(|e| ApiError::Internal(e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("chat_id", &chat_id.to_string())
        .append_pair("user_id", &info.user_id.to_string())
        .append_pair("token_hash", &info.token_hash);
    if let Some(s) = since {
        url.query_pairs_mut().append_pair("since", &s.to_string());
    }
    let headers = Headers::new();
    headers.set("Upgrade", "websocket")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let req = Request::new_with_init(url.as_str(), &init)?;
    let resp = room(&cx.env, chat_id)?.fetch_with_request(req).await?;
    match resp.status_code() {
        101 => Ok(resp),
        404 => Err(ApiError::NotFound),
        s => Err(ApiError::Internal(format!("room refused the socket: {s}"))),
    }
}

/// `POST /messages/api/chats/{id}/typing/ {is_typing}` — typing over REST, for clients without
/// a socket: members only (404), `is_typing` a boolean (400), then the room broadcasts it to
/// the other members exactly as a socket `typing` frame.
pub async fn typing(cx: &Cx, chat_id: i64) -> ApiResult<Response> {
    let (caller, _) = auth::member(cx, chat_id).await?;
    let mut input = cx.json()?;
    let is_typing = input.opt_bool("is_typing");
    if is_typing.is_none() && !input.has("is_typing") {
        input.error("is_typing", "This field is required.");
    }
    input.finish()?;
    let call = RoomCall::Typing {
        chat_id,
        user_id: caller.user.id,
        is_typing: is_typing.unwrap_or(false),
    };
    call_room(&cx.env, chat_id, &call).await?;
    http::ok(&json!({"status": "success"}))
}
