//! Real time (docs/realtime.md): one Durable Object per chat holds its WebSockets, fans out events in
//! `seq` order and runs typing indicators. This file is the worker side: the socket and REST
//! typing endpoints, and how REST handlers hand events to a chat's room:
//! - `publish(cx, chat_id, event)` after the D1 batch that made the event durable committed.
//!   The event goes to the room after the response is on its way, so the writer does not
//!   wait for the fan-out. Failures are logged, never fail the request (the event is durable;
//!   the room fills gaps from D1).
//! - `disconnect(cx, chat_id, user_ids, event)` hands over the removal's own event, then
//!   closes the sockets of removed members (`None`: everybody, the chat was deleted), and
//!   returns only once they are closed.

mod live;
pub mod order;
pub mod protocol;
pub mod room;
mod sockets;
mod state;
mod sync;
pub mod typing;

use serde_json::json;
use wasm_bindgen::JsValue;
use worker::{Env, Headers, Method, Request, RequestInit, Response, Stub};

use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, Cx};
use crate::views::Event;
use protocol::{Connect, RoomCall, RoomOp, CONNECT_HEADER};

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

/// The publish call of `event`.
fn publish_call(chat_id: i64, event: &Event) -> ApiResult<RoomCall> {
    let event_json = serde_json::to_string(event)?;
    Ok(RoomCall {
        chat_id,
        op: RoomOp::Publish {
            seq: event.seq,
            event: event_json,
        },
    })
}

/// Hands a durable event to the chat's room once the response is on its way. Never fails
/// the caller: a lost publish shows up in the room as a gap, which it fills from D1.
pub fn publish(cx: &Cx, chat_id: i64, event: Event) {
    let env = cx.env.clone();
    cx.after_response(async move {
        let sent = match publish_call(chat_id, &event) {
            Ok(call) => call_room(&env, chat_id, &call).await,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            worker::console_error!("publish to chat {chat_id} failed: {e:?}");
        }
    });
}

/// Delivers `event` (the removal's), then closes the sockets of `user_ids` on this chat (all
/// sockets when `None`), so the removal's own event still reaches them.
pub async fn disconnect(cx: &Cx, chat_id: i64, user_ids: Option<Vec<i64>>, event: Event) {
    let calls = [
        publish_call(chat_id, &event),
        Ok(RoomCall {
            chat_id,
            op: RoomOp::Disconnect { user_ids },
        }),
    ];
    for call in calls {
        let sent = match call {
            Ok(call) => call_room(&cx.env, chat_id, &call).await,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            worker::console_error!("disconnect on chat {chat_id} failed: {e:?}");
        }
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
    let connect = Connect {
        chat_id,
        user_id: caller.user.id,
        token_hash: caller.token_hash,
        since,
    };
    let headers = Headers::new();
    headers.set("Upgrade", "websocket")?;
    headers.set(CONNECT_HEADER, &serde_json::to_string(&connect)?)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let req = Request::new_with_init("https://room/connect", &init)?;
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
    let call = RoomCall {
        chat_id,
        op: RoomOp::Typing {
            user_id: caller.user.id,
            is_typing: is_typing.unwrap_or(false),
        },
    };
    call_room(&cx.env, chat_id, &call).await?;
    http::ok(&json!({"status": "success"}))
}
