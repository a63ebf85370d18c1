//! `make bench`: REST throughput next to the no-op route, D1 cost by chat size, WebSocket
//! fan-out and bundle size, measured against a local worker (`wrangler dev`, its own state folder and free ports on
//! 127.0.0.1) and printed as one table. Settings and method: bench/README.md.
//!
//! Every phase is bounded (a fixed duration or message count with a timeout); a lost,
//! duplicated or reordered WebSocket delivery or a failed request fails the run (exit 1)
//! after the table is printed.

#[path = "../tests/common/mod.rs"]
mod common;

mod bundle;
mod chat_size;
mod cpu;
mod demo;
mod fanout;
mod floor;
mod report;
mod rest;
mod rooms;
mod seed;
mod stats;

use std::process::Command;
use std::time::Duration;

use reqwest::Method;

use common::{App, Worker};
use rest::{Endpoint, Measured};

/// The run's settings, each overridable by an environment variable (bench/README.md).
struct Config {
    concurrency: usize,
    seconds: f64,
    rounds: usize,
    receivers: Vec<usize>,
    messages: usize,
    /// Runs each way at 100 receivers (the targets' size), interleaved.
    pair_runs: usize,
    fanout_timeout: Duration,
    /// The rooms phase: members with sockets open, watchers, joins (0 members: no phase).
    room_members: usize,
    room_watchers: usize,
    room_joins: usize,
    /// Messages in the chats of the chat-size phase (empty: no phase).
    chat_sizes: Vec<i64>,
    chat_size_requests: usize,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not valid")),
        Err(_) => default,
    }
}

impl Config {
    fn rest_title(&self) -> String {
        format!(
            "{} clients in a closed loop, {} round(s) of {} s per endpoint, interleaved",
            self.concurrency, self.rounds, self.seconds
        )
    }

    fn from_env() -> Config {
        let receivers = std::env::var("BENCH_RECEIVERS").unwrap_or_else(|_| "10,100,500".into());
        let chat_sizes =
            std::env::var("BENCH_CHAT_SIZES").unwrap_or_else(|_| "200,20000,200000".into());
        // BENCH_ROUNDS=0 skips the REST phases, BENCH_RECEIVERS= (empty) the fan-out,
        // BENCH_CHAT_SIZES= the chat-size phase.
        Config {
            concurrency: env_or("BENCH_CONCURRENCY", 10),
            seconds: env_or("BENCH_SECONDS", 2.0),
            rounds: env_or("BENCH_ROUNDS", 6),
            receivers: receivers
                .split(',')
                .filter(|r| !r.trim().is_empty())
                .map(|r| r.trim().parse().expect("BENCH_RECEIVERS: numbers"))
                .collect(),
            messages: env_or("BENCH_MESSAGES", 100),
            pair_runs: env_or("BENCH_PAIR_RUNS", 3).max(1),
            fanout_timeout: Duration::from_secs(env_or("BENCH_FANOUT_TIMEOUT", 60)),
            room_members: env_or("BENCH_ROOM_MEMBERS", 1000),
            room_watchers: env_or("BENCH_ROOM_WATCHERS", 100),
            room_joins: env_or("BENCH_ROOM_JOINS", 200),
            chat_sizes: chat_sizes
                .split(',')
                .filter(|r| !r.trim().is_empty())
                .map(|r| r.trim().parse().expect("BENCH_CHAT_SIZES: numbers"))
                .collect(),
            chat_size_requests: env_or("BENCH_CHAT_SIZE_REQUESTS", 50),
        }
    }
}

