//! `LiveFeed`: what a UserStream Durable Object (a hub: the users whose id is its number
//! modulo `STREAM_HUBS`) does — holds its users' stream sockets, delivers the events chat
//! rooms push in each chat's order, reads from D1 whatever a push cannot be placed after (a
//! resume, a gap, a membership change), and keeps each user's presence row while they have a
//! socket open (docs/realtime.md, "The user stream").
//!
//! Each socket has its own position (`Cursor`): sockets resume from different places. While a
//! socket reads from D1, pushes for it wait in its buffer and are placed after the read.

mod presence;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use serde_json::{json, Value};
use worker::{Env, Response, Result, State, WebSocket, WebSocketPair};

use super::fanout::Push;
use super::protocol::{self as p, StreamConnect, StreamOp, StreamSocketInfo};
use super::sockets::Frame;
use crate::cursor::{Cursor, Take};
use crate::error::ApiResult;
use crate::replay;
use crate::settings::Settings;
use crate::storage::{stream, Db};
use crate::time;

/// Rows one catch-up read returns at most.
const PAGE: i64 = 200;
/// Reads one catch-up may take before it gives up and asks the client to resync.
const MAX_ROUNDS: usize = 20;
/// How long a presence row lasts, and when (time left) it is renewed.
const PRESENCE_MS: i64 = 10 * 60 * 1000;
const RENEW_MS: i64 = 5 * 60 * 1000;

/// One open socket.
struct Sock {
    ws: WebSocket,
    info: StreamSocketInfo,
    cursor: Cursor,
    /// Reading from D1: pushes wait in `buffer`.
    catching: bool,
    buffer: Vec<Push>,
    /// Its attachment lags its cursor (written by the next flush).
    dirty: bool,
}

/// The open sockets by key; `None` until read from the runtime (again after hibernation).
type Socks = Rc<RefCell<Option<BTreeMap<u32, Sock>>>>;

/// How long a delivered event's cursor may wait before it is written to its socket's
/// attachment, instead of a structured-clone write of the attachment on every delivery. The
/// attachment only matters when the hub hibernates, which it does only after seconds without
/// events, and a pending flush keeps it awake until then.
const FLUSH_MS: u64 = 250;

pub struct LiveFeed {
    state: State,
    env: Env,
    socks: Socks,
    /// Whether a flush of dirty attachments is scheduled.
    flushing: Rc<Cell<bool>>,
    /// Per user, until when their presence row is known to last (absent: write it).
    present_until: RefCell<BTreeMap<i64, i64>>,
    /// The frames of the push being delivered, each converted to a JS string once: sockets at
    /// the same position get the same text, and a string per socket was 42 of the 84 MB the
    /// runtime allocated in a 300-message run to 100 streams (bench/README.md, "What sets a
    /// fan-out run's p99").
    frames: RefCell<Vec<(String, Frame)>>,
}

impl LiveFeed {
    pub fn new(state: State, env: Env) -> Self {
        LiveFeed {
            state,
            env,
            socks: Rc::new(RefCell::new(None)),
            flushing: Rc::new(Cell::new(false)),
            present_until: RefCell::new(BTreeMap::new()),
            frames: RefCell::new(Vec::new()),
        }
    }

    fn db(&self) -> ApiResult<Db> {
        Ok(Db::new(self.env.d1("DB")?))
    }

    /// The open sockets, rebuilt from their attachments after hibernation.
    fn load(&self) {
        if self.socks.borrow().is_some() {
            return;
        }
        let socks = self
            .state
            .get_websockets()
            .into_iter()
            .filter_map(|ws| {
                let info = ws
                    .deserialize_attachment::<StreamSocketInfo>()
                    .ok()
                    .flatten()?;
                let cursor = Cursor::parse(&info.cursor)?;
                Some((
                    info.key,
                    Sock {
                        ws,
                        info,
                        cursor,
                        catching: false,
                        buffer: Vec::new(),
                        dirty: false,
                    },
                ))
            })
            .collect();
        *self.socks.borrow_mut() = Some(socks);
    }

