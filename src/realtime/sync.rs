//! The room's reads from the durable log (docs/realtime.md): a resuming socket's catch-up
//! (`?since=<seq>`) and filling a gap whose publish never came. D1 is the sequencer, so every
//! seq the room has not seen is in `chat_events` (or pruned: `resync_required`).
//!
//! Both await D1, during which the room's other events run: they re-read the room's position
//! after every await, and hand events that became deliverable to `broadcast`.

use std::cell::RefCell;

use serde_json::json;

use super::order::{Seqd, Text};
use super::sockets::Frame;
use super::state::RoomState;
use crate::error::{ApiError, ApiResult};
use crate::replay;
use crate::storage::{events, Db};
use crate::time;

/// Events read per D1 round trip while catching up or filling a gap.
const PAGE: i64 = 200;
/// Round trips one catch-up may take before it gives up and asks for a resync.
const MAX_ROUNDS: usize = 8;

fn resync() -> Text {
    json!({"type": "resync_required"}).to_string()
}

/// The frames of durable events.
pub fn frames(events: Vec<Seqd>) -> Vec<Frame> {
    events
        .iter()
        .map(|(seq, text)| Frame::new(text, Some(*seq)))
        .collect()
}

/// Renders stored events into their JSON texts.
async fn texts(db: &Db, chat_id: i64, rows: Vec<events::EventRow>) -> ApiResult<Vec<(i64, Text)>> {
    replay::render(db, chat_id, rows)
        .await?
        .into_iter()
        .map(|e| Ok((e.seq, serde_json::to_string(&e)?)))
        .collect()
}

/// What a socket connecting with `since` must receive before going live, and the seq up to
/// which it is then served (`SocketInfo::after`). Loops because live events keep arriving
/// while D1 is awaited: it ends when the catch-up reaches the room's live position.
/// `NotFound` when the chat does not exist.
pub async fn catch_up(
    db: &Db,
    room: &RefCell<RoomState>,
    since: Option<i64>,
    broadcast: &dyn Fn(&[Frame]),
) -> ApiResult<(Vec<Text>, i64)> {
    let chat_id = room.borrow().chat_id;
    let mut cursor = since;
    let mut out = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let before = room.borrow().order.next();
        if let Some(n) = before {
            match cursor {
                None => return Ok((out, n - 1)),
                Some(c) if c + 1 >= n => return Ok((out, c.max(n - 1))),
                Some(c) => {
                    if let Some(evs) = room.borrow().order.recent(c + 1, n) {
                        out.extend(evs.into_iter().map(|(_, text)| text));
                        return Ok((out, n - 1));
                    }
                }
            }
        }
        let (from, limit) = match cursor {
            Some(c) => (c, PAGE),
            None => (1 << 52, 0),
        };
        let (bounds, rows) = events::since(db, chat_id, from, limit)
            .await?
            .ok_or(ApiError::NotFound)?;
        let now = time::now_ms();
        let released = {
            let mut r = room.borrow_mut();
            match r.order.next() {
                None => r.order.start_at(bounds.last_seq + 1, now),
                // The room is ahead of a log read that started after it: the chat id was
                // reused after a delete whose disconnect got lost. Start over.
                Some(_) if before.is_some_and(|b| b > bounds.last_seq + 1) => {
                    r.order.reset(bounds.last_seq + 1, now)
                }
                Some(_) => Vec::new(),
            }
        };
        broadcast(&frames(released));
        let n = room.borrow().order.next().unwrap_or(bounds.last_seq + 1);
        let Some(c) = cursor else {
            return Ok((out, n - 1));
        };
        if bounds.oldest_seq > c + 1 && c < bounds.last_seq {
            return Ok((vec![resync()], n - 1));
        }
        let rendered = texts(db, chat_id, rows).await?;
        // Rendering awaited too: re-read the live position.
        let n = room.borrow().order.next().unwrap_or(n);
        let mut c = c;
        for (seq, text) in rendered {
            if seq == c + 1 && seq < n {
                out.push(text);
                c += 1;
            }
        }
        cursor = Some(c);
    }
    let n = room.borrow().order.next().unwrap_or(1);
    Ok((vec![resync()], n - 1))
}

/// The gap timer fired: reads everything from the room's position on and delivers it in
/// order. Events pruned before the room saw them → every socket gets `resync_required`.
pub async fn fill_gap(db: &Db, room: &RefCell<RoomState>, broadcast: &dyn Fn(&[Frame])) {
    let (chat_id, next) = {
        let r = room.borrow();
        (r.chat_id, r.order.next())
    };
    let Some(next) = next else {
        return;
    };
    let found: ApiResult<Result<Vec<(i64, Text)>, i64>> = async {
        match events::since(db, chat_id, next - 1, PAGE * 2).await? {
            Some((bounds, _)) if bounds.oldest_seq > next && next - 1 < bounds.last_seq => {
                Ok(Err(bounds.last_seq))
            }
            Some((_, rows)) => Ok(Ok(texts(db, chat_id, rows).await?)),
            None => Ok(Ok(Vec::new())),
        }
    }
    .await;
    let now = time::now_ms();
    match found {
        Ok(Ok(rendered)) => {
            let ready = room.borrow_mut().accept(rendered, now);
            broadcast(&frames(ready));
        }
        Ok(Err(last_seq)) => {
            broadcast(&[Frame::new(&resync(), None)]);
            let ready = room.borrow_mut().order.reset(last_seq + 1, now);
            broadcast(&frames(ready));
        }
        Err(e) => worker::console_error!("gap fill failed: {e:?}"),
    }
    // Still a gap (more than a page missing, or D1 failed): try again one timeout later.
    room.borrow_mut().order.fill_failed(now);
}
