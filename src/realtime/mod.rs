//! Real time (docs/realtime.md): one Durable Object per chat holds its WebSockets, is the
//! single writer of its chat's changes (it commits them in D1 and broadcasts their events in
//! `seq` order) and runs typing indicators. This file is the worker side: the socket and REST
//! typing endpoints, and how handlers hand a chat its writes:
//! - `write(cx, chat_id, write)` sends a write to the chat's room, which commits it together
//!   with the writes that arrive meanwhile, delivers its events, closes the sockets it ends,
//!   and answers; the answer becomes the response (and its D1 cost the request's).
//! - `sign_out(cx, user_id, token_hash, chats)` closes a signed-out session's sockets.

pub mod fanout;
mod feed;
mod live;
pub mod order;
pub mod protocol;
pub mod room;
mod sockets;
mod state;
mod sync;
pub mod typing;
pub mod user_stream;

use serde_json::json;
use wasm_bindgen::JsValue;
use worker::{Env, Headers, Method, Request, RequestInit, Response, Stub};

use crate::auth;
use crate::cursor::Cursor;
use crate::domain::ChatKind;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, Cx};
use crate::settings::Settings;
use crate::storage::{rooms, users};
use crate::time;
use crate::writes::Write;
use protocol::{
    Connect, RoomCall, RoomOp, StreamCall, StreamConnect, StreamOp, WriteReply, CONNECT_HEADER,
    STREAM_CONNECT_HEADER,
};

/// Both Durable Objects let the runtime answer bare `ping` frames with `pong` without waking
/// them (docs/realtime.md).
fn answer_pings(state: &worker::State) {
    if let Ok(pair) = worker::worker_sys::WebSocketRequestResponsePair::new("ping", "pong") {
        let _ = state.as_raw().set_websocket_auto_response(&pair);
    }
}

/// The chat's room (one Durable Object per chat id).
fn room(env: &Env, chat_id: i64) -> ApiResult<Stub> {
    Ok(env
        .durable_object("CHAT_ROOMS")?
        .id_from_name(&chat_id.to_string())?
        .get_stub()?)
}

/// Sends one internal call to the room; its response. Only the worker can reach a Durable
/// Object, so the room trusts what arrives here (user ids the worker authenticated, session
/// hashes a send's batch checks itself).
async fn call_room(env: &Env, call: &RoomCall) -> ApiResult<Response> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(JsValue::from_str(&serde_json::to_string(call)?)));
    let req = Request::new_with_init("https://room/call", &init)?;
    let resp = room(env, call.chat_id)?.fetch_with_request(req).await?;
    match resp.status_code() {
        200..=299 => Ok(resp),
        s => Err(ApiError::Internal(format!("room answered {s}"))),
    }
}

/// A stream hub: the Durable Object holding the user streams of the users whose id is `hub`
/// modulo `STREAM_HUBS`.
fn hub(env: &Env, hub: u32) -> ApiResult<Stub> {
    Ok(env
        .durable_object("USER_STREAMS")?
        .id_from_name(&format!("hub-{hub}"))?
        .get_stub()?)
}

/// The hub of `user_id`.
fn hub_of(env: &Env, user_id: i64) -> u32 {
    fanout::hub_of(user_id, Settings::from_env(env).stream_hubs)
}

/// Sends one call to a stream hub.
pub(super) async fn call_stream(env: &Env, call: &StreamCall) -> ApiResult<()> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(JsValue::from_str(&serde_json::to_string(call)?)));
    let req = Request::new_with_init("https://stream/call", &init)?;
    let resp = hub(env, call.hub)?.fetch_with_request(req).await?;
    match resp.status_code() {
        200..=299 => Ok(()),
        s => Err(ApiError::Internal(format!("user stream answered {s}"))),
    }
}

