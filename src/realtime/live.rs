//! `LiveChat`: what the chat room Durable Object does (docs/realtime.md) — publishes, typing,
//! disconnects, accepting sockets, client frames and the alarm — over its plain state
//! (`RoomState`), its socket registry (`Sockets`) and its D1 reads (`sync`). It is the one
//! owner of them all; `room.rs` only hands it the runtime's events.

use std::cell::{Cell, RefCell};

use serde_json::{json, Value};
use worker::{Env, Response, Result, State, WebSocket, WebSocketPair};

use super::protocol::{self as p, ClientFrame, Connect, RoomCall, RoomOp, SocketInfo};
use super::sockets::{Frame, Sockets};
use super::state::{RoomState, Saved};
use super::sync;
use crate::error::{ApiError, ApiResult};
use crate::settings::Settings;
use crate::storage::{members, users, Db};
use crate::{time, writes};

/// The storage key of `Saved`.
const SAVED: &str = "room";

pub struct LiveChat {
    state: State,
    env: Env,
    room: RefCell<RoomState>,
    /// Whether `room` was loaded from storage (once per instance; storage reads hold the
    /// input gate, so nothing interleaves with the load).
    loaded: Cell<bool>,
    sockets: Sockets,
}

impl LiveChat {
    pub fn new(state: State, env: Env) -> Self {
        LiveChat {
            state,
            env,
            room: RefCell::new(RoomState::default()),
            loaded: Cell::new(false),
            sockets: Sockets::default(),
        }
    }

    fn db(&self) -> ApiResult<Db> {
        Ok(Db::new(self.env.d1("DB")?))
    }

    /// Loads the saved state once; `chat_id` names the chat when a call carries it.
    async fn load(&self, chat_id: Option<i64>) {
        if !self.loaded.get() {
            let saved: Option<Saved> = match self.state.storage().get::<String>(SAVED).await {
                Ok(Some(s)) => serde_json::from_str(&s).ok(),
                _ => None,
            };
            if !self.loaded.replace(true) {
                *self.room.borrow_mut() = RoomState::restore(saved.unwrap_or_default());
            }
        }
        if let Some(id) = chat_id {
            self.room.borrow_mut().chat_id = id;
        }
    }

    /// Saves the position and timers, then points the alarm at the earliest deadline.
    async fn persist(&self) {
        let (text, want) = {
            let r = self.room.borrow();
            (
                serde_json::to_string(&r.saved()).unwrap_or_default(),
                r.alarm_wanted(),
            )
        };
        if let Err(e) = self.state.storage().put(SAVED, text).await {
            worker::console_error!("room state not saved: {e:?}");
        }
        if let Some(at) = want {
            match self
                .state
                .storage()
                .set_alarm((at - time::now_ms()).max(1))
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
        self.sockets.send_all(&self.state, &frames, except);
    }

    fn broadcast(&self) -> impl Fn(&[Frame]) + '_ {
        |frames| self.sockets.send_all(&self.state, frames, None)
    }

    /// A worker's call.
    pub async fn call(&self, call: RoomCall) {
        self.load(Some(call.chat_id)).await;
        match call.op {
            RoomOp::Publish { seq, event } => self.publish(seq, event).await,
            RoomOp::Typing { user_id, is_typing } => self.typing(user_id, is_typing).await,
            RoomOp::Disconnect { user_ids } => self.disconnect(user_ids).await,
        }
    }

