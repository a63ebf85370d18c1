//! `ChatRoom`: the per-chat Durable Object (SPEC §6). A thin shell over `order` (seq ordering),
//! `typing` (expiry/throttle) and `protocol` (frames): it owns the chat's hibernatable sockets,
//! persists its position so ordering survives eviction, and uses one alarm for both the gap
//! timer and typing expiry. Catch-up reads from D1 live in `sync`.
//!
//! Handlers take `&self`; state sits in a `RefCell` that is never borrowed across an `.await`
//! (awaiting D1 lets other events of this object run in between).

use std::cell::RefCell;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, State, WebSocket,
    WebSocketIncomingMessage,
};

pub(super) use super::calls::Removals;
use super::order::{seq_of, OrderBuffer, GAP_TIMEOUT_MS};
use super::protocol::{self, ClientFrame, RoomCall, SocketInfo};
use super::sockets::{Frame, Open};
use super::typing::Typing;
use crate::error::ApiError;
use crate::storage::{users, Db};
use crate::time;

/// The storage key of `Saved`.
const SAVED: &str = "room";

/// What survives hibernation and eviction (memory does not, TOOLCHAIN.md).
#[derive(Default, Serialize, Deserialize)]
struct Saved {
    chat_id: i64,
    next: Option<i64>,
    gap_since: Option<i64>,
    typing: Typing,
}

#[derive(Default)]
pub(super) struct Mem {
    pub(super) loaded: bool,
    pub(super) chat_id: i64,
    pub(super) order: OrderBuffer,
    /// When the current gap appeared; the alarm fills it from D1 `GAP_TIMEOUT_MS` later.
    pub(super) gap_since: Option<i64>,
    pub(super) typing: Typing,
    pub(super) alarm_at: Option<i64>,
}

#[durable_object]
pub struct ChatRoom {
    pub(super) state: State,
    pub(super) env: Env,
    pub(super) mem: RefCell<Mem>,
    /// Disconnects seen by this instance, so a socket whose membership was read before a
    /// removal but accepted after it is refused (`sync::open_socket`).
    pub(super) removals: RefCell<Removals>,
    /// The open sockets and their attachments (sockets.rs); `None` until read.
    pub(super) sockets: RefCell<Option<Rc<Vec<Open>>>>,
}

impl DurableObject for ChatRoom {
    fn new(state: State, env: Env) -> Self {
        // Pings are answered by the runtime without waking the object (SPEC §6).
        match worker::worker_sys::WebSocketRequestResponsePair::new("ping", "pong") {
            Ok(pair) => {
                let _ = state.as_raw().set_websocket_auto_response(&pair);
            }
            Err(_) => worker::console_error!("ping auto-response unavailable"),
        }
        ChatRoom {
            state,
            env,
            mem: RefCell::new(Mem::default()),
            removals: RefCell::new(Removals::default()),
            sockets: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let url = req.url()?;
        match url.path() {
            "/connect" => self.open_socket(&url).await,
            "/call" => match req.json::<RoomCall>().await {
                Ok(call) => {
                    self.call(call).await;
                    Response::ok("")
                }
                Err(_) => Response::error("Bad room call.", 400),
            },
            _ => Response::error("Not found.", 404),
        }
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        let text = match message {
            WebSocketIncomingMessage::String(s) => s,
            WebSocketIncomingMessage::Binary(b) => {
                if b.len() > protocol::MAX_FRAME_BYTES {
                    let _ = ws.close(Some(protocol::CLOSE_TOO_BIG), Some("Message too big."));
                } else {
                    send(
                        &ws,
                        &protocol::error_frame("Binary frames are not supported."),
                    );
                }
                return Ok(());
            }
        };
        if text.len() > protocol::MAX_FRAME_BYTES {
            let _ = ws.close(Some(protocol::CLOSE_TOO_BIG), Some("Message too big."));
            return Ok(());
        }
        let Some(info) = ws.deserialize_attachment::<SocketInfo>().ok().flatten() else {
            let _ = ws.close(Some(protocol::CLOSE_GONE), Some("Unknown socket."));
            return Ok(());
        };
        if text.trim() == "ping" {
            let _ = ws.send_with_str("pong");
            return Ok(());
        }
        let frame = match protocol::parse(&text) {
            Ok(f) => f,
            Err(detail) => {
                send(&ws, &protocol::error_frame(&detail));
                return Ok(());
            }
        };
        if frame == ClientFrame::Ping {
            send(&ws, &json!({"type": "pong"}));
            return Ok(());
        }
        self.ensure_loaded(None).await;
        let db = match self.db() {
            Ok(db) => db,
            Err(_) => return Ok(()),
        };
        // A logged-out session must not keep acting (SPEC §3): checked when the client speaks.
        match users::by_session(&db, &info.token_hash, &time::now_iso()).await {
            Ok(Some(u)) if u.id == info.user_id => {}
            Ok(_) => {
                let _ = ws.close(Some(protocol::CLOSE_GONE), Some("Session ended."));
                return Ok(());
            }
            Err(e) => {
                worker::console_error!("session check failed: {e:?}");
                send(
                    &ws,
                    &protocol::error_frame("Temporarily unavailable, try again."),
                );
                return Ok(());
            }
        }
        match frame {
            ClientFrame::Typing(is_typing) => self.typing(info.user_id, is_typing).await,
            ClientFrame::MarkRead(message_id) => {
                let chat_id = self.mem.borrow().chat_id;
                match crate::receipts::mark_read(&db, chat_id, info.user_id, message_id).await {
                    Ok(Some(event)) => self.publish(event).await,
                    Ok(None) => {}
                    Err(e) => {
                        if let ApiError::Internal(cause) = &e {
                            worker::console_error!("mark_read failed: {cause}");
                        }
                        let detail = e.body()["detail"]
                            .as_str()
                            .unwrap_or("Invalid request.")
                            .to_string();
                        send(&ws, &protocol::error_frame(&detail));
                    }
                }
            }
            ClientFrame::Ping => {}
        }
        Ok(())
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        _code: usize,
        _reason: String,
        _clean: bool,
    ) -> Result<()> {
        let _ = ws.close(Some(1000), Some("Closed."));
        self.socket_gone(&ws).await;
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        self.socket_gone(&ws).await;
        Ok(())
    }

    async fn alarm(&self) -> Result<Response> {
        self.ensure_loaded(None).await;
        let now = time::now_ms();
        let (expired, gap_due) = {
            let mut m = self.mem.borrow_mut();
            m.alarm_at = None;
            let expired = m.typing.expire(now);
            let gap_due = m.gap_since.is_some_and(|t| now - t >= GAP_TIMEOUT_MS - 50);
            (expired, gap_due)
        };
        for user_id in expired {
            self.send_all(&[protocol::typing_frame(user_id, false)], Some(user_id));
        }
        if gap_due {
            self.fill_gap().await;
        }
        self.persist().await;
        Response::ok("")
    }
}

/// Sends one frame; a socket already closing just misses it.
pub(super) fn send(ws: &WebSocket, frame: &Value) {
    let _ = ws.send_with_str(frame.to_string());
}

impl ChatRoom {
    pub(super) fn db(&self) -> Result<Db> {
        Ok(Db::new(self.env.d1("DB")?))
    }

