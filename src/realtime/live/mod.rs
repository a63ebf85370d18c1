//! `LiveChat`: what the chat room Durable Object does (docs/realtime.md) — committing the
//! chat's writes as its single writer, typing, sign-outs, accepting sockets, client frames and
//! the alarm — over its plain state (`RoomState`), its socket registry (`Sockets`) and its D1
//! reads (`sync`). It is the one owner of them all; `room.rs` only hands it the runtime's
//! events.
//!
//! The write path (group commit, delivery, the user streams' pushes) is `commit.rs`.

mod commit;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use futures_channel::oneshot;
use serde_json::{json, Value};
use worker::{Env, Response, Result, State, WebSocket, WebSocketPair};

use super::fanout::HubPush;
use super::protocol::{self as p, ClientFrame, Connect, RoomCall, RoomOp, SocketInfo, WriteReply};
use super::sockets::{Frame, Sockets};
use super::state::{RoomState, Saved};
use super::sync;
use crate::error::{ApiError, ApiResult, JOIN_THE_ROOM};
use crate::settings::Settings;
use crate::storage::{members, users, Db};
use crate::time;
use crate::writes::{Reply, Write};

/// A write waiting for its batch.
struct Queued {
    write: Write,
    turn: oneshot::Sender<Turn>,
}

/// What a queued write is told: its answer, or that it commits the next batch.
enum Turn {
    Done(WriteReply),
    Drive(Write),
}

/// The key-value key of `Saved` in rooms saved before it moved to the room's SQLite.
const SAVED: &str = "room";

/// A `room_state` row.
#[derive(serde::Deserialize)]
struct SavedRow {
    saved: String,
}

pub struct LiveChat {
    state: State,
    env: Env,
    room: RefCell<RoomState>,
    /// Whether `room` was loaded from storage (once per instance; storage reads hold the
    /// input gate, so nothing interleaves with the load).
    loaded: Cell<bool>,
    sockets: Sockets,
    /// Whether a batch is being committed; writes arriving meanwhile wait in `queue`.
    writing: Cell<bool>,
    /// Whether this instance has read the log's head (its first batch does).
    head_read: Cell<bool>,
    queue: RefCell<Vec<Queued>>,
    /// Pushes waiting for each stream hub being called (fanout.rs).
    outbox: Rc<RefCell<BTreeMap<u32, Vec<HubPush>>>>,
}

impl LiveChat {
    pub fn new(state: State, env: Env) -> Self {
        LiveChat {
            state,
            env,
            room: RefCell::new(RoomState::default()),
            loaded: Cell::new(false),
            sockets: Sockets::default(),
            writing: Cell::new(false),
            head_read: Cell::new(false),
            queue: RefCell::new(Vec::new()),
            outbox: Rc::new(RefCell::new(BTreeMap::new())),
        }
    }

    fn db(&self) -> ApiResult<Db> {
        Ok(Db::new(self.env.d1("DB")?))
    }

    /// Loads the saved state once; `chat_id` names the chat when a call carries it.
    async fn load(&self, chat_id: Option<i64>) {
        if !self.loaded.get() {
            let saved = match self.saved_sql() {
                Some(saved) => Some(saved),
                // Rooms saved before the state moved to SQL kept it in the key-value storage.
                None => match self.state.storage().get::<String>(SAVED).await {
                    Ok(Some(s)) => serde_json::from_str(&s).ok(),
                    _ => None,
                },
            };
            if !self.loaded.replace(true) {
                *self.room.borrow_mut() = RoomState::restore(saved.unwrap_or_default());
            }
        }
        if let Some(id) = chat_id {
            self.room.borrow_mut().chat_id = id;
        }
    }

    /// The state saved in the room's own SQLite (synchronous: no await, no interleaving).
    fn saved_sql(&self) -> Option<Saved> {
        let sql = self.state.storage().sql();
        let row = sql
            .exec(
                "CREATE TABLE IF NOT EXISTS room_state (id INTEGER PRIMARY KEY, saved TEXT)",
                None,
            )
            .and_then(|_| sql.exec("SELECT saved FROM room_state WHERE id = 1", None))
            .and_then(|c| c.to_array::<SavedRow>());
        match row {
            Ok(rows) => rows
                .into_iter()
                .next()
                .and_then(|r| serde_json::from_str(&r.saved).ok()),
            Err(e) => {
                worker::console_error!("room state not read: {e:?}");
                None
            }
        }
    }

