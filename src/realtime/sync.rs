//! Opening a room's socket and the room's reads from the durable log (SPEC §6): a resuming
//! socket's catch-up (`?since=<seq>`) and filling a gap whose publish never came. D1 is the sequencer, so
//! every seq the room has not seen is in `chat_events` (or pruned: `resync_required`).

use serde_json::{json, Value};

use worker::{Response, Result, WebSocketPair};

use super::order::seq_of;
use super::protocol::SocketInfo;
use super::room::{send, ChatRoom};
use crate::error::{ApiError, ApiResult};
use crate::storage::{events, rooms};
use crate::time;

/// Events read per D1 round trip while catching up or filling a gap.
const PAGE: i64 = 200;
/// Round trips one catch-up may take before it gives up and asks for a resync.
const MAX_ROUNDS: usize = 8;

fn internal(e: ApiError) -> Result<Response> {
    worker::console_error!("opening a socket failed: {e:?}");
    Response::error("Internal server error", 500)
}

fn resync() -> Value {
    json!({"type": "resync_required"})
}

impl ChatRoom {
    /// What a socket connecting with `since` must receive before going live, and the seq up to
    /// which it is then served (`SocketInfo::after`). Loops because live events keep arriving
    /// while D1 is awaited: it ends when the catch-up reaches the room's live position.
    pub(super) async fn catch_up(
        &self,
        chat_id: i64,
        since: Option<i64>,
    ) -> ApiResult<(Vec<Value>, i64)> {
        let db = self.db()?;
        let mut cursor = since;
        let mut out = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let before = self.mem.borrow().order.next();
            if let Some(n) = before {
                match cursor {
                    None => return Ok((out, n - 1)),
                    Some(c) if c + 1 >= n => return Ok((out, c.max(n - 1))),
                    Some(c) => {
                        if let Some(evs) = self.mem.borrow().order.recent(c + 1, n) {
                            out.extend(evs);
                            return Ok((out, n - 1));
                        }
                    }
                }
            }
            let (from, limit) = match cursor {
                Some(c) => (c, PAGE),
                None => (1 << 52, 0),
            };
            let (bounds, rows) = events::since(&db, chat_id, from, limit)
                .await?
                .ok_or(ApiError::NotFound)?;
            let ready = {
                let mut m = self.mem.borrow_mut();
                match m.order.next() {
                    None => m.order.start_at(bounds.last_seq + 1),
                    // The room is ahead of a log read that started after it: the chat id was
                    // reused after a delete whose disconnect got lost. Start over.
                    Some(_) if before.is_some_and(|b| b > bounds.last_seq + 1) => {
                        m.order.reset(bounds.last_seq + 1)
                    }
                    Some(_) => Vec::new(),
                }
            };
            self.send_all(&ready, None);
            let n = self
                .mem
                .borrow()
                .order
                .next()
                .unwrap_or(bounds.last_seq + 1);
            let Some(c) = cursor else {
                return Ok((out, n - 1));
            };
            if bounds.oldest_seq > c + 1 && c < bounds.last_seq {
                return Ok((vec![resync()], n - 1));
            }
            let rendered = crate::events::render(&db, chat_id, rows).await?;
            // Rendering awaited too: re-read the live position.
            let n = self.mem.borrow().order.next().unwrap_or(n);
            let mut c = c;
            for ev in rendered {
                if seq_of(&ev).is_some_and(|s| s == c + 1 && s < n) {
                    out.push(ev);
                    c += 1;
                }
            }
            cursor = Some(c);
        }
        let n = self.mem.borrow().order.next().unwrap_or(1);
        Ok((vec![resync()], n - 1))
    }

    /// The gap timer fired: read everything from the room's position on and deliver it in
    /// order. Events pruned before the room saw them → every socket gets `resync_required`.
    pub(super) async fn fill_gap(&self) {
        let (chat_id, next) = {
            let m = self.mem.borrow();
            (m.chat_id, m.order.next())
        };
        let Some(next) = next else {
            return;
        };
        let found = match self.db() {
            Ok(db) => match events::since(&db, chat_id, next - 1, PAGE * 2).await {
                Ok(Some((bounds, rows))) => {
                    if bounds.oldest_seq > next && next - 1 < bounds.last_seq {
                        Ok(Err(bounds.last_seq))
                    } else {
                        crate::events::render(&db, chat_id, rows).await.map(Ok)
                    }
                }
                Ok(None) => Ok(Ok(Vec::new())),
                Err(e) => Err(e),
            },
            Err(e) => Err(e.into()),
        };
        match found {
            Ok(Ok(rendered)) => {
                let evs = rendered
                    .into_iter()
                    .filter_map(|e| seq_of(&e).map(|s| (s, e)))
                    .collect();
                self.accept(evs);
            }
            Ok(Err(last_seq)) => {
                self.send_all(&[resync()], None);
                let ready = self.mem.borrow_mut().order.reset(last_seq + 1);
                self.send_all(&ready, None);
            }
            Err(e) => worker::console_error!("gap fill failed: {e:?}"),
        }
        // Still a gap (more than a page missing, or D1 failed): try again one timeout later.
        let mut m = self.mem.borrow_mut();
        m.gap_since = m.order.has_gap().then(time::now_ms);
    }

    /// Accepts a socket the worker authenticated (`SocketInfo` in the query), after computing
    /// its catch-up (`since`): everything from there to accepting is synchronous, so no live
    /// event can slip between the replay and going live.
    pub(super) async fn open_socket(&self, url: &url::Url) -> Result<Response> {
        let q = |k: &str| {
            url.query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        let num = |k: &str| q(k).and_then(|v| v.parse::<i64>().ok());
        let (Some(chat_id), Some(user_id), Some(token_hash)) =
            (num("chat_id"), num("user_id"), q("token_hash"))
        else {
            return Response::error("Bad connect.", 400);
        };
        // A removal may land between the worker's membership check and this point: read
        // membership again here, and refuse if a disconnect naming the user arrives while the
        // catch-up is awaited (its D1 commit may postdate the read).
        let generation = self.removals.borrow().generation;
        self.ensure_loaded(Some(chat_id)).await;
        let gone = || Response::error("Not found.", 404);
        match rooms::is_member(&self.db()?, chat_id, user_id).await {
            Ok(true) => {}
            Ok(false) => return gone(),
            Err(e) => return internal(e),
        }
        let (catch_up, after) = match self.catch_up(chat_id, num("since")).await {
            Ok(x) => x,
            Err(ApiError::NotFound) => return gone(),
            Err(e) => return internal(e),
        };
        if self.removals.borrow().removed_since(user_id, generation) {
            return gone();
        }
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        pair.server.serialize_attachment(SocketInfo {
            user_id,
            token_hash,
            after,
        })?;
        self.socket_opened();
        for ev in &catch_up {
            send(&pair.server, ev);
        }
        self.persist().await;
        Response::from_websocket(pair.client)
    }
}
