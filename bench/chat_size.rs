//! Chat size (issue 18): what one request costs in D1 — time and rows read and written, from
//! its `Server-Timing` — in a chat of 200, 20,000 and 200,000 messages, for the message pages,
//! the chat list where that chat is all unread, and a send. The target is flat: the biggest
//! chat within 1.5× of the smallest.
//!
//! Each size has its own chat (two senders, a reader who has read none of it) and reader, whose
//! list holds that chat and nine small ones (a full page, as in the REST phases). The messages
//! are inserted by SQL before the worker starts (`tests/common/bulk.rs`: one statement per chat,
//! through the insert trigger every send fires). Requests are sequential, one at a time, and
//! interleaved: each round asks every endpoint of every size once, so a neighbour's burst on
//! the shared machine spreads over all of them.

use std::time::Instant;

use reqwest::Method;
use serde_json::json;

use crate::common::{bulk, d1_cost, App, D1Cost};
use crate::stats::Samples;

/// Reader of size `i` is user `USER_BASE + i`; the two senders come after the readers.
const USER_BASE: i64 = 30_000;
const SENDERS: [i64; 2] = [USER_BASE + 100, USER_BASE + 101];
/// Size `i`'s chat is `CHAT_BASE + 10 i`; its reader's small chats follow it.
const CHAT_BASE: i64 = 300_000;
const SMALL_CHATS: i64 = 9;

fn token(user: i64) -> String {
    format!("bench-chat-size-{user}")
}

fn chat(i: usize) -> i64 {
    CHAT_BASE + 10 * i as i64
}

fn reader(i: usize) -> i64 {
    USER_BASE + i as i64
}

/// The SQL that builds a chat of each of `sizes` (in messages) and its reader.
pub fn seed_sql(sizes: &[i64]) -> String {
    let mut sql = String::new();
    for (k, s) in SENDERS.iter().enumerate() {
        sql += &bulk::user(*s, &format!("chatsizesender{k}"), &token(*s));
    }
    for (i, &size) in sizes.iter().enumerate() {
        let r = reader(i);
        sql += &bulk::user(r, &format!("chatsizereader{i}"), &token(r));
        for j in 1..=SMALL_CHATS {
            sql += &bulk::group(chat(i) + j, "Small", &[SENDERS[0], r]);
            sql += &bulk::messages(chat(i) + j, &SENDERS[..1], 5);
        }
        // The big one last: the newest activity, first in the reader's list.
        sql += &bulk::group(
            chat(i),
            &format!("{size} messages"),
            &[SENDERS[0], SENDERS[1], r],
        );
        sql += &bulk::messages(chat(i), &SENDERS, size);
    }
    sql
}

/// One endpoint of one size.
struct Probe {
    size: i64,
    label: &'static str,
    method: Method,
    path: String,
    token: String,
    latency: Samples,
    d1: Vec<D1Cost>,
    errors: u64,
    first_error: Option<String>,
}

/// What the phase measured, for the report.
pub struct ChatSize {
    pub sizes: Vec<i64>,
    pub requests: usize,
    probes: Vec<Probe>,
}

/// The endpoints, in the order the report lists them.
const LABELS: [&str; 4] = [
    "`GET /chats/{id}/messages/` (newest page)",
    "`GET /chats/{id}/messages/?before=` (middle)",
    "`GET /chats/` (the chat all unread)",
    "`POST /chats/{id}/messages/`",
];