    fn keys(&self) -> Vec<u32> {
        self.load();
        self.socks
            .borrow()
            .as_ref()
            .map_or(Vec::new(), |s| s.keys().copied().collect())
    }

    /// The sockets of `user_id`.
    fn keys_of(&self, user_id: i64) -> Vec<u32> {
        self.load();
        self.socks.borrow().as_ref().map_or(Vec::new(), |s| {
            s.iter()
                .filter(|(_, s)| s.info.user_id == user_id)
                .map(|(k, _)| *k)
                .collect()
        })
    }

    /// Accepts a socket the worker authenticated: reads what it missed after `after` (or
    /// starts at the newest event), then places what was pushed meanwhile.
    pub async fn open(&self, c: StreamConnect) -> Result<Response> {
        self.load();
        let max = Settings::from_env(&self.env).max_sockets_per_user as usize;
        if self.keys_of(c.user_id).len() >= max {
            return Response::error("Too many sockets.", 429);
        }
        let db = match self.db() {
            Ok(db) => db,
            Err(_) => return Response::error("Internal server error", 500),
        };
        let resume = c.after.as_deref().and_then(Cursor::parse);
        let resuming = resume.is_some();
        let cursor = match resume {
            Some(cursor) => cursor,
            None => match stream::head_now(&db).await {
                Ok(head) => Cursor::at(head),
                Err(e) => {
                    worker::console_error!("stream head not read: {e:?}");
                    return Response::error("Internal server error", 500);
                }
            },
        };
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        let key = self
            .keys()
            .into_iter()
            .max()
            .map_or(1, |k| k.wrapping_add(1));
        let info = StreamSocketInfo {
            key,
            user_id: c.user_id,
            token_hash: c.token_hash,
            expires_at: c.expires_at,
            cursor: cursor.to_string(),
        };
        pair.server.serialize_attachment(&info)?;
        let sock = Sock {
            ws: pair.server,
            info,
            cursor,
            catching: true,
            buffer: Vec::new(),
            dirty: false,
        };
        if let Some(socks) = self.socks.borrow_mut().as_mut() {
            socks.insert(key, sock);
        }
        self.keep_present(&[c.user_id]).await;
        if resuming {
            self.catch_up(key).await;
        } else {
            self.drain(key).await;
        }
        Response::from_websocket(pair.client)
    }

    /// A call from the worker or a chat room.
    pub async fn call(&self, op: StreamOp) {
        self.load();
        match op {
            StreamOp::Push { batches } => {
                self.frames.borrow_mut().clear();
                let mut touched = Vec::new();
                let mut absent = Vec::new();
                for batch in &batches {
                    for (user_id, items) in &batch.users {
                        let keys = self.keys_of(*user_id);
                        if keys.is_empty() {
                            // A presence row outlived its sockets (a crash): nobody to push to.
                            absent.push(*user_id);
                        }
                        let pushes = batch.of(items);
                        for key in keys {
                            self.with(key, |s| s.buffer.extend(pushes.iter().cloned()));
                            if !touched.contains(&key) {
                                touched.push(key);
                            }
                        }
                    }
                }
                for key in touched {
                    if !self.with(key, |s| s.catching).unwrap_or(true) {
                        self.drain(key).await;
                    }
                }
                self.frames.borrow_mut().clear();
                absent.sort_unstable();
                absent.dedup();
                for user_id in absent {
                    self.gone(user_id).await;
                }
            }
            StreamOp::SignOut {
                user_id,
                token_hash,
            } => {
                for key in self.keys_of(user_id) {
                    let ended = self.with(key, |s| {
                        token_hash.as_ref().is_none_or(|t| *t == s.info.token_hash)
                    });
                    if ended == Some(true) {
                        self.close(key, "Session ended.");
                    }
                }
                if self.keys_of(user_id).is_empty() {
                    self.gone(user_id).await;
                }
            }
        }
    }

    /// Runs `f` on socket `key` if it is still open.
    fn with<R>(&self, key: u32, f: impl FnOnce(&mut Sock) -> R) -> Option<R> {
        self.socks.borrow_mut().as_mut()?.get_mut(&key).map(f)
    }