    /// Loads `Saved` once per instance (storage reads hold the input gate: nothing interleaves).
    pub(super) async fn ensure_loaded(&self, chat_id: Option<i64>) {
        if !self.mem.borrow().loaded {
            let saved: Option<Saved> = match self.state.storage().get::<String>(SAVED).await {
                Ok(Some(s)) => serde_json::from_str(&s).ok(),
                _ => None,
            };
            let mut m = self.mem.borrow_mut();
            if !m.loaded {
                m.loaded = true;
                if let Some(s) = saved {
                    m.chat_id = s.chat_id;
                    m.order = OrderBuffer::new(s.next);
                    m.gap_since = s.gap_since;
                    m.typing = s.typing;
                }
            }
        }
        if let Some(id) = chat_id {
            self.mem.borrow_mut().chat_id = id;
        }
    }

    /// Saves the position and timers, then points the alarm at the earliest deadline.
    pub(super) async fn persist(&self) {
        let (saved, want, have) = {
            let m = self.mem.borrow();
            let gap = m.gap_since.map(|t| t + GAP_TIMEOUT_MS);
            let want = match (gap, m.typing.next_deadline()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let saved = Saved {
                chat_id: m.chat_id,
                next: m.order.next(),
                gap_since: m.gap_since,
                typing: m.typing.clone(),
            };
            (saved, want, m.alarm_at)
        };
        let text = serde_json::to_string(&saved).unwrap_or_default();
        if let Err(e) = self.state.storage().put(SAVED, text).await {
            worker::console_error!("room state not saved: {e:?}");
        }
        if let Some(at) = want.filter(|at| have != Some(*at)) {
            let offset = (at - time::now_ms()).max(1);
            match self.state.storage().set_alarm(offset).await {
                Ok(()) => self.mem.borrow_mut().alarm_at = Some(at),
                Err(e) => worker::console_error!("alarm not set: {e:?}"),
            }
        }
    }

    /// Sends `events` to every socket (but `except`'s), skipping durable events a resumed
    /// socket already received.
    pub(super) fn send_all(&self, events: &[Value], except: Option<i64>) {
        if events.is_empty() {
            return;
        }
        let frames: Vec<(Option<i64>, Frame)> = events
            .iter()
            .map(|e| (seq_of(e), Frame::new(&e.to_string())))
            .collect();
        for (ws, info) in self.sockets().iter() {
            if Some(info.user_id) == except {
                continue;
            }
            for (seq, frame) in &frames {
                if seq.is_some_and(|s| s <= info.after) {
                    continue;
                }
                frame.send(ws);
            }
        }
    }

    /// Puts durable events through the ordering buffer and delivers what became ready.
    pub(super) fn accept(&self, events: Vec<(i64, Value)>) {
        let ready = {
            let mut m = self.mem.borrow_mut();
            let mut out = Vec::new();
            for (seq, ev) in events {
                out.extend(m.order.offer(seq, ev));
            }
            m.gap_since = if m.order.has_gap() {
                Some(m.gap_since.unwrap_or_else(time::now_ms))
            } else {
                None
            };
            out
        };
        self.send_all(&ready, None);
    }
}