    /// A durable event: delivered in seq order, after the ones before it.
    async fn publish(&self, seq: i64, event: String) {
        let ready = self
            .room
            .borrow_mut()
            .accept(vec![(seq, event)], time::now_ms());
        self.broadcast()(&sync::frames(ready));
        self.persist().await;
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

    /// Closes removed members' sockets (`None`: everyone's, the chat was deleted: its saved
    /// state goes too).
    async fn disconnect(&self, user_ids: Option<Vec<i64>>) {
        self.room.borrow_mut().disconnected(user_ids.as_deref());
        let reason = "No longer a member.";
        self.sockets
            .close(&self.state, user_ids.as_deref(), p::CLOSE_GONE, reason);
        if user_ids.is_some() {
            return self.persist().await;
        }
        let _ = self.state.storage().delete_alarm().await;
        let _ = self.state.storage().delete_all().await;
    }

    /// Accepts a socket the worker authenticated, after computing its catch-up (`since`):
    /// everything from there to accepting is synchronous, so no live event can slip between
    /// the replay and going live.
    pub async fn open(&self, c: Connect) -> Result<Response> {
        // A removal may land between the worker's membership check and this point: read
        // membership again here, and refuse if a disconnect naming the user arrives while the
        // catch-up is awaited (its D1 commit may postdate the read).
        self.load(Some(c.chat_id)).await;
        let generation = self.room.borrow().generation();
        let gone = || Response::error("Not found.", 404);
        let caught_up = match self.db() {
            Ok(db) => match members::is_member(&db, c.chat_id, c.user_id).await {
                Ok(true) => sync::catch_up(&db, &self.room, c.since, &self.broadcast()).await,
                Ok(false) => Err(ApiError::NotFound),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let (catch_up, after) = match caught_up {
            Ok(x) => x,
            Err(ApiError::NotFound) => return gone(),
            Err(e) => {
                worker::console_error!("opening a socket failed: {e:?}");
                return Response::error("Internal server error", 500);
            }
        };
        if self.room.borrow().removed_since(c.user_id, generation) {
            return gone();
        }
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        let info = SocketInfo {
            user_id: c.user_id,
            token_hash: c.token_hash,
            after,
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
        self.load(None).await;
        let db = match self.db() {
            Ok(db) => db,
            Err(e) => return answer(&p::error_frame(&e)),
        };
        // A logged-out session must not keep acting checked when the client speaks.
        match users::session_user(&db, &info.token_hash, &time::now_iso()).await {
            Ok(Some(u)) if u.id == info.user_id => {}
            Ok(_) => {
                let _ = ws.close(Some(p::CLOSE_GONE), Some("Session ended."));
                return;
            }
            Err(e) => return answer(&p::error_frame(&e)),
        }
        match frame {
            ClientFrame::Typing(is_typing) => self.typing(info.user_id, is_typing).await,
            ClientFrame::MarkRead(id) => {
                let chat_id = self.room.borrow().chat_id;
                match writes::read_up_to(&db, chat_id, info.user_id, id).await {
                    Ok(moved) => {
                        if let Some(e) = moved.event {
                            match serde_json::to_string(&e) {
                                Ok(text) => self.publish(e.seq, text).await,
                                Err(err) => answer(&p::error_frame(&err.into())),
                            }
                        }
                    }
                    Err(e) => answer(&p::error_frame(&e)),
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
        let list = self.sockets.list(&self.state);
        if list.iter().any(|(_, i)| i.user_id == info.user_id) {
            return;
        }
        self.load(None).await;
        if self.room.borrow_mut().typing.forget(info.user_id) {
            self.send_all(&[p::typing_frame(info.user_id, false)], Some(info.user_id));
            self.persist().await;
        }
    }

    /// Typing expiry and gap filling, whichever is due.
    pub async fn alarm(&self) {
        self.load(None).await;
        let now = time::now_ms();
        let (expired, gap_due) = {
            let mut r = self.room.borrow_mut();
            r.alarm_set(None);
            let gap_due = r.order.gap_deadline().is_some_and(|at| now >= at - 50);
            (r.typing.expire(now), gap_due)
        };
        for user_id in expired {
            self.send_all(&[p::typing_frame(user_id, false)], Some(user_id));
        }
        if gap_due {
            match self.db() {
                Ok(db) => sync::fill_gap(&db, &self.room, &self.broadcast()).await,
                Err(e) => worker::console_error!("gap fill failed: {e:?}"),
            }
        }
        self.persist().await;
    }
}