    /// Places the socket's buffered pushes after its position; a gap or a membership change
    /// turns into a read from D1 first.
    async fn drain(&self, key: u32) {
        // An event still unplaceable right after a read from D1 is not this user's to see
        // (the read found nothing missing before it): dropped rather than read for again.
        let mut gapped: Option<i64> = None;
        loop {
            let items = match self.with(key, |s| {
                s.catching = false;
                std::mem::take(&mut s.buffer)
            }) {
                Some(items) if !items.is_empty() => items,
                _ => return,
            };
            let now = time::now_ms();
            let needs_read = self
                .with(key, |s| {
                    if s.info.expires_at <= now {
                        return false;
                    }
                    for (i, item) in items.iter().enumerate() {
                        match item {
                            Push::Event {
                                chat_id,
                                seq,
                                gid,
                                prev_gid,
                                text,
                            } => match s.cursor.take(*chat_id, *seq, *gid, *prev_gid) {
                                Take::Deliver => {
                                    self.send(&s.ws, spliced(text, *chat_id, &s.cursor));
                                }
                                Take::Behind => {}
                                Take::Gap if gapped == Some(*gid) => {
                                    worker::console_error!("stream dropped unplaceable {gid}");
                                }
                                Take::Gap => {
                                    gapped = Some(*gid);
                                    s.catching = true;
                                    s.buffer.splice(0..0, items[i..].iter().cloned());
                                    break;
                                }
                            },
                            // The read from D1 covers everything up to now: what follows
                            // waits for it.
                            Push::CatchUp => {
                                s.catching = true;
                                s.buffer.splice(0..0, items[i + 1..].iter().cloned());
                                break;
                            }
                        }
                    }
                    s.info.cursor = s.cursor.to_string();
                    s.dirty = true;
                    s.catching
                })
                .unwrap_or(false);
            self.flush_soon();
            if self.with(key, |s| s.info.expires_at <= now) == Some(true) {
                self.close(key, "Session ended.");
                return;
            }
            if needs_read {
                self.read_log(key).await;
            }
        }
    }

    /// Sends `text`, as the JS string made for the same text earlier in this push if any.
    fn send(&self, ws: &WebSocket, text: String) {
        let mut frames = self.frames.borrow_mut();
        match frames.iter().find(|(t, _)| *t == text) {
            Some((_, frame)) => frame.send(ws),
            None => {
                let frame = Frame::new(&text, None);
                frame.send(ws);
                // A push's distinct frames are its events times the positions its sockets are
                // at: a few. The bound only caps a pathological push.
                if frames.len() < 64 {
                    frames.push((text, frame));
                }
            }
        }
    }

    /// Writes the attachments of sockets whose cursor moved, once `FLUSH_MS` passed.
    fn flush_soon(&self) {
        if self.flushing.replace(true) {
            return;
        }
        let (socks, flushing) = (self.socks.clone(), self.flushing.clone());
        wasm_bindgen_futures::spawn_local(async move {
            worker::Delay::from(std::time::Duration::from_millis(FLUSH_MS)).await;
            flushing.set(false);
            if let Some(socks) = socks.borrow_mut().as_mut() {
                for s in socks.values_mut().filter(|s| s.dirty) {
                    s.dirty = false;
                    let _ = s.ws.serialize_attachment(&s.info);
                }
            }
        });
    }

    /// Reads from D1 what the socket has not had, then places what was pushed meanwhile.
    async fn catch_up(&self, key: u32) {
        self.with(key, |s| s.catching = true);
        self.read_log(key).await;
        self.drain(key).await;
    }

