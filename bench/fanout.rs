//! WebSocket fan-out: `r` members of one group chat each hold a socket — the chat's own
//! (`/messages/api/chats/{id}/ws/`) or their user stream (`/messages/api/ws/`, issue 12) —;
//! one of them sends `messages` messages through REST, one after another (the next POST when
//! the previous one answered). Every socket should receive every `new_message` exactly once,
//! in `seq` order; each delivery's latency is the time from the start of its POST to its
//! arrival on that socket.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{App, Ws};
use crate::cpu::Cpu;
use crate::seed;
use crate::stats::Samples;

/// Sockets opened at once while connecting.
const CONNECT_PARALLEL: usize = 16;
/// After the last expected delivery (or the deadline), how long sockets keep listening for
/// duplicates.
const GRACE: Duration = Duration::from_millis(500);

/// Which sockets the members hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The chat's socket (its room sends to every socket itself).
    ChatSockets,
    /// Each member's user stream (the room calls each member's UserStream object).
    UserStreams,
}

impl Via {
    pub fn label(self) -> &'static str {
        match self {
            Via::ChatSockets => "chat sockets",
            Via::UserStreams => "user streams",
        }
    }

    /// One letter, for the client_id prefix and `BENCH_LATENCY_CSV`.
    fn letter(self) -> &'static str {
        match self {
            Via::ChatSockets => "c",
            Via::UserStreams => "u",
        }
    }
}

/// What one fan-out run measured.
pub struct FanOut {
    pub via: Via,
    pub receivers: usize,
    pub connect: Duration,
    pub expected: u64,
    /// Distinct (socket, message) deliveries.
    pub delivered: u64,
    pub duplicates: u64,
    /// Frames whose seq was not the previous frame's + 1 on that socket.
    pub out_of_order: u64,
    pub send_errors: u64,
    /// Messages sent.
    pub sent: usize,
    /// First POST start to last delivery.
    pub elapsed: Duration,
    pub latency: Samples,
    pub post_latency: Samples,
    /// The message whose last delivery took longest (index, ms from its send): one slow
    /// message out of 100 delays 1 % of the deliveries, which is exactly what p99 sees.
    pub slowest: Option<(usize, f64)>,
    /// Each message's POST: (answer ms, D1 ms from its Server-Timing), to tell a slow write
    /// from a slow fan-out.
    pub posts: Vec<(f64, f64)>,
    /// CPU time the worker's processes used from the first send to the last delivery.
    pub cpu: Cpu,
    /// User-stream objects the room called per message (`Server-Timing: streams`).
    pub stream_calls: Vec<u32>,
}

impl FanOut {
    pub fn lost(&self) -> u64 {
        self.expected - self.delivered
    }

    pub fn delivered_per_sec(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64()
    }

    /// CPU milliseconds per message sent (the POST and its fan-out): (worker runtime,
    /// wrangler's proxy, client).
    pub fn cpu_ms_per_message(&self) -> (f64, f64, f64) {
        self.cpu.per(self.sent as u64)
    }

    /// Durable Object calls per message: the chat's room, and the user streams it called.
    pub fn do_calls_per_message(&self) -> f64 {
        let n = self.stream_calls.len().max(1) as f64;
        1.0 + self.stream_calls.iter().map(|&c| c as f64).sum::<f64>() / n
    }

    pub fn clean(&self) -> bool {
        self.lost() == 0 && self.duplicates == 0 && self.out_of_order == 0 && self.send_errors == 0
    }
}

/// What one socket saw: per message index, when it first arrived.
struct Seen {
    arrived: Vec<Option<Instant>>,
    duplicates: u64,
    out_of_order: u64,
}

/// The client_id prefix of a run: unique per run, since a repeated client_id is the same
/// message (a run repeated in one chat would send nothing new).
fn prefix(receivers: usize, via: Via) -> String {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    format!(
        "fanout-{}-{run}-{}{receivers}-",
        std::process::id(),
        via.letter()
    )
}