/// Asks every endpoint of every size `requests` times (after one warm-up each).
pub async fn run(app: &App, sizes: &[i64], requests: usize) -> ChatSize {
    let mut probes = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        // The middle message's id: the chat's messages were inserted one after another.
        let newest = app
            .get(
                &format!("/messages/api/chats/{}/messages/", chat(i)),
                &token(reader(i)),
            )
            .await;
        let newest = newest.body["results"][0]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("chat of {size}: {:?}", newest.body));
        let get = |label, path: String| Probe {
            size,
            label,
            method: Method::GET,
            path,
            token: token(reader(i)),
            latency: Samples::default(),
            d1: Vec::new(),
            errors: 0,
            first_error: None,
        };
        probes.push(get(
            LABELS[0],
            format!("/messages/api/chats/{}/messages/", chat(i)),
        ));
        probes.push(get(
            LABELS[1],
            format!(
                "/messages/api/chats/{}/messages/?before={}",
                chat(i),
                newest - size / 2
            ),
        ));
        probes.push(get(LABELS[2], "/messages/api/chats/".into()));
        probes.push(Probe {
            method: Method::POST,
            token: token(SENDERS[1]),
            ..get(
                LABELS[3],
                format!("/messages/api/chats/{}/messages/", chat(i)),
            )
        });
    }
    for round in 0..=requests {
        for p in probes.iter_mut() {
            let mut req = app.http.request(p.method.clone(), app.url(&p.path));
            req = req.bearer_auth(&p.token);
            if p.method == Method::POST {
                req = req.json(&json!({"content": format!("Chat-size probe {round}")}));
            }
            let t0 = Instant::now();
            let resp = req.send().await;
            let (status, timing) = match resp {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let timing = r
                        .headers()
                        .get("server-timing")
                        .and_then(|v| v.to_str().ok())
                        .and_then(d1_cost);
                    let _ = r.bytes().await;
                    (Some(status), timing)
                }
                Err(_) => (None, None),
            };
            let took = t0.elapsed();
            if round == 0 {
                continue; // warm-up
            }
            match (status, timing) {
                (Some(200 | 201), Some(cost)) => {
                    p.latency.push(took);
                    p.d1.push(cost);
                }
                _ => {
                    p.errors += 1;
                    p.first_error.get_or_insert_with(|| {
                        format!(
                            "{} {}: {status:?}, Server-Timing {timing:?}",
                            p.method, p.path
                        )
                    });
                }
            }
        }
    }
    ChatSize {
        sizes: sizes.to_vec(),
        requests,
        probes,
    }
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (n, sum) = v.fold((0usize, 0.0), |(n, s), x| (n + 1, s + x));
    sum / n.max(1) as f64
}

impl Probe {
    fn d1_ms(&self) -> f64 {
        mean(self.d1.iter().map(|c| c.ms))
    }
    fn read(&self) -> f64 {
        mean(self.d1.iter().map(|c| c.read as f64))
    }
    fn written(&self) -> f64 {
        mean(self.d1.iter().map(|c| c.written as f64))
    }
}

impl ChatSize {
    /// The table: one row per endpoint and size.
    pub fn report(&mut self) {
        println!(
            "\n### Chat size: one request at a time, {} per endpoint and size, interleaved\n",
            self.requests
        );
        println!(
            "| endpoint | messages in the chat | D1 ms (mean) | rows read | rows written \
             | p50 ms | errors |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for label in LABELS {
            for p in self.probes.iter_mut().filter(|p| p.label == label) {
                println!(
                    "| {} | {} | {:.2} | {:.0} | {:.0} | {:.1} | {} |",
                    p.label,
                    p.size,
                    p.d1_ms(),
                    p.read(),
                    p.written(),
                    p.latency.quantile_ms(0.5),
                    p.errors
                );
            }
        }
    }

    /// Per endpoint: the biggest chat's rows read and D1 ms over the smallest's.
    pub fn ratios(&self) -> Vec<(&'static str, f64, f64)> {
        LABELS
            .iter()
            .filter_map(|label| {
                let of = |size| {
                    self.probes
                        .iter()
                        .find(|p| p.label == *label && p.size == size)
                };
                let (small, big) = (
                    of(*self.sizes.iter().min()?)?,
                    of(*self.sizes.iter().max()?)?,
                );
                Some((
                    *label,
                    big.read() / small.read(),
                    big.d1_ms() / small.d1_ms(),
                ))
            })
            .collect()
    }

    /// The phase's failed requests.
    pub fn failures(&self) -> Vec<String> {
        self.probes
            .iter()
            .filter(|p| p.errors > 0)
            .map(|p| {
                format!(
                    "chat size {} {}: {} failed requests, first: {}",
                    p.size,
                    p.label,
                    p.errors,
                    p.first_error.clone().unwrap_or_default()
                )
            })
            .collect()
    }
}
