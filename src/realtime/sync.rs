//! The room's reads from the durable log (docs/realtime.md): a resuming socket's catch-up
//! (`?since=<seq>`), and replaying events the room did not deliver (a crash between a commit
//! and its broadcast). Every seq is in `chat_events` (or pruned: `resync_required`).
//!
//! Both await D1, during which the room's other events run: they re-read the room's position
//! after every await.

use std::cell::RefCell;

use serde_json::json;

use super::order::{Seqd, Text};
use super::sockets::Frame;
use super::state::RoomState;
use crate::error::{ApiError, ApiResult};
use crate::replay;
use crate::storage::{events, Db};

/// Events read per D1 round trip while catching up.
const PAGE: i64 = 200;
/// Round trips one catch-up may take before it gives up and asks for a resync.
const MAX_ROUNDS: usize = 8;

fn resync() -> Text {
    json!({"type": "resync_required"}).to_string()
}

/// Renders stored events into their JSON texts.
async fn texts(db: &Db, chat_id: i64, rows: Vec<events::EventRow>) -> ApiResult<Vec<Seqd>> {
    replay::render(db, chat_id, rows)
        .await?
        .into_iter()
        .map(|e| Ok((e.seq, serde_json::to_string(&e)?)))
        .collect()
}

/// What a socket connecting with `since` must receive before going live, and the seq up to
/// which it is then served (`SocketInfo::after`). Loops because the room's position may move
/// while D1 is awaited: it ends when the catch-up reaches it. `NotFound` when the chat does
/// not exist.
pub async fn catch_up(
    db: &Db,
    room: &RefCell<RoomState>,
    since: Option<i64>,
) -> ApiResult<(Vec<Text>, i64)> {
    let chat_id = room.borrow().chat_id;
    let mut cursor = since;
    let mut out = Vec::new();
    for _ in 0..MAX_ROUNDS {
        if let Some(n) = room.borrow().log.next() {
            match cursor {
                None => return Ok((out, n - 1)),
                Some(c) if c + 1 >= n => return Ok((out, c.max(n - 1))),
                Some(c) => {
                    if let Some(evs) = room.borrow().log.recent(c + 1, n) {
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
        if room.borrow().log.next().is_none() {
            room.borrow_mut().log.start_at(bounds.last_seq + 1);
        }
        let n = room.borrow().log.next().unwrap_or(bounds.last_seq + 1);
        let Some(c) = cursor else {
            return Ok((out, n - 1));
        };
        if bounds.oldest_seq > c + 1 && c < bounds.last_seq {
            return Ok((vec![resync()], n - 1));
        }
        let rendered = texts(db, chat_id, rows).await?;
        // Rendering awaited too: re-read the live position.
        let n = room.borrow().log.next().unwrap_or(n);
        let mut c = c;
        for (seq, text) in rendered {
            if seq == c + 1 && seq < n {
                out.push(text);
                c += 1;
            }
        }
        cursor = Some(c);
    }
    let n = room.borrow().log.next().unwrap_or(1);
    Ok((vec![resync()], n - 1))
}

/// Delivers, from D1, the events after the room's position up to `last_seq`, which the room
/// did not deliver (it crashed between their commit and their broadcast). Events already
/// pruned → every socket gets `resync_required` and the room moves on.
pub async fn replay_to(
    db: &Db,
    room: &RefCell<RoomState>,
    last_seq: i64,
    broadcast: &dyn Fn(&[Frame]),
) -> ApiResult<()> {
    let chat_id = room.borrow().chat_id;
    loop {
        let Some(next) = room.borrow().log.next() else {
            room.borrow_mut().log.start_at(last_seq + 1);
            return Ok(());
        };
        if next > last_seq {
            return Ok(());
        }
        let Some((bounds, rows)) = events::since(db, chat_id, next - 1, PAGE).await? else {
            return Ok(());
        };
        if bounds.oldest_seq > next || rows.is_empty() {
            broadcast(&[Frame::new(&resync(), None)]);
            room.borrow_mut().log.start_at(last_seq + 1);
            return Ok(());
        }
        for (seq, text) in texts(db, chat_id, rows).await? {
            if seq <= last_seq && room.borrow_mut().log.delivered(seq, &text) {
                broadcast(&[Frame::new(&text, Some(seq))]);
            }
        }
        if room.borrow().log.next() == Some(next) {
            // No progress (the log does not hold `next`): clients must reload.
            broadcast(&[Frame::new(&resync(), None)]);
            room.borrow_mut().log.start_at(last_seq + 1);
            return Ok(());
        }
    }
}