/// The first line `cmd --version` prints, or "?".
fn version(cmd: &str) -> String {
    Command::new(cmd)
        .arg("--version")
        .env("PATH", common::tool_path())
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores ({cpu})")
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The REST phases; the first is the reference every ratio is taken against.
fn endpoints(poll_cursor: &str) -> Vec<Endpoint> {
    let token = Some(seed::token(seed::READER));
    let chat = seed::BIG_CHAT;
    let get = |label, path: String| Endpoint {
        label,
        method: Method::GET,
        path,
        token: token.clone(),
        send_message: false,
        expect: 200,
        list: true,
    };
    vec![
        Endpoint {
            token: None,
            list: false,
            ..get("GET /healthz (no-op)", "/healthz".into())
        },
        // The floor of a request that never reaches D1 (routing, the 404 JSON): not a target,
        // it tells the cost of a D1 round trip apart from the rest.
        Endpoint {
            token: None,
            expect: 404,
            list: false,
            ..get("GET /nope → 404 (no D1)", "/nope".into())
        },
        get("GET /messages/api/chats/", "/messages/api/chats/".into()),
        get(
            "GET /messages/api/chats/{id}/messages/",
            format!("/messages/api/chats/{chat}/messages/"),
        ),
        // A user-stream poll with nothing new (a client polling every 3 s, issue 12).
        get(
            "GET /messages/api/events/?after=<now>",
            format!("/messages/api/events/?after={poll_cursor}"),
        ),
        Endpoint {
            method: Method::POST,
            send_message: true,
            expect: 201,
            list: false,
            ..get(
                "POST /messages/api/chats/{id}/messages/",
                format!("/messages/api/chats/{}/messages/", seed::SEND_CHAT),
            )
        },
    ]
}

/// The user-stream poll of the REST phases.
const POLL_PATH: &str = "/messages/api/events/";

/// The reader's newest stream cursor.
async fn poll_cursor(app: &App) -> String {
    app.get(POLL_PATH, &seed::token(seed::READER)).await.body["cursor"]
        .as_str()
        .expect("a stream cursor")
        .to_string()
}

/// Checks that the seeded pages are full before measuring them.
async fn check_pages(app: &App) {
    let token = seed::token(seed::READER);
    let chats = app.get("/messages/api/chats/", &token).await;
    let n = chats.body["results"].as_array().map_or(0, Vec::len);
    assert!(
        chats.status == 200 && n == 10,
        "chat list page holds {n} chats: {:?}",
        chats.body
    );
    let path = format!("/messages/api/chats/{}/messages/", seed::BIG_CHAT);
    let msgs = app.get(&path, &token).await;
    let n = msgs.body["results"].as_array().map_or(0, Vec::len);
    assert!(
        msgs.status == 200 && n == 50,
        "message page holds {n} messages: {:?}",
        msgs.body
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if demo::enabled() {
        // Our worker beside Cloudflare's chat demo (issue 11): its own tables, nothing else.
        let code = tokio::task::spawn_blocking(demo::run)
            .await
            .expect("bench-demo");
        std::process::exit(code);
    }
    let cfg = Config::from_env();
    let state = common::root().join("target/bench-state");
    println!("# Edge Messaging benchmark\n");
    println!(
        "- machine: {}, load average at start {}",
        machine(),
        load_average()
    );
    println!(
        "- {} · wrangler {} · {}",
        version("rustc"),
        version("wrangler"),
        version("workerd")
    );

    eprintln!("bench: measuring the bundle (wrangler deploy --dry-run) ...");
    let b = bundle::measure(&state.join("bundle"));

    eprintln!("bench: starting the worker (seeding users, chats and messages) ...");
    let room_others = cfg.room_watchers + cfg.room_joins;
    let seed_sql = seed::sql(&cfg.receivers, cfg.room_members, room_others)
        + &chat_size::seed_sql(&cfg.chat_sizes);
    let worker = {
        let state = state.clone();
        tokio::task::spawn_blocking(move || Worker::start_under(&state, "bench", &[], &seed_sql))
            .await
            .expect("worker starts")
    };
    // `make gc-pauses` attaches to the runtime here (bench/gc-pauses.mjs).
    eprintln!(
        "bench: the runtime's inspector is on port {}",
        worker.inspector
    );
    let mut app = App::new(&worker);
    app.http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(cfg.concurrency * 2)
        .build()
        .expect("http client");
    check_pages(&app).await;
    let cursor = poll_cursor(&app).await;
    let mut eps = endpoints(&cursor);
    let mut results: Vec<Measured> = eps.iter().map(|_| Measured::default()).collect();
    for ep in &eps {
        rest::warm_up(&app.http, &app.base, worker.port, ep).await;
    }
    let phase = Duration::from_secs_f64(cfg.seconds);
    for round in 1..=cfg.rounds {
        for (ep, total) in eps.iter_mut().zip(results.iter_mut()) {
            eprintln!("bench: round {round}: {} ...", ep.label);
            if ep.path.starts_with(POLL_PATH) {
                // A client polling every few seconds: its cursor is the newest (the sends of
                // the previous round would make an old one stale, and then 410).
                ep.path = format!("{POLL_PATH}?after={}", poll_cursor(&app).await);
            }
            let m = rest::run(
                &app.http,
                &app.base,
                worker.port,
                ep,
                cfg.concurrency,
                phase,
            )
            .await;
            total.merge(m);
        }
    }

    let mut chat = None;
    if !cfg.chat_sizes.is_empty() {
        eprintln!(
            "bench: chat size {:?}: {} requests per endpoint and size ...",
            cfg.chat_sizes, cfg.chat_size_requests
        );
        chat = Some(chat_size::run(&app, &cfg.chat_sizes, cfg.chat_size_requests).await);
    }

    // Durable Object calls per message with nobody online: the room's only.
    let offline_calls = match cfg.receivers.first() {
        Some(&r) => Some(fanout::offline_calls(&app, r, 20).await),
        None => None,
    };
    let mut runs = Vec::new();
    for &r in &cfg.receivers {
        // The targets' size runs each way several times, interleaved (report.rs says why).
        let pairs = if r == 100 { cfg.pair_runs } else { 1 };
        for via in (0..pairs).flat_map(|_| [fanout::Via::ChatSockets, fanout::Via::UserStreams]) {
            eprintln!(
                "bench: fan-out to {r} {}, {} messages ...",
                via.label(),
                cfg.messages
            );
            runs.push(
                fanout::run(&app, worker.port, r, cfg.messages, cfg.fanout_timeout, via).await,
            );
            // Let the room (and the streams) process the closing sockets before the next phase.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    let mut room = None;
    if cfg.room_members > 0 {
        eprintln!(
            "bench: room of {} members with sockets, {} messages; then {} joins watched by {} ...",
            cfg.room_members, cfg.messages, cfg.room_joins, cfg.room_watchers
        );
        room = Some(
            rooms::run(
                &app,
                worker.port,
                cfg.room_members,
                cfg.room_watchers,
                cfg.room_joins,
                cfg.messages,
                cfg.fanout_timeout,
            )
            .await,
        );
    }

    if cfg.rounds > 0 {
        report::rest(&cfg.rest_title(), &eps, &mut results);
    } else {
        results.clear();
    }
    if let Some(c) = chat.as_mut() {
        c.report();
    }
    if !runs.is_empty() {
        report::fanout(cfg.messages, &mut runs);
    }
    if let Some(calls) = offline_calls {
        println!(
            "\nDurable Object calls per message with no member online: {calls:.1} (the chat's room)"
        );
    }
    if let Some(room) = room.as_mut() {
        report::room(cfg.messages, room);
    }
    report::bundle(&b);
    println!("\nload average at end {}", load_average());
    report::targets(&eps, &mut results, chat.as_ref(), &mut runs, &b);
    println!(
        "\nworker state and log: {}",
        worker.state.join("worker.log").display()
    );
    let mut failures = report::failures(&eps, &results, &runs);
    if let Some(room) = &room {
        failures.extend(report::room_failures(room));
    }
    failures.extend(chat.iter().flat_map(chat_size::ChatSize::failures));
    if !failures.is_empty() {
        eprintln!("\nBENCH FAILED:");
        for f in &failures {
            eprintln!("  - {f}");
        }
        std::process::exit(1);
    }
}