/// Reads one socket until `stop`; counts each message of this run by its client_id.
async fn listen(
    mut ws: Ws,
    chat: i64,
    prefix: String,
    messages: usize,
    delivered: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> Seen {
    let mut seen = Seen {
        arrived: vec![None; messages],
        duplicates: 0,
        out_of_order: 0,
    };
    let mut last_seq: Option<i64> = None;
    loop {
        let msg = tokio::select! {
            _ = stop.changed() => break,
            msg = ws.next() => msg,
        };
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => continue,
        };
        let now = Instant::now();
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        // A user stream carries every chat of its user: only the fan-out chat counts.
        if v.get("chat_id").is_some_and(|c| c.as_i64() != Some(chat)) {
            continue;
        }
        if let Some(seq) = v["seq"].as_i64() {
            if last_seq.is_some_and(|l| seq != l + 1) {
                seen.out_of_order += 1;
            }
            last_seq = Some(seq);
        }
        if v["type"] != "new_message" {
            continue;
        }
        let index = v["message"]["client_id"]
            .as_str()
            .and_then(|c| c.strip_prefix(&prefix))
            .and_then(|i| i.parse::<usize>().ok())
            .filter(|i| *i < messages);
        let Some(i) = index else { continue };
        match seen.arrived[i] {
            Some(_) => seen.duplicates += 1,
            None => {
                seen.arrived[i] = Some(now);
                delivered.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    seen
}

/// Durable Object calls per message when no member of the fan-out chat of `receivers` has a
/// socket open: `messages` sends, each reporting the user streams its room called.
pub async fn offline_calls(app: &App, receivers: usize, messages: usize) -> f64 {
    let chat = seed::fanout_chat(receivers);
    let sender = seed::token(seed::fanout_user(0));
    let path = format!("/messages/api/chats/{chat}/messages/");
    let mut calls = 0u32;
    for i in 0..messages {
        let body = json!({"content": format!("Nobody is online ({i}).")});
        let resp = app.post(&path, &sender, body).await;
        assert_eq!(resp.status, 201, "offline send: {}", resp.body);
        calls += resp
            .header("server-timing")
            .map_or(0, |v| crate::rest::server_timing_streams(&v));
    }
    1.0 + calls as f64 / messages.max(1) as f64
}

/// Opens the sockets of `chat` for its first `receivers` fan-out members (all must succeed).
async fn connect_all(app: &App, chat: i64, receivers: usize, via: Via) -> Vec<Ws> {
    let gate = Arc::new(Semaphore::new(CONNECT_PARALLEL));
    let mut tasks = Vec::new();
    for k in 0..receivers {
        let (app, gate) = (app.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.expect("semaphore");
            let token = seed::token(seed::fanout_user(k));
            let open = async {
                match via {
                    Via::ChatSockets => app.ws(chat, &token, "").await,
                    Via::UserStreams => app
                        .ws_with(
                            "/messages/api/ws/",
                            &[("Authorization", format!("Bearer {token}"))],
                        )
                        .await
                        .unwrap_or_else(|e| panic!("user stream {k} refused: {e:?}")),
                }
            };
            tokio::time::timeout(Duration::from_secs(30), open)
                .await
                .unwrap_or_else(|_| panic!("socket {k} of chat {chat} not open within 30 s"))
        }));
    }
    let mut sockets = Vec::new();
    for t in tasks {
        sockets.push(t.await.expect("connect task"));
    }
    sockets
}

/// One run: connect, send, account for every delivery, close. Bounded by `timeout` from the
/// first send.
pub async fn run(
    app: &App,
    port: u16,
    receivers: usize,
    messages: usize,
    timeout: Duration,
    via: Via,
) -> FanOut {
    let chat = seed::fanout_chat(receivers);
    run_in(app, port, chat, receivers, messages, timeout, via).await
}

/// `run` in `chat`, whose members include the first `receivers` fan-out users (a room's too).
pub async fn run_in(
    app: &App,
    port: u16,
    chat: i64,
    receivers: usize,
    messages: usize,
    timeout: Duration,
    via: Via,
) -> FanOut {
    let t0 = Instant::now();
    let sockets = connect_all(app, chat, receivers, via).await;
    let connect = t0.elapsed();

    let delivered = Arc::new(AtomicU64::new(0));
    let prefix = prefix(receivers, via);
    let (stop_tx, stop_rx) = watch::channel(false);
    let listeners: Vec<_> = sockets
        .into_iter()
        .map(|ws| {
            tokio::spawn(listen(
                ws,
                chat,
                prefix.clone(),
                messages,
                delivered.clone(),
                stop_rx.clone(),
            ))
        })
        .collect();

    let sender = seed::token(seed::fanout_user(0));
    let path = format!("/messages/api/chats/{chat}/messages/");
    let cpu = Cpu::now(port);
    // `make gc-pauses` times what it sees from here (bench/gc-pauses.mjs).
    eprintln!("bench: sending");
    let start = Instant::now();
    let deadline = start + timeout;
    let mut sent_at = Vec::with_capacity(messages);
    let mut post_latency = Samples::default();
    let mut posts = Vec::with_capacity(messages);
    let mut stream_calls = Vec::with_capacity(messages);
    let mut send_errors = 0;
    for i in 0..messages {
        if Instant::now() >= deadline {
            send_errors += (messages - i) as u64;
            break;
        }
        let body = json!({
            "content": format!("Fan-out message {i} to {receivers} members."),
            "client_id": format!("{prefix}{i}"),
        });
        let at = Instant::now();
        sent_at.push(at);
        let resp = app.post(&path, &sender, body).await;
        post_latency.push(at.elapsed());
        let d1_ms = resp
            .header("server-timing")
            .and_then(|v| crate::rest::server_timing(&v))
            .map_or(f64::NAN, |(_, ms)| ms);
        posts.push((at.elapsed().as_secs_f64() * 1000.0, d1_ms));
        stream_calls.push(
            resp.header("server-timing")
                .map_or(0, |v| crate::rest::server_timing_streams(&v)),
        );
        if resp.status != 201 {
            eprintln!("fan-out send {i} answered {}: {}", resp.status, resp.body);
            send_errors += 1;
        }
    }

    let expected = (messages * receivers) as u64;
    while delivered.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cpu = Cpu::now(port).since(cpu);
    tokio::time::sleep(GRACE).await;
    let _ = stop_tx.send(true);

    let mut out = FanOut {
        via,
        stream_calls,
        receivers,
        connect,
        expected,
        delivered: 0,
        duplicates: 0,
        out_of_order: 0,
        send_errors,
        elapsed: Duration::ZERO,
        latency: Samples::default(),
        post_latency,
        slowest: None,
        posts,
        sent: sent_at.len(),
        cpu,
    };
    let mut last = start;
    // Each message's slowest delivery: the run's slowest message, and BENCH_LATENCY_CSV.
    let mut per_message = vec![0.0f64; sent_at.len()];
    for l in listeners {
        let seen = l.await.expect("listener");
        out.duplicates += seen.duplicates;
        out.out_of_order += seen.out_of_order;
        for (i, arrived) in seen.arrived.iter().enumerate() {
            if let (Some(a), Some(s)) = (arrived, sent_at.get(i)) {
                out.delivered += 1;
                let took = a.saturating_duration_since(*s);
                out.latency.push(took);
                let ms = took.as_secs_f64() * 1000.0;
                per_message[i] = per_message[i].max(ms);
                last = last.max(*a);
            }
        }
    }
    out.elapsed = last - start;
    // (A message nobody received keeps 0.)
    out.slowest = per_message
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, ms)| *ms > 0.0)
        .max_by(|a, b| a.1.total_cmp(&b.1));
    // BENCH_LATENCY_CSV=<file>: each message's POST and slowest delivery, appended per run,
    // to see whether a stall holds one message or several.
    if let Ok(path) = std::env::var("BENCH_LATENCY_CSV") {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .expect("BENCH_LATENCY_CSV: a writable file");
        for (i, slowest) in per_message.iter().enumerate() {
            let (post, _) = out.posts.get(i).copied().unwrap_or((f64::NAN, f64::NAN));
            let at = sent_at[i].duration_since(start).as_secs_f64() * 1000.0;
            let _ = writeln!(
                f,
                "{}{receivers},{i},{at:.1},{post:.1},{slowest:.1}",
                via.letter()
            );
        }
    }
    out
}