/// Tells the streams of `user_ids` (users with a stream open, made members of a new chat) to
/// read their `chat_added` from D1.
pub async fn catch_up_streams(cx: &Cx, user_ids: &[i64]) {
    let plan = user_ids
        .iter()
        .map(|&u| (u, vec![fanout::Push::CatchUp]))
        .collect();
    let hubs = fanout::by_hub(plan, cx.settings.stream_hubs);
    let calls = hubs.into_iter().map(|(hub, push)| async move {
        let call = StreamCall {
            hub,
            op: StreamOp::Push {
                batches: vec![push],
            },
        };
        if let Err(e) = call_stream(&cx.env, &call).await {
            worker::console_error!("stream hub {hub} missed a new chat: {e:?}");
        }
    });
    futures_util::future::join_all(calls).await;
}

/// Has the chat's room commit `write`; its answer, as the response. The room's D1 cost joins
/// the request's, and a write a session authenticated makes the request authenticated.
pub async fn write(cx: &Cx, chat_id: i64, write: Write) -> ApiResult<Response> {
    let call = RoomCall {
        chat_id,
        op: RoomOp::Write { write },
    };
    let mut resp = call_room(&cx.env, &call).await?;
    let WriteReply { reply, cost } = serde_json::from_str(&resp.text().await?)?;
    cx.add_cost(cost);
    if reply.authenticated {
        cx.authenticated.set(true);
    }
    match reply.body {
        Some(body) => {
            let headers = Headers::new();
            headers.set("Content-Type", "application/json")?;
            Ok(Response::ok(body)?
                .with_status(reply.status)
                .with_headers(headers))
        }
        None => Ok(Response::empty()?.with_status(reply.status)),
    }
}

/// Closes the sockets of a session that ended (`token_hash`; `None`: every session of
/// `user_id`) in each of `chats`, before the sign-out answers.
pub async fn sign_out(cx: &Cx, user_id: i64, token_hash: Option<&str>, chats: &[i64]) {
    if chats.contains(&users::STREAM_SOCKETS) {
        let call = StreamCall {
            hub: hub_of(&cx.env, user_id),
            op: StreamOp::SignOut {
                user_id,
                token_hash: token_hash.map(str::to_string),
            },
        };
        if let Err(e) = call_stream(&cx.env, &call).await {
            worker::console_error!("closing user {user_id}'s stream sockets failed: {e:?}");
        }
    }
    let chats = chats.iter().filter(|&&c| c != users::STREAM_SOCKETS);
    let calls = chats.map(|&chat_id| {
        let op = RoomOp::SignOut {
            user_id,
            token_hash: token_hash.map(str::to_string),
        };
        async move {
            if let Err(e) = call_room(&cx.env, &RoomCall { chat_id, op }).await {
                worker::console_error!("closing chat {chat_id}'s sockets failed: {e:?}");
            }
        }
    });
    futures_util::future::join_all(calls).await;
}

/// `GET /messages/api/chats/{id}/ws/?since=<seq>` — the chat's WebSocket. Anonymous → 401,
/// cross-site cookie upgrade → 403 (the CSRF rule applies to upgrades although they are GETs:
/// browsers send cookies on cross-site WebSocket handshakes), non-member → 404, not an
/// upgrade → 426. The room replays events after `since`, then goes live. A room's non-member
/// (when rooms are enabled) is accepted as a watcher: `member_count` frames only.
pub async fn connect(cx: &Cx, chat_id: i64) -> ApiResult<Response> {
    if auth::session(cx)?.1 {
        auth::check_same_site(cx)?;
    }
    // The access check also records the session's socket here (so logout closes it). A
    // room's non-member may watch it (SPEC §10: member counts only).
    let rooms_open = cx.settings.enable_chat_rooms;
    let (caller, access, (), _) = auth::gated(cx, |b, s| {
        let gate = rooms::socket_access(b, chat_id, s.token_hash, s.now, rooms_open)?;
        Ok((gate, users::socket_opened(b, s.token_hash, chat_id, s.now)?))
    })
    .await?;
    require_upgrade(cx)?;
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
        expires_at: time::ms_from_iso(&caller.expires_at).unwrap_or(0),
        since,
        room: access.chat_type == ChatKind::Room,
    };
    let req = upgrade("https://room/connect", CONNECT_HEADER, &connect)?;
    let resp = room(&cx.env, chat_id)?.fetch_with_request(req).await?;
    match resp.status_code() {
        101 => Ok(resp),
        404 => Err(ApiError::NotFound),
        429 => Err(ApiError::TooManyRequests {
            retry_after_secs: 10,
        }),
        s => Err(ApiError::Internal(format!("room refused the socket: {s}"))),
    }
}