    /// Saves the position and timers (in the room's SQLite, synchronously), then points the
    /// alarm at the earliest deadline (a typist to expire, a socket whose session ends).
    async fn persist(&self) {
        let expiry = self.sockets.next_expiry(&self.state);
        let (text, want) = {
            let r = self.room.borrow();
            let text = serde_json::to_string(&r.saved()).unwrap_or_default();
            (text, r.alarm_wanted(expiry))
        };
        let saved = self.state.storage().sql().exec(
            "INSERT OR REPLACE INTO room_state (id, saved) VALUES (1, ?)",
            vec![text.into()],
        );
        if let Err(e) = saved {
            worker::console_error!("room state not saved: {e:?}");
        }
        if let Some(at) = want {
            match self
                .state
                .storage()
                // A session may end in centuries (the runtime refuses alarms past 2189): a day
                // at most, the alarm then looks again.
                .set_alarm((at - time::now_ms()).clamp(1, 24 * 3600 * 1000))
                .await
            {
                Ok(()) => self.room.borrow_mut().alarm_set(Some(at)),
                Err(e) => worker::console_error!("alarm not set: {e:?}"),
            }
        }
    }

    /// Sends frames that are not durable events to every socket but `except`'s.
    fn send_all(&self, frames: &[Value], except: Option<i64>) {
        let frames: Vec<Frame> = frames
            .iter()
            .map(|f| Frame::new(&f.to_string(), None))
            .collect();
        self.sockets
            .send_all(&self.state, &frames, except, time::now_ms());
    }

