//! The floor under a message's CPU (`make bench-demo`, issue 11): what the runtime spends on
//! the parts any REST send is made of, measured one request at a time on one kept-alive
//! connection, on both workers of the run.
//!
//! A send of ours is an HTTP request into the worker, a call to the chat's room and one D1
//! round trip, then the broadcast. The demo's message is a WebSocket frame its room already
//! holds, then its broadcast. Each part's cost is a difference between two requests that
//! differ by that part only: HTTP into the runtime (the demo's 404: JavaScript, no Durable
//! Object), one Durable Object call (the demo's 404 from its room), our Rust on the way in and
//! out (our 404), one D1 round trip (our `/healthz`), and our whole send with no socket open.

use std::time::Duration;

use reqwest::{Client, Method};
use serde_json::json;

use crate::cpu;

/// Requests per measurement, after `WARM` unmeasured ones.
pub const REQUESTS: usize = 1000;
const WARM: usize = 100;
/// Measurements of each request kind, interleaved; the table takes the median.
pub const RUNS: usize = 3;

/// One kind of request.
struct Probe {
    label: &'static str,
    port: u16,
    method: Method,
    path: String,
    token: Option<String>,
    /// POSTs a fresh message each time.
    send: bool,
    expect: u16,
}

/// A part of a send whose cost the floor isolates.
#[derive(Clone, Copy)]
pub enum Part {
    DurableObject,
    D1,
    /// Our worker's Rust (wasm) on an HTTP request's way in and out, beyond a JS worker's.
    OurRust,
}

/// Runtime CPU per request, by probe label (medians of `RUNS`).
pub struct Floor {
    pub rows: Vec<(&'static str, f64)>,
}

impl Floor {
    fn ms(&self, label: &str) -> f64 {
        self.rows
            .iter()
            .find(|r| r.0 == label)
            .map_or(f64::NAN, |r| r.1)
    }

    /// What one part adds, by the difference of two requests that differ by it alone.
    pub fn part(&self, part: Part) -> f64 {
        match part {
            Part::DurableObject => self.ms(DEMO_DO) - self.ms(DEMO_404),
            Part::D1 => self.ms(OURS_D1) - self.ms(OURS_404),
            Part::OurRust => self.ms(OURS_404) - self.ms(DEMO_404),
        }
    }

    /// The least a REST send of ours can cost by the parts measured, before any broadcast: an
    /// HTTP request into our worker (our 404), one Durable Object call and one D1 round trip.
    pub fn send_floor(&self) -> f64 {
        self.ms(OURS_404) + self.part(Part::DurableObject) + self.part(Part::D1)
    }

    pub fn send(&self) -> f64 {
        self.ms(OURS_SEND)
    }
}

const DEMO_404: &str = "demo: GET /nope (404: HTTP into the runtime, JavaScript)";
const DEMO_DO: &str =
    "demo: GET /api/room/floor/nope (404 from its room: + one Durable Object call)";
const OURS_404: &str = "ours: GET /nope (404: HTTP into the runtime, our Rust)";
const OURS_D1: &str = "ours: GET /healthz (+ one D1 round trip)";
const OURS_SEND: &str = "ours: POST /chats/{id}/messages/ (no socket open: + room call, batch)";

/// Measures every probe `RUNS` times, interleaved. `chat`/`token`: a chat of ours and a member's
/// token, for the send (nobody holds a socket on it now).
pub fn measure(ours: u16, demo: u16, chat: i64, token: &str) -> Floor {
    let probes = [
        probe(DEMO_404, demo, Method::GET, "/nope", 404),
        probe(DEMO_DO, demo, Method::GET, "/api/room/floor/nope", 404),
        probe(OURS_404, ours, Method::GET, "/nope", 404),
        probe(OURS_D1, ours, Method::GET, "/healthz", 200),
        Probe {
            token: Some(token.to_string()),
            send: true,
            ..probe(
                OURS_SEND,
                ours,
                Method::POST,
                &format!("/messages/api/chats/{chat}/messages/"),
                201,
            )
        },
    ];
    let client = Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .expect("http client");
    let rt = tokio::runtime::Handle::current();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); probes.len()];
    for run in 0..RUNS {
        for (i, p) in probes.iter().enumerate() {
            samples[i].push(rt.block_on(one(&client, p, run)));
        }
    }
    Floor {
        rows: probes
            .iter()
            .zip(samples)
            .map(|(p, s)| (p.label, crate::stats::median(s)))
            .collect(),
    }
}

fn probe(label: &'static str, port: u16, method: Method, path: &str, expect: u16) -> Probe {
    Probe {
        label,
        port,
        method,
        path: path.to_string(),
        token: None,
        send: false,
        expect,
    }
}

/// Runtime CPU per request of `p`, in ms, over `REQUESTS` sequential requests.
async fn one(client: &Client, p: &Probe, run: usize) -> f64 {
    let url = format!("http://127.0.0.1:{}{}", p.port, p.path);
    let mut before = Duration::ZERO;
    for i in 0..WARM + REQUESTS {
        if i == WARM {
            before = cpu::of_worker(p.port).runtime;
        }
        let mut req = client.request(p.method.clone(), &url);
        if let Some(t) = &p.token {
            req = req.bearer_auth(t);
        }
        if p.send {
            req = req.json(&json!({ "content": format!("floor {run}.{i}") }));
        }
        let resp = req.send().await.expect("the worker answers");
        let status = resp.status().as_u16();
        let _ = resp.bytes().await;
        assert_eq!(status, p.expect, "{}: status {status}", p.label);
    }
    let spent = cpu::of_worker(p.port).runtime.saturating_sub(before);
    spent.as_secs_f64() * 1000.0 / REQUESTS as f64
}