/// 426 unless the request asks for a WebSocket.
fn require_upgrade(cx: &Cx) -> ApiResult<()> {
    let is_upgrade = cx
        .header("Upgrade")
        .is_some_and(|u| u.trim().eq_ignore_ascii_case("websocket"));
    if is_upgrade {
        Ok(())
    } else {
        Err(ApiError::UpgradeRequired)
    }
}

/// The upgrade request handed to a Durable Object, with what the worker checked as JSON in
/// `header` (an upgrade request has no body).
fn upgrade(url: &str, header: &str, what: &impl serde::Serialize) -> ApiResult<Request> {
    let headers = Headers::new();
    headers.set("Upgrade", "websocket")?;
    headers.set(header, &serde_json::to_string(what)?)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    Ok(Request::new_with_init(url, &init)?)
}

/// Who is typing in `chat_id` now, but `user_id` (a polling client's snapshot).
pub async fn typists(cx: &Cx, chat_id: i64, user_id: i64) -> ApiResult<Vec<i64>> {
    let call = RoomCall {
        chat_id,
        op: RoomOp::Typists { user_id },
    };
    let mut resp = call_room(&cx.env, &call).await?;
    let WriteReply { reply, .. } = serde_json::from_str(&resp.text().await?)?;
    Ok(serde_json::from_str(reply.body.as_deref().unwrap_or("[]"))?)
}

/// `GET /messages/api/ws/?after=<cursor>` — the user stream's socket (docs/realtime.md, "The
/// user stream"): the same checks as a chat socket (anonymous → 401, cross-site cookie → 403,
/// not an upgrade → 426) and a malformed cursor → 400. The user's stream object replays what
/// follows the cursor (from the newest event without one), then goes live.
pub async fn connect_stream(cx: &Cx) -> ApiResult<Response> {
    if auth::session(cx)?.1 {
        auth::check_same_site(cx)?;
    }
    let (caller, (), _) = auth::authenticate_with(cx, |b, s| {
        users::stream_socket_opened(b, s.token_hash, s.now)
    })
    .await?;
    require_upgrade(cx)?;
    let after = match cx.query("after") {
        None => None,
        Some(a) => Some(
            Cursor::parse(&a)
                .ok_or_else(|| ApiError::field("after", "Not a cursor this API gave out."))?
                .to_string(),
        ),
    };
    let connect = StreamConnect {
        user_id: caller.user.id,
        token_hash: caller.token_hash,
        expires_at: time::ms_from_iso(&caller.expires_at).unwrap_or(0),
        after,
    };
    let req = upgrade("https://stream/connect", STREAM_CONNECT_HEADER, &connect)?;
    let resp = hub(&cx.env, hub_of(&cx.env, caller.user.id))?
        .fetch_with_request(req)
        .await?;
    match resp.status_code() {
        101 => Ok(resp),
        429 => Err(ApiError::TooManyRequests {
            retry_after_secs: 10,
        }),
        s => Err(ApiError::Internal(format!(
            "the stream refused the socket: {s}"
        ))),
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
    call_room(&cx.env, &call).await?;
    http::ok(&json!({"status": "success"}))
}
