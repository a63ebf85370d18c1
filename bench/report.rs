//! The printed table (Markdown, so a run pastes straight into a README), the targets of
//! issue 6, and what makes a run fail.

use crate::bundle::Bundle;
use crate::chat_size::ChatSize;
use crate::fanout::{FanOut, Via};
use crate::rest::{Endpoint, Measured};
use crate::rooms::RoomRun;

fn ms(v: f64) -> String {
    format!("{v:.1}")
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

/// The REST table. The first endpoint is the reference (`/healthz`).
pub fn rest(title: &str, eps: &[Endpoint], results: &mut [Measured]) {
    println!("\n### REST: {title}\n");
    println!(
        "| endpoint | requests | req/s | p50 ms | p99 ms | vs /healthz | by CPU | D1 round trips \
         | D1 ms | CPU ms/req worker / proxy / client | errors |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let base = results[0].rps();
    // The reference's worker + proxy CPU per request over an endpoint's: the throughput ratio
    // the endpoints would have if the worker had the cores to itself.
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

/// The fan-out table.
pub fn fanout(messages: usize, runs: &mut [FanOut]) {
    println!(
        "\n### WebSocket fan-out: one group chat, one member sends {messages} messages by REST, \
         one after another\n"
    );
    fanout_table(runs);
}

/// The fan-out table's rows.
fn fanout_table(runs: &mut [FanOut]) {
    println!(
        "| via | receivers | connect s | delivered / expected | lost | duplicated | out of order \
         | deliveries/s | p50 ms | p99 ms | slowest message | POST p50 ms \
         | CPU ms/msg worker / proxy / client | DO calls/msg |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for f in runs.iter_mut() {
        let cpu = f.cpu_ms_per_message();
        println!(
            "| {} | {} | {:.1} | {} / {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {:.2} / {:.2} / {:.2} | {:.1} |",
            f.via.label(),
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
            f.slowest.map_or("—".to_string(), |(i, t)| {
                let (post, d1) = f.posts.get(i).copied().unwrap_or((f64::NAN, f64::NAN));
                format!("#{i}: {t:.1} ms (POST {post:.1}, D1 {d1:.1})")
            }),
            ms(f.post_latency.quantile_ms(0.50)),
            cpu.0,
            cpu.1,
            cpu.2,
            f.do_calls_per_message(),
        );
    }
}

/// The rooms phase's tables.
pub fn room(messages: usize, r: &mut RoomRun) {
    println!(
        "\n### Rooms: a room whose members all hold a socket; one member sends {messages} \
         messages by REST, one after another\n"
    );
    fanout_table(std::slice::from_mut(&mut r.fanout));
    let j = &mut r.joins;
    println!(
        "\n{} joins by REST ({} at a time) while {} watchers hold sockets on the room:\n",
        j.joins,
        crate::rooms::JOIN_PARALLEL,
        j.watchers
    );
    println!(
        "| joins | failed | joins/s | join p50 ms | join p99 ms | count frames seen / expected \
         | watchers ending wrong | final count |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {} | {:.0} | {} | {} | {} / {} | {} | {} |",
        j.joins,
        j.failed,
        j.per_sec(),
        ms(j.latency.quantile_ms(0.50)),
        ms(j.latency.quantile_ms(0.99)),
        j.counts_seen,
        j.counts_expected,
        j.wrong,
        j.final_count
    );
}

/// What makes the rooms phase fail: a delivery or count frame lost, a join refused.
pub fn room_failures(r: &RoomRun) -> Vec<String> {
    let mut out = Vec::new();
    let f = &r.fanout;
    if !f.clean() {
        out.push(format!(
            "room fan-out to {}: {} of {} deliveries lost, {} duplicated, {} out of order, {} sends failed",
            f.receivers, f.lost(), f.expected, f.duplicates, f.out_of_order, f.send_errors
        ));
    }
    let j = &r.joins;
    if !j.clean() {
        out.push(format!(
            "room joins: {} failed, {} of {} count frames seen, {} watchers ended wrong",
            j.failed, j.counts_seen, j.counts_expected, j.wrong
        ));
    }
    out
}

pub fn bundle(b: &Bundle) {
    println!("\n### Bundle (`wrangler deploy --dry-run`)\n");
    println!("| total upload | gzip | of which wasm |");
    println!("|---:|---:|---:|");
    println!(
        "| {:.2} KiB | {:.2} KiB | {:.2} KiB |",
        b.total_kib,
        b.gzip_kib,
        b.wasm_bytes as f64 / 1024.0
    );
    if let Some(w) = &b.web {
        let kib = |n: u64| n as f64 / 1024.0;
        println!("\n### Web UI (`make web`, gzip; the emoji picker loads on demand)\n");
        println!("| what | gzip | budget |");
        println!("|---|---:|---:|");
        println!(
            "| messages page JS+CSS | {:.1} KiB | {:.0} KiB |",
            kib(w.page_gzip),
            kib(w.page_budget)
        );
        println!(
            "| widgets: embed.js + code + CSS | {:.1} KiB | {:.0} KiB |",
            kib(w.widgets_gzip),
            kib(w.widgets_budget)
        );
    }
}

/// Issue 6's and issue 18's targets, for what this run measured.
pub fn targets(
    eps: &[Endpoint],
    results: &mut [Measured],
    chat: Option<&ChatSize>,
    runs: &mut [FanOut],
    b: &Bundle,
) {
    println!("\n### Targets\n");
    if let Some(base) = results.first().map(Measured::rps) {
        for (ep, m) in eps.iter().zip(results.iter()).filter(|(e, _)| e.list) {
            let ratio = m.rps() / base;
            println!(
                "- `{}` ≥ 50 % of `/healthz` req/s: {} ({:.1} %)",
                ep.label,
                verdict(ratio >= 0.5),
                100.0 * ratio
            );
        }
    }
    if let Some(c) = chat {
        let (small, big) = (
            c.sizes.iter().min().copied().unwrap_or(0),
            c.sizes.iter().max().copied().unwrap_or(0),
        );
        for (label, rows, ms) in c.ratios() {
            println!(
                "- {label}: {big} messages within 1.5× of {small}: rows read {} ({rows:.2}×), \
                 D1 ms {} ({ms:.2}×)",
                verdict(rows <= 1.5),
                verdict(ms <= 1.5),
            );
        }
    }
    // At 100 receivers each way ran several times, interleaved (`BENCH_PAIR_RUNS`): a run's
    // p99 is its slowest message or two, so one stalled send decides it; the median run's is
    // the verdict, every run's is listed.
    let mut p99s = |via: Via| -> (Vec<f64>, u64) {
        let mut lost = 0;
        let mut p: Vec<f64> = runs
            .iter_mut()
            .filter(|f| f.receivers == 100 && f.via == via)
            .map(|f| {
                lost += f.lost() + u64::from(!f.clean());
                f.latency.quantile_ms(0.99)
            })
            .collect();
        p.sort_by(f64::total_cmp);
        (p, lost)
    };
    let median = |p: &[f64]| p[p.len() / 2];
    let list = |p: &[f64]| p.iter().map(|x| ms(*x)).collect::<Vec<_>>().join(", ");
    let (chat, chat_lost) = p99s(Via::ChatSockets);
    let (stream, stream_lost) = p99s(Via::UserStreams);
    if !chat.is_empty() {
        println!(
            "- fan-out p99 ≤ 50 ms at 100 receivers, nothing lost: {} (median p99 {} ms of \
             {} runs: {}; {chat_lost} lost)",
            verdict(median(&chat) <= 50.0 && chat_lost == 0),
            ms(median(&chat)),
            chat.len(),
            list(&chat)
        );
    }
    if !chat.is_empty() && !stream.is_empty() {
        println!(
            "- user-stream p99 at 100 online members ≤ 1.5 × the chat sockets' p99, nothing \
             lost: {} (median p99 {} ms vs {} ms: {:.2} ×; runs {} vs {}; {stream_lost} lost)",
            verdict(median(&stream) <= 1.5 * median(&chat) && stream_lost == 0),
            ms(median(&stream)),
            ms(median(&chat)),
            median(&stream) / median(&chat),
            list(&stream),
            list(&chat)
        );
    }
    println!(
        "- bundle ≤ 1 MiB gzip: {} ({:.0} KiB)",
        verdict(b.gzip_kib <= 1024.0),
        b.gzip_kib
    );
    if let Some(w) = &b.web {
        println!(
            "- messages page JS+CSS ≤ 100 KiB gzip: {} ({:.1} KiB)",
            verdict(w.page_gzip <= w.page_budget),
            w.page_gzip as f64 / 1024.0
        );
        println!(
            "- widgets (embed.js + CSS) ≤ 60 KiB gzip: {} ({:.1} KiB)",
            verdict(w.widgets_gzip <= w.widgets_budget),
            w.widgets_gzip as f64 / 1024.0
        );
    }
}

/// What makes the run fail: a failed request, or a fan-out delivery lost, duplicated or out of
/// order (a missed speed target does not: the table says so).
pub fn failures(eps: &[Endpoint], results: &[Measured], runs: &[FanOut]) -> Vec<String> {
    let mut out = Vec::new();
    for (ep, m) in eps.iter().zip(results) {
        if m.errors > 0 {
            out.push(format!(
                "{}: {} failed requests, first: {}",
                ep.label,
                m.errors,
                m.first_error.clone().unwrap_or_default()
            ));
        }
    }
    for f in runs.iter().filter(|f| !f.clean()) {
        out.push(format!(
            "fan-out to {} {}: {} of {} deliveries lost, {} duplicated, {} out of order, {} sends failed",
            f.receivers,
            f.via.label(),
            f.lost(),
            f.expected,
            f.duplicates,
            f.out_of_order,
            f.send_errors
        ));
    }
    out
}
