//! REST throughput: a closed loop of `concurrency` clients, each sending its next request as
//! soon as the previous one answered, for a fixed time. Every answer's status is checked and
//! its `Server-Timing: d1;desc="N";dur=X` header (D1 round trips and their time) collected.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::cpu::Cpu;
use crate::stats::Samples;

/// One endpoint under load.
#[derive(Clone)]
pub struct Endpoint {
    pub label: &'static str,
    pub method: Method,
    pub path: String,
    pub token: Option<String>,
    /// POSTs get `{"content", "client_id"}` with a fresh client_id each.
    pub send_message: bool,
    pub expect: u16,
    /// A list endpoint: its throughput must reach half the reference's (issue 6).
    pub list: bool,
}

/// What a phase measured.
#[derive(Default)]
pub struct Measured {
    pub ok: u64,
    pub errors: u64,
    /// The first unexpected answer, for the report.
    pub first_error: Option<String>,
    pub elapsed: Duration,
    pub latency: Samples,
    pub d1_trips: f64,
    pub d1_ms: f64,
    /// Answers that carried a Server-Timing header.
    pub timed: u64,
    /// CPU time the worker's processes and the client used during the phase.
    pub cpu: Cpu,
}

impl Measured {
    pub fn merge(&mut self, other: Measured) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
        self.elapsed += other.elapsed;
        self.latency.extend(other.latency);
        self.d1_trips += other.d1_trips;
        self.d1_ms += other.d1_ms;
        self.timed += other.timed;
        self.cpu += other.cpu;
    }

    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// CPU milliseconds per request: (worker runtime, wrangler's proxy, client).
    pub fn cpu_ms_per_request(&self) -> (f64, f64, f64) {
        self.cpu.per(self.ok + self.errors)
    }
}

/// `streams;desc="100"` → 100 (absent: 0): user-stream objects a write's room called.
pub fn server_timing_streams(v: &str) -> u32 {
    v.split(',')
        .find_map(|m| m.trim().strip_prefix("streams;desc="))
        .and_then(|n| n.trim_matches('"').parse().ok())
        .unwrap_or(0)
}

/// `d1;desc="2";dur=3.1` → (2, 3.1).
pub fn server_timing(v: &str) -> Option<(f64, f64)> {
    let d1 = v.split(',').find(|m| m.trim().starts_with("d1;"))?;
    let mut trips = None;
    let mut dur = None;
    for part in d1.split(';').skip(1) {
        let (k, val) = part.trim().split_once('=')?;
        let val = val.trim_matches('"');
        match k {
            "desc" => trips = val.parse().ok(),
            "dur" => dur = val.parse().ok(),
            _ => {}
        }
    }
    Some((trips?, dur?))
}

static SENT: AtomicU64 = AtomicU64::new(0);

/// Runs `ep` with `concurrency` clients for `duration`. Requests still in flight at the end are
/// awaited and counted (the run overshoots by at most one request per client).
pub async fn run(
    http: &reqwest::Client,
    base: &str,
    port: u16,
    ep: &Endpoint,
    concurrency: usize,
    duration: Duration,
) -> Measured {
    let cpu = Cpu::now(port);
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, url, ep) = (http.clone(), format!("{base}{}", ep.path), ep.clone());
        tasks.push(tokio::spawn(async move {
            let mut m = Measured::default();
            while Instant::now() < deadline {
                let mut req = http.request(ep.method.clone(), &url);
                if let Some(t) = &ep.token {
                    req = req.bearer_auth(t);
                }
                if ep.send_message {
                    let n = SENT.fetch_add(1, Ordering::Relaxed);
                    let pid = std::process::id();
                    req = req.json(&json!({
                        "content": format!("Benchmark message {n}: about as long as people write them."),
                        "client_id": format!("bench-{pid}-{n}"),
                    }));
                }
                let t0 = Instant::now();
                let resp = req.send().await;
                let (status, timing, body) = match resp {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let timing = r
                            .headers()
                            .get("server-timing")
                            .and_then(|v| v.to_str().ok())
                            .and_then(server_timing);
                        // The body is part of the answer: read it all before stopping the clock.
                        let body = r.bytes().await.map(|b| b.len()).map_err(|e| e.to_string());
                        (Some(status), timing, body)
                    }
                    Err(e) => (None, None, Err(e.to_string())),
                };
                let took = t0.elapsed();
                match (status, &body) {
                    (Some(s), Ok(_)) if s == ep.expect => {
                        m.ok += 1;
                        m.latency.push(took);
                        if let Some((trips, ms)) = timing {
                            m.d1_trips += trips;
                            m.d1_ms += ms;
                            m.timed += 1;
                        }
                    }
                    _ => {
                        m.errors += 1;
                        if m.first_error.is_none() {
                            m.first_error = Some(format!("{} {}: {status:?} {body:?}", ep.method, ep.path));
                        }
                    }
                }
            }
            m
        }));
    }
    let mut total = Measured::default();
    for t in tasks {
        total.merge(t.await.expect("load task"));
    }
    total.elapsed = start.elapsed();
    total.cpu = Cpu::now(port).since(cpu);
    total
}

/// A few sequential requests so the isolate, D1 and connections are warm before measuring.
pub async fn warm_up(http: &reqwest::Client, base: &str, port: u16, ep: &Endpoint) {
    let mut w = ep.clone();
    w.label = "warm-up";
    let m = run(http, base, port, &w, 2, Duration::from_millis(500)).await;
    if m.errors > 0 {
        panic!(
            "warm-up of {} failed: {}",
            ep.label,
            m.first_error.unwrap_or_default()
        );
    }
}
