//! The rooms phase (SPEC §10): a room of `members` members, each with a socket open, takes
//! `messages` messages (fan-out through the room, every delivery accounted for, as
//! fanout.rs); then `watchers` non-members watch the room while `joins` others join it by
//! REST, `JOIN_PARALLEL` at a time: the join rate, and every watcher must see every join's
//! `member_count` frame, the last one the final count.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{App, Ws};
use crate::fanout::{self, FanOut};
use crate::seed;
use crate::stats::Samples;

/// Joins in flight at once.
pub const JOIN_PARALLEL: usize = 10;

/// What the join phase measured.
pub struct Joins {
    pub watchers: usize,
    pub joins: usize,
    pub failed: u64,
    pub elapsed: Duration,
    pub latency: Samples,
    /// `member_count` frames the watchers received, and expected (watchers × joins).
    pub counts_seen: u64,
    pub counts_expected: u64,
    /// Watchers whose last frame was not the final count, or who saw a count twice or a
    /// frame that is not a count.
    pub wrong: u64,
    pub final_count: i64,
}

impl Joins {
    pub fn per_sec(&self) -> f64 {
        self.joins as f64 / self.elapsed.as_secs_f64()
    }

    pub fn clean(&self) -> bool {
        self.failed == 0 && self.wrong == 0 && self.counts_seen == self.counts_expected
    }
}

/// The whole phase.
pub struct RoomRun {
    pub fanout: FanOut,
    pub joins: Joins,
}

/// What one watcher saw: the counts, in order, and anything else.
struct Watched {
    counts: Vec<i64>,
    other: u64,
}

async fn watch_room(mut ws: Ws, mut stop: watch::Receiver<bool>) -> Watched {
    let mut w = Watched {
        counts: Vec::new(),
        other: 0,
    };
    loop {
        let msg = tokio::select! {
            _ = stop.changed() => break,
            msg = ws.next() => msg,
        };
        match msg {
            Some(Ok(Message::Text(t))) => match serde_json::from_str::<Value>(&t) {
                Ok(v) if v["type"] == "member_count" => {
                    w.counts.push(v["count"].as_i64().unwrap_or(-1))
                }
                _ => w.other += 1,
            },
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => {}
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    w
}

/// The phase: fan-out to `members` sockets, then `joins` joins watched by `watchers`.
pub async fn run(
    app: &App,
    port: u16,
    members: usize,
    watchers: usize,
    joins: usize,
    messages: usize,
    timeout: Duration,
) -> RoomRun {
    let room = seed::ROOM_CHAT;
    let fanout = fanout::run_in(
        app,
        port,
        room,
        members,
        messages,
        timeout,
        fanout::Via::ChatSockets,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Watchers: the fan-out users after the members (not members of the room).
    let mut sockets = Vec::new();
    for k in members..members + watchers {
        let token = seed::token(seed::fanout_user(k));
        sockets.push(app.ws(room, &token, "").await);
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let listeners: Vec<_> = sockets
        .into_iter()
        .map(|ws| tokio::spawn(watch_room(ws, stop_rx.clone())))
        .collect();

    let gate = Arc::new(Semaphore::new(JOIN_PARALLEL));
    let start = Instant::now();
    let tasks: Vec<_> = (0..joins)
        .map(|j| {
            let (app, gate) = (app.clone(), gate.clone());
            let token = seed::token(seed::fanout_user(members + watchers + j));
            tokio::spawn(async move {
                let _permit = gate.acquire().await.expect("semaphore");
                let at = Instant::now();
                let path = format!("/messages/api/rooms/{room}/join/");
                let r = app.post(&path, &token, json!({})).await;
                (
                    r.status.as_u16(),
                    at.elapsed(),
                    r.body["member_count"].as_i64(),
                )
            })
        })
        .collect();
    let mut out = Joins {
        watchers,
        joins,
        failed: 0,
        elapsed: Duration::ZERO,
        latency: Samples::default(),
        counts_seen: 0,
        counts_expected: (watchers * joins) as u64,
        wrong: 0,
        final_count: (members + joins) as i64,
    };
    for t in tasks {
        let (status, took, _) = t.await.expect("join task");
        out.latency.push(took);
        if status != 200 {
            out.failed += 1;
        }
    }
    out.elapsed = start.elapsed();
    // Wait for the last counts (bounded), then stop the watchers.
    let deadline = Instant::now() + timeout;
    tokio::time::sleep(Duration::from_millis(500)).await;
    while Instant::now() < deadline && out.failed == 0 {
        let detail = app
            .get(
                &format!("/messages/api/rooms/{room}/"),
                &seed::token(seed::fanout_user(0)),
            )
            .await;
        if detail.body["member_count"].as_i64() == Some(out.final_count) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop_tx.send(true);
    for l in listeners {
        let w = l.await.expect("watcher");
        out.counts_seen += w.counts.len() as u64;
        let mut sorted = w.counts.clone();
        sorted.sort_unstable();
        sorted.dedup();
        let ok = w.other == 0
            && sorted.len() == w.counts.len()
            && w.counts.last() == Some(&out.final_count);
        if !ok {
            out.wrong += 1;
        }
    }
    RoomRun { fanout, joins: out }
}
