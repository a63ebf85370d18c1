//! `make bench`: REST throughput next to the no-op route, WebSocket fan-out and bundle size,
//! measured against a local worker (`wrangler dev`, its own state folder and free ports on
//! 127.0.0.1) and printed as one table. Settings and method: bench/README.md.
//!
//! Every phase is bounded (a fixed duration or message count with a timeout); a lost,
//! duplicated or reordered WebSocket delivery or a failed request fails the run (exit 1)
//! after the table is printed.

#[path = "../tests/common/mod.rs"]
mod common;

mod bundle;
mod cpu;
mod fanout;
mod rest;
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
    fanout_timeout: Duration,
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
    fn from_env() -> Config {
        let receivers = std::env::var("BENCH_RECEIVERS").unwrap_or_else(|_| "10,100,500".into());
        // BENCH_ROUNDS=0 skips the REST phases, BENCH_RECEIVERS= (empty) the fan-out.
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
            fanout_timeout: Duration::from_secs(env_or("BENCH_FANOUT_TIMEOUT", 60)),
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

fn endpoints() -> Vec<Endpoint> {
    let token = Some(seed::token(seed::READER));
    let chat = seed::BIG_CHAT;
    let ep = |label, method, path: String, expect| Endpoint {
        label,
        method,
        path,
        token: token.clone(),
        send_message: false,
        expect,
    };
    vec![
        Endpoint {
            token: None,
            ..ep("GET /healthz (no-op)", Method::GET, "/healthz".into(), 200)
        },
        // Not a target: the floor of a request that never reaches D1 (routing, 404 JSON).
        Endpoint {
            token: None,
            ..ep("GET /nope → 404 (no D1)", Method::GET, "/nope".into(), 404)
        },
        ep(
            "GET /messages/api/chats/",
            Method::GET,
            "/messages/api/chats/".into(),
            200,
        ),
        ep(
            "GET /messages/api/chats/{id}/messages/",
            Method::GET,
            format!("/messages/api/chats/{chat}/messages/"),
            200,
        ),
        Endpoint {
            send_message: true,
            ..ep(
                "POST /messages/api/chats/{id}/messages/",
                Method::POST,
                format!("/messages/api/chats/{chat}/messages/"),
                201,
            )
        },
    ]
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

fn ms(v: f64) -> String {
    format!("{v:.1}")
}

fn print_rest(cfg: &Config, eps: &[Endpoint], results: &mut [Measured]) {
    println!(
        "\n### REST: {} clients in a closed loop, {} round(s) of {} s per endpoint, interleaved\n",
        cfg.concurrency, cfg.rounds, cfg.seconds
    );
    println!("| endpoint | requests | req/s | p50 ms | p99 ms | vs /healthz | by CPU | D1 round trips | D1 ms | CPU ms/req worker / proxy / client | errors |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let base = results[0].rps();
    // The no-op route's worker + proxy CPU per request over an endpoint's: the throughput
    // ratio the endpoints would have if the worker had the cores to itself.
    let base_cpu = {
        let c = results[0].cpu_ms_per_request();
        c.0 + c.1
    };
    for (ep, m) in eps.iter().zip(results.iter_mut()) {
        let timed = m.timed.max(1) as f64;
        let cpu = m.cpu_ms_per_request();
        println!(
            "| `{}` | {} | {:.0} | {} | {} | {:.0} % | {:.0} % | {:.2} | {:.2} | {:.2} / {:.2} / {:.2} | {} |",
            ep.label,
            m.ok,
            m.rps(),
            ms(m.latency.quantile_ms(0.50)),
            ms(m.latency.quantile_ms(0.99)),
            100.0 * m.rps() / base,
            100.0 * base_cpu / (cpu.0 + cpu.1),
            m.d1_trips / timed,
            m.d1_ms / timed,
            cpu.0,
            cpu.1,
            cpu.2,
            m.errors
        );
    }
}

fn print_fanout(cfg: &Config, runs: &mut [fanout::FanOut]) {
    println!(
        "\n### WebSocket fan-out: one group chat, one member sends {} messages by REST, one after another\n",
        cfg.messages
    );
    println!("| receivers | connect s | delivered / expected | lost | duplicated | out of order | deliveries/s | p50 ms | p99 ms | POST p50 ms | CPU ms/msg worker / proxy / client |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for f in runs.iter_mut() {
        let cpu = f.cpu_ms_per_message();
        println!(
            "| {} | {:.1} | {} / {} | {} | {} | {} | {:.0} | {} | {} | {} | {:.2} / {:.2} / {:.2} |",
            f.receivers,
            f.connect.as_secs_f64(),
            f.delivered,
            f.expected,
            f.lost(),
            f.duplicates,
            f.out_of_order,
            f.delivered_per_sec(),
            ms(f.latency.quantile_ms(0.50)),
            ms(f.latency.quantile_ms(0.99)),
            ms(f.post_latency.quantile_ms(0.50)),
            cpu.0,
            cpu.1,
            cpu.2,
        );
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
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
    let seed_sql = seed::sql(&cfg.receivers);
    let worker = {
        let state = state.clone();
        tokio::task::spawn_blocking(move || Worker::start_under(&state, "bench", &[], &seed_sql))
            .await
            .expect("worker starts")
    };
    let mut app = App::new(&worker);
    app.http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(cfg.concurrency * 2)
        .build()
        .expect("http client");
    check_pages(&app).await;

    let eps = endpoints();
    let mut results: Vec<Measured> = eps.iter().map(|_| Measured::default()).collect();
    for ep in &eps {
        rest::warm_up(&app.http, &app.base, worker.port, ep).await;
    }
    let phase = Duration::from_secs_f64(cfg.seconds);
    for round in 1..=cfg.rounds {
        for (ep, total) in eps.iter().zip(results.iter_mut()) {
            eprintln!("bench: round {round}: {} ...", ep.label);
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

    let mut runs = Vec::new();
    for &r in &cfg.receivers {
        eprintln!(
            "bench: fan-out to {r} sockets, {} messages ...",
            cfg.messages
        );
        runs.push(fanout::run(&app, worker.port, r, cfg.messages, cfg.fanout_timeout).await);
        // Let the room process the closing sockets before the next phase.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    if cfg.rounds > 0 {
        print_rest(&cfg, &eps, &mut results);
    }
    if !runs.is_empty() {
        print_fanout(&cfg, &mut runs);
    }
    println!("\n### Bundle (`wrangler deploy --dry-run`)\n");
    println!("| total upload | gzip | of which wasm |");
    println!("|---:|---:|---:|");
    println!(
        "| {:.2} KiB | {:.2} KiB | {:.2} KiB |",
        b.total_kib,
        b.gzip_kib,
        b.wasm_bytes as f64 / 1024.0
    );
    println!("\nload average at end {}", load_average());

    println!("\n### Targets\n");
    let base = results[0].rps();
    let measured = if cfg.rounds > 0 { 2 } else { 0 };
    for (ep, m) in eps.iter().zip(&results).skip(2).take(measured) {
        let ratio = m.rps() / base;
        println!(
            "- `{}` ≥ 50 % of `/healthz` req/s: {} ({:.0} %)",
            ep.label,
            verdict(ratio >= 0.5),
            100.0 * ratio
        );
    }
    for f in runs.iter_mut().filter(|f| f.receivers == 100) {
        let p99 = f.latency.quantile_ms(0.99);
        println!(
            "- fan-out p99 ≤ 50 ms at 100 receivers, nothing lost: {} (p99 {} ms, {} lost)",
            verdict(p99 <= 50.0 && f.clean()),
            ms(p99),
            f.lost()
        );
    }
    println!(
        "- bundle ≤ 1 MiB gzip: {} ({:.0} KiB)",
        verdict(b.gzip_kib <= 1024.0),
        b.gzip_kib
    );

    let mut failures = Vec::new();
    for (ep, m) in eps.iter().zip(&results) {
        if m.errors > 0 {
            failures.push(format!(
                "{}: {} failed requests, first: {}",
                ep.label,
                m.errors,
                m.first_error.clone().unwrap_or_default()
            ));
        }
    }
    for f in &runs {
        if !f.clean() {
            failures.push(format!(
                "fan-out to {}: {} of {} deliveries lost, {} duplicated, {} out of order, {} sends failed",
                f.receivers,
                f.lost(),
                f.expected,
                f.duplicates,
                f.out_of_order,
                f.send_errors
            ));
        }
    }
    println!(
        "\nworker state and log: {}",
        worker.state.join("worker.log").display()
    );
    if !failures.is_empty() {
        eprintln!("\nBENCH FAILED:");
        for f in &failures {
            eprintln!("  - {f}");
        }
        std::process::exit(1);
    }
}
