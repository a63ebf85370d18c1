//! `LiveChat`: what the chat room Durable Object does (docs/realtime.md) — committing the
//! chat's writes as its single writer, typing, sign-outs, accepting sockets, client frames and
//! the alarm — over its plain state (`RoomState`), its socket registry (`Sockets`) and its D1
//! reads (`sync`). It is the one owner of them all; `room.rs` only hands it the runtime's
//! events.
//!
//! The write path: a write waits in `queue` while a batch is in flight; the writer whose
//! batch just committed hands the turn to the first queued write, which commits every write
//! queued by then in one D1 batch (group commit). Its events are broadcast right after the
//! commit, in seq order: the room being the only writer, nothing can come between.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use futures_channel::oneshot;
use serde_json::{json, Value};
use worker::{Env, Response, Result, State, WebSocket, WebSocketPair};

use super::fanout::{self, HubPush, Push};
use super::protocol::{
    self as p, ClientFrame, Connect, RoomCall, RoomOp, SocketInfo, StreamCall, StreamOp, WriteReply,
};
use super::sockets::{Frame, Sockets};
use super::state::{RoomState, Saved};
use super::sync;
use crate::args;
use crate::error::{ApiError, ApiResult};
use crate::settings::Settings;
use crate::storage::batch::Stamp;
use crate::storage::{members, stream, users, Batch, Db};
use crate::time;
use crate::writes::{self, Close, Done, Reply, Write};

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

    /// Commits `write` with the writes queued meanwhile, in one batch.
    async fn write(&self, mut write: Write) -> WriteReply {
        if self.writing.replace(true) {
            let (turn, wait) = oneshot::channel();
            self.queue.borrow_mut().push(Queued { write, turn });
            match wait.await {
                Ok(Turn::Done(reply)) => return reply,
                Ok(Turn::Drive(mine)) => write = mine,
                Err(_) => return unavailable(),
            }
        }
        let others = self.queue.take();
        let (writes, turns): (Vec<Write>, Vec<_>) = std::iter::once((write, None))
            .chain(others.into_iter().map(|q| (q.write, Some(q.turn))))
            .unzip();
        let mut replies = self.commit(&writes).await.into_iter();
        let mine = replies.next().unwrap_or_else(unavailable);
        for (turn, reply) in turns.into_iter().skip(1).zip(replies) {
            if let Some(turn) = turn {
                let _ = turn.send(Turn::Done(reply)); // a caller gone meanwhile misses it
            }
        }
        self.hand_over();
        mine
    }

    /// Gives the turn to the first queued write whose caller still waits, or ends the turn.
    fn hand_over(&self) {
        loop {
            let next = {
                let mut q = self.queue.borrow_mut();
                (!q.is_empty()).then(|| q.remove(0))
            };
            let Some(q) = next else {
                self.writing.set(false);
                return;
            };
            if q.turn.send(Turn::Drive(q.write)).is_ok() {
                return;
            }
        }
    }

    /// One batch: the chat's log head before it, then every write; their answers in order.
    /// A batch that fails as a whole is retried one write at a time, so one bad write cannot
    /// fail the others.
    async fn commit(&self, writes: &[Write]) -> Vec<WriteReply> {
        let db = match self.db() {
            Ok(db) => db,
            Err(e) => return writes.iter().map(|_| failed(&e)).collect(),
        };
        let chat_id = self.room.borrow().chat_id;
        let now = time::now_iso();
        let mut b = Batch::new(&db);
        // The log's head before this batch, read once per instance: after that the room has
        // delivered everything it committed.
        let head = match self.head_read.get() {
            true => None,
            false => b
                .query::<Stamp>(
                    "SELECT last_seq, member_gen FROM chats WHERE id = ?1",
                    args![chat_id],
                )
                .ok(),
        };
        // Who has a user stream open, among the members and those the batch adds: only they
        // are handed its events (fanout.rs).
        let joining: Vec<i64> = writes
            .iter()
            .flat_map(|w| match w {
                Write::AddMembers { user_ids } => user_ids.clone(),
                _ => Vec::new(),
            })
            .collect();
        let online = stream::online(&mut b, chat_id, &joining, &now);
        let planned: Vec<_> = writes
            .iter()
            .map(|w| writes::plan(&mut b, chat_id, w, &now))
            .collect();
        let res = match b.run().await {
            Ok(res) => res,
            Err(e) if writes.len() == 1 => return vec![failed(&e)],
            Err(_) => {
                let mut out = Vec::new();
                for w in writes {
                    out.extend(Box::pin(self.commit(std::slice::from_ref(w))).await);
                }
                return out;
            }
        };
        if let Some(head) = head {
            self.catch_up_to(&db, res.first(head).ok().flatten()).await;
            self.head_read.set(true);
        }
        let mut cost = db.cost();
        let dones: Vec<Done> = planned
            .into_iter()
            .map(|p| match p {
                Ok(p) => p.done(&res),
                Err(e) => Done::refused(&e),
            })
            .collect();
        let online: Vec<i64> = match online.and_then(|h| res.all(h)) {
            Ok(rows) => rows.into_iter().map(|o| o.user_id).collect(),
            Err(e) => {
                worker::console_error!("stream presence not read: {e:?}");
                Vec::new()
            }
        };
        if !online.is_empty() {
            let changes: Vec<fanout::Change> = dones.iter().map(change).collect();
            let plan = fanout::plan(chat_id, &online, &changes);
            cost.streams = self.push_streams(plan) as u32;
        }
        let replies = dones
            .into_iter()
            .map(|done| WriteReply {
                reply: self.deliver(done),
                cost,
            })
            .collect();
        self.persist().await;
        replies
    }

    /// Hands the stream hubs their pushes: one call per hub at a time, in order (a stream
    /// relies on each chat's events arriving in seq order); what queues meanwhile goes in the
    /// next call. The number of calls made for this batch.
    fn push_streams(&self, plan: BTreeMap<i64, Vec<Push>>) -> usize {
        let hubs = fanout::by_hub(plan, Settings::from_env(&self.env).stream_hubs);
        let calls = hubs.len();
        for (hub, push) in hubs {
            let start = {
                let mut outbox = self.outbox.borrow_mut();
                let idle = !outbox.contains_key(&hub);
                outbox.entry(hub).or_default().push(push);
                idle
            };
            if start {
                let (env, outbox) = (self.env.clone(), self.outbox.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    loop {
                        let batches = match outbox.borrow_mut().get_mut(&hub) {
                            Some(q) => std::mem::take(q),
                            None => return,
                        };
                        if batches.is_empty() {
                            outbox.borrow_mut().remove(&hub);
                            return;
                        }
                        let call = StreamCall {
                            hub,
                            op: StreamOp::Push { batches },
                        };
                        if let Err(e) = super::call_stream(&env, &call).await {
                            worker::console_error!("stream hub {hub} missed a push: {e:?}");
                        }
                    }
                });
            }
        }
        calls
    }

    /// Before a batch's events go out: the events committed before it that this room did not
    /// deliver (it crashed between a commit and its broadcast) go first, and a removal it did
    /// not apply closes the removed members' sockets.
    async fn catch_up_to(&self, db: &Db, head: Option<Stamp>) {
        let Some(head) = head else {
            return;
        };
        let behind = self.room.borrow().log.next().is_none_or(|n| n <= head.seq);
        if behind {
            if let Err(e) = sync::replay_to(db, &self.room, head.seq, &self.broadcast()).await {
                worker::console_error!("replay before a write failed: {e:?}");
            }
        }
        self.check_members(head.member_gen).await;
    }

    /// Delivers what a write did: its events in order, then the sockets it closes.
    fn deliver(&self, done: Done) -> Reply {
        for e in &done.events {
            if self.room.borrow_mut().log.delivered(e.seq, &e.text) {
                self.broadcast()(&[Frame::new(&e.text, Some(e.seq))]);
            }
        }
        if let Some(gen) = done.member_gen {
            let mut r = self.room.borrow_mut();
            r.member_gen = r.member_gen.max(gen);
        }
        match &done.close {
            Some(Close::Users(ids)) => {
                self.room.borrow_mut().disconnected(Some(ids));
                let hit = |i: &SocketInfo| ids.contains(&i.user_id);
                self.sockets.close(&self.state, "No longer a member.", hit);
            }
            Some(Close::Everyone) => {
                self.room.borrow_mut().disconnected(None);
                self.sockets
                    .close(&self.state, "The chat was deleted.", |_| true);
            }
            None => {}
        }
        done.reply
    }

    /// The sockets of users who are no longer members close, when D1's membership generation
    /// is newer than the room's.
    async fn check_members(&self, member_gen: i64) {
        if member_gen <= self.room.borrow().member_gen {
            return;
        }
        let chat_id = self.room.borrow().chat_id;
        let users = self.sockets.users(&self.state);
        let members = match self.db() {
            Ok(db) => members::which_are_members(&db, chat_id, &users).await,
            Err(e) => Err(e),
        };
        match members {
            Ok(members) => {
                let gone = |i: &SocketInfo| !members.contains(&i.user_id);
                self.sockets.close(&self.state, "No longer a member.", gone);
                let mut r = self.room.borrow_mut();
                r.member_gen = r.member_gen.max(member_gen);
            }
            Err(e) => worker::console_error!("membership re-check failed: {e:?}"),
        }
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
                Ok(true) => sync::catch_up(&db, &self.room, c.since).await,
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

/// What a write did to whom, for the user streams.
fn change(d: &Done) -> fanout::Change<'_> {
    let (removed, deleted): (&[i64], bool) = match &d.close {
        Some(Close::Users(ids)) => (ids, false),
        Some(Close::Everyone) => (&[], true),
        None => (&[], false),
    };
    fanout::Change {
        events: &d.events,
        added: &d.added,
        removed,
        deleted,
    }
}

/// The answer of a write whose batch could not run.
fn failed(e: &ApiError) -> WriteReply {
    WriteReply {
        reply: Reply::refusal(e),
        cost: Default::default(),
    }
}

/// The answer of a write whose turn never came (its room was torn down).
fn unavailable() -> WriteReply {
    failed(&ApiError::Internal("a write was dropped".into()))
}