    fn broadcast(&self) -> impl Fn(&[Frame]) + '_ {
        |frames| {
            self.sockets
                .send_all(&self.state, frames, None, time::now_ms())
        }
    }

    /// A worker's call; a write's answer comes back.
    pub async fn call(&self, call: RoomCall) -> Option<WriteReply> {
        self.load(Some(call.chat_id)).await;
        match call.op {
            RoomOp::Write { write } => return Some(self.write(write).await),
            RoomOp::Typing { user_id, is_typing } => self.typing(user_id, is_typing).await,
            RoomOp::Typists { user_id } => {
                let ids = self
                    .room
                    .borrow()
                    .typing
                    .now_typing(time::now_ms(), user_id);
                let reply = Reply::json(200, &ids).unwrap_or_else(|e| Reply::refusal(&e));
                return Some(WriteReply {
                    reply,
                    cost: Default::default(),
                });
            }
            RoomOp::SignOut {
                user_id,
                token_hash,
            } => {
                let theirs = |i: &SocketInfo| {
                    i.user_id == user_id && token_hash.as_ref().is_none_or(|t| *t == i.token_hash)
                };
                self.sockets.close(&self.state, "Session ended.", theirs);
            }
        }
        None
    }

    async fn typing(&self, user_id: i64, is_typing: bool) {
        let timeout_ms = Settings::from_env(&self.env).typing_timeout_seconds as i64 * 1000;
        let now = time::now_ms();
        let frame = self
            .room
            .borrow_mut()
            .typing
            .update(user_id, is_typing, now, timeout_ms);
        if let Some(b) = frame {
            self.send_all(&[p::typing_frame(user_id, b)], Some(user_id));
        }
        self.persist().await;
    }

    /// Accepts a socket the worker authenticated, after computing its catch-up (`since`):
    /// everything from there to accepting is synchronous, so no live event can slip between
    /// the replay and going live. A room's non-member is accepted as a watcher (no catch-up).
    pub async fn open(&self, c: Connect) -> Result<Response> {
        // A removal may land between the worker's membership check and this point: read
        // membership again here, and refuse if a disconnect naming the user arrives while the
        // catch-up is awaited (its D1 commit may postdate the read).
        self.load(Some(c.chat_id)).await;
        let generation = self.room.borrow().generation();
        let gone = || Response::error("Not found.", 404);
        let caught_up = match self.db() {
            Ok(db) => match members::is_member(&db, c.chat_id, c.user_id).await {
                Ok(true) => sync::catch_up(&db, &self.room, c.since)
                    .await
                    .map(|x| (x, false)),
                Ok(false) if c.room => Ok(((Vec::new(), 0), true)),
                Ok(false) => Err(ApiError::NotFound),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let ((catch_up, after), mut watcher) = match caught_up {
            Ok(x) => x,
            Err(ApiError::NotFound) => return gone(),
            Err(e) => {
                worker::console_error!("opening a socket failed: {e:?}");
                return Response::error("Internal server error", 500);
            }
        };
        if self.room.borrow().removed_since(c.user_id, generation) {
            if !c.room {
                return gone();
            }
            watcher = true; // left the room meanwhile: watches from now on
        } else if watcher && self.room.borrow().joined_since(c.user_id, generation) {
            // Joined the room meanwhile: opened again, as a member with a catch-up.
            return Box::pin(self.open(c)).await;
        }
        let (catch_up, after) = if watcher {
            (Vec::new(), 0)
        } else {
            (catch_up, after)
        };
        let max = Settings::from_env(&self.env).max_sockets_per_user as usize;
        if self.sockets.count_of(&self.state, c.user_id) >= max {
            return Response::error("Too many sockets.", 429);
        }
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        let info = SocketInfo {
            user_id: c.user_id,
            token_hash: c.token_hash,
            after,
            expires_at: c.expires_at,
            room: c.room,
            watcher,
        };
        pair.server.serialize_attachment(info)?;
        self.sockets.opened();
        for text in &catch_up {
            let _ = pair.server.send_with_str(text);
        }
        self.persist().await;
        Response::from_websocket(pair.client)
    }

    /// A client's text frame (size already checked).
    pub async fn frame(&self, ws: &WebSocket, text: &str) {
        let answer = |v: &Value| {
            let _ = ws.send_with_str(v.to_string());
        };
        let Some(info) = ws.deserialize_attachment::<SocketInfo>().ok().flatten() else {
            let _ = ws.close(Some(p::CLOSE_GONE), Some("Unknown socket."));
            return;
        };
        let frame = match p::parse(text) {
            Ok(ClientFrame::Ping) => return answer(&json!({"type": "pong"})),
            Ok(frame) => frame,
            Err(e) => return answer(&p::error_frame(&e)),
        };
        // A room's watcher may only listen (and ping): no D1 work for anything else.
        if info.watcher {
            return answer(&p::error_frame(&JOIN_THE_ROOM));
        }
        if !self.sockets.allow_frame(&self.state, ws, time::now_ms()) {
            let slow_down = ApiError::TooManyRequests {
                retry_after_secs: 1,
            };
            return answer(&p::error_frame(&slow_down));
        }
        self.load(None).await;
        let db = match self.db() {
            Ok(db) => db,
            Err(e) => return answer(&p::error_frame(&e)),
        };
        // A logged-out session must not keep acting: checked when the client speaks.
        match users::session_user(&db, &info.token_hash, &time::now_iso()).await {
            Ok(Some(s)) if s.user.id == info.user_id => {}
            Ok(_) => {
                let _ = ws.close(Some(p::CLOSE_GONE), Some("Session ended."));
                return;
            }
            Err(e) => return answer(&p::error_frame(&e)),
        }
        match frame {
            ClientFrame::Typing(is_typing) => self.typing(info.user_id, is_typing).await,
            ClientFrame::MarkRead(message_id) => {
                let write = Write::MarkRead {
                    user_id: info.user_id,
                    message_id,
                };
                let reply = self.write(write).await.reply;
                if reply.status >= 400 {
                    let body = reply.body.as_deref().unwrap_or("{}");
                    let mut frame: Value = serde_json::from_str(body).unwrap_or(json!({}));
                    frame["type"] = json!("error");
                    answer(&frame);
                }
            }
            ClientFrame::Ping => {}
        }
    }

    /// A socket closed: when it was its user's last one and they were typing, tell the others.
    pub async fn socket_gone(&self, ws: &WebSocket) {
        // Read the list before striking `ws` from it: rebuilt now, it may still hold `ws`.
        self.sockets.list(&self.state);
        self.sockets.dropped(ws);
        let Some(info) = ws.deserialize_attachment::<SocketInfo>().ok().flatten() else {
            return;
        };
        if self.sockets.count_of(&self.state, info.user_id) > 0 {
            return;
        }
        self.load(None).await;
        if self.room.borrow_mut().typing.forget(info.user_id) {
            self.send_all(&[p::typing_frame(info.user_id, false)], Some(info.user_id));
            self.persist().await;
        }
    }

    /// Typing expiry and sockets whose session ended, whichever is due.
    pub async fn alarm(&self) {
        self.load(None).await;
        let now = time::now_ms();
        let expired = {
            let mut r = self.room.borrow_mut();
            r.alarm_set(None);
            r.typing.expire(now)
        };
        for user_id in expired {
            self.send_all(&[p::typing_frame(user_id, false)], Some(user_id));
        }
        self.sockets
            .close(&self.state, "Session ended.", |i| i.expires_at <= now);
        self.persist().await;
    }
}