    /// Sends, from D1, every event after the socket's position up to the log's head (in
    /// pages); a position older than the log keeps gets `resync_required` with a fresh one.
    async fn read_log(&self, key: u32) {
        let Ok(db) = self.db() else {
            return;
        };
        for _ in 0..MAX_ROUNDS {
            let Some((user_id, cursor)) = self.with(key, |s| (s.info.user_id, s.cursor.clone()))
            else {
                return;
            };
            let data = match stream::load(&db, user_id, &cursor, PAGE).await {
                Ok(data) => data,
                Err(e) => {
                    worker::console_error!("stream catch-up failed: {e:?}");
                    let _ = self.with(key, |s| s.ws.close(Some(1011), Some("Try again.")));
                    self.forget(key);
                    return;
                }
            };
            let done = self.with(key, |s| {
                if data.head.stale {
                    s.cursor = Cursor::at(data.head.head);
                    let frame = json!({"type": "resync_required", "cursor": s.cursor.to_string()});
                    let _ = s.ws.send_with_str(frame.to_string());
                } else {
                    for e in replay::render_stream(&data, user_id) {
                        if !s.cursor.logged(e.chat_id, e.seq, e.gid) {
                            continue;
                        }
                        let mut json = e.json;
                        json["cursor"] = Value::from(s.cursor.to_string());
                        let _ = s.ws.send_with_str(json.to_string());
                    }
                    if (data.rows.len() as i64) < PAGE {
                        s.cursor.caught_up(data.upto.min(data.head.head));
                    }
                }
                s.info.cursor = s.cursor.to_string();
                let _ = s.ws.serialize_attachment(&s.info);
                data.head.stale || ((data.rows.len() as i64) < PAGE && data.upto >= data.head.head)
            });
            match done {
                Some(false) => continue,
                _ => return,
            }
        }
        // Too far behind to read in one go: start the client over.
        self.with(key, |s| {
            let frame = json!({"type": "resync_required", "cursor": s.cursor.to_string()});
            let _ = s.ws.send_with_str(frame.to_string());
        });
    }

    fn close(&self, key: u32, reason: &str) {
        self.with(key, |s| s.ws.close(Some(p::CLOSE_GONE), Some(reason)));
        self.forget(key);
    }

    fn forget(&self, key: u32) {
        if let Some(socks) = self.socks.borrow_mut().as_mut() {
            socks.remove(&key);
        }
    }

    /// A socket closed or failed.
    pub async fn socket_gone(&self, ws: &WebSocket) {
        self.load();
        let info = ws
            .deserialize_attachment::<StreamSocketInfo>()
            .ok()
            .flatten();
        if let Some(info) = info {
            self.forget(info.key);
            if self.keys_of(info.user_id).is_empty() {
                self.gone(info.user_id).await;
            }
        }
    }

    /// A client frame: `{"type": "ping"}` is answered (bare `ping` never wakes the object);
    /// the stream takes nothing else from clients.
    pub fn frame(&self, ws: &WebSocket, text: &str) {
        let answer = match p::parse(text) {
            Ok(p::ClientFrame::Ping) => json!({"type": "pong"}),
            Ok(_) => p::error_frame(&crate::error::ApiError::field(
                "type",
                "The user stream takes only ping; typing and mark_read go to chat sockets.",
            )),
            Err(e) => p::error_frame(&e),
        };
        let _ = ws.send_with_str(answer.to_string());
    }
}

/// A chat socket's event text with the stream's `chat_id` and `cursor` added.
fn spliced(text: &str, chat_id: i64, cursor: &Cursor) -> String {
    let has_chat_id = text.contains("\"chat_id\"");
    match text.strip_prefix('{') {
        Some(rest) if !has_chat_id => {
            format!("{{\"chat_id\":{chat_id},\"cursor\":\"{cursor}\",{rest}")
        }
        _ => {
            let mut v: Value = serde_json::from_str(text).unwrap_or(json!({}));
            v["chat_id"] = chat_id.into();
            v["cursor"] = cursor.to_string().into();
            v.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_get_the_chat_and_cursor() {
        let c = Cursor::at(12);
        let v: Value =
            serde_json::from_str(&spliced(r#"{"type":"new_message","seq":3}"#, 5, &c)).unwrap();
        assert_eq!(
            v,
            json!({"type": "new_message", "seq": 3, "chat_id": 5, "cursor": "12"})
        );
        let v: Value = serde_json::from_str(&spliced(
            r#"{"type":"chat_deleted","seq":4,"chat_id":5}"#,
            5,
            &c,
        ))
        .unwrap();
        assert_eq!(v["chat_id"], 5);
        assert_eq!(v["cursor"], "12");
    }
}
