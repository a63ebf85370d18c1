//! `make bench-demo` (`BENCH_DEMO=1 make bench`): our worker beside Cloudflare's chat demo,
//! the same paced and as-fast-as-possible fan-outs against both, interleaved (ours, demo,
//! ours, demo, ...), printed as medians with ratios (ours / demo) and every run's raw figures.
//!
//! The demo is never part of the project: it is copied from the shared anchors folder into
//! `target/bench-state/chat-demo/`, patched there (its per-IP rate limiter off: every benchmark
//! client shares 127.0.0.1) and served by the project's own wrangler (the same workerd as ours)
//! with its own state folder and free ports. The WebSocket client of both sides is
//! `bench/demo/fanout.mjs` (npm `ws`, permessage-deflate on), one process per run, driven over
//! its stdin/stdout so that the workers' CPU can be read from `/proc` exactly around the sends.
//! Method and fairness choices: bench/README.md.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{self, Worker};
use crate::cpu::{self, Cpu};
use crate::floor::{self, Floor};
use crate::stats::median;
use crate::{env_or, load_average, machine, seed, version};

/// Whether the run is the side-by-side mode.
pub fn enabled() -> bool {
    std::env::var("BENCH_DEMO").is_ok_and(|v| !v.trim().is_empty() && v.trim() != "0")
}

/// Settings, each overridable by an environment variable (bench/README.md).
struct Config {
    runs: usize,
    paced: Vec<usize>,
    fast: Vec<usize>,
    messages: usize,
    rate: f64,
    senders: usize,
    timeout: Duration,
    source: PathBuf,
}

fn list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter(|r| !r.trim().is_empty())
        .map(|r| {
            r.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name}: numbers"))
        })
        .collect()
}

impl Config {
    fn from_env() -> Config {
        Config {
            runs: env_or("BENCH_DEMO_RUNS", 3),
            paced: list("BENCH_DEMO_PACED", "10,100,500"),
            fast: list("BENCH_DEMO_FAST", "100,500"),
            messages: env_or("BENCH_DEMO_MESSAGES", 200),
            rate: env_or("BENCH_DEMO_RATE", 20.0),
            senders: env_or("BENCH_DEMO_SENDERS", 4),
            timeout: Duration::from_secs(env_or("BENCH_FANOUT_TIMEOUT", 60)),
            source: std::env::var("BENCH_DEMO_SRC").map_or_else(
                |_| common::root().join("../shared/anchors/workers-chat-demo"),
                PathBuf::from,
            ),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Ours,
    Demo,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Ours => "ours",
            Side::Demo => "demo",
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Paced,
    Fast,
}

#[derive(Clone, Copy)]
struct Scenario {
    mode: Mode,
    receivers: usize,
}

impl Scenario {
    fn label(&self) -> String {
        match self.mode {
            Mode::Paced => format!("paced, {} receivers", self.receivers),
            Mode::Fast => format!("fast, {} receivers", self.receivers),
        }
    }
}

/// One run of one side: the client's result (see fanout.mjs) and the CPU read around it.
struct Run {
    scenario: Scenario,
    run: usize,
    side: Side,
    load: String,
    result: Value,
    /// Why the run produced no result (the client failed or hung).
    failure: Option<String>,
    /// The measured worker's runtime and proxy, and the client process, from "go" to "sent".
    cpu: Cpu,
    /// Over the same window: the machine's busy cores (every process) and the share of time
    /// some task waited for a core (PSI), and the window's length.
    machine: (f64, f64),
    wall: Duration,
}

impl Run {
    fn num(&self, key: &str) -> f64 {
        self.result[key].as_f64().unwrap_or(f64::NAN)
    }

    fn int(&self, key: &str) -> u64 {
        self.result[key].as_u64().unwrap_or(0)
    }

    fn lost(&self) -> u64 {
        self.int("expected").saturating_sub(self.int("delivered"))
    }

    /// CPU milliseconds per message sent: (worker runtime, wrangler's proxy, client).
    fn cpu_ms(&self) -> (f64, f64, f64) {
        self.cpu.per(self.int("sent"))
    }

    /// Cores this run's processes (worker runtime, proxy, client) kept busy on average.
    fn own_cores(&self) -> f64 {
        let c = self.cpu;
        (c.runtime + c.proxy + c.client).as_secs_f64() / self.wall.as_secs_f64().max(1e-3)
    }

    fn clean(&self) -> bool {
        self.failure.is_none()
            && self.int("expected") > 0
            && self.lost() == 0
            && self.int("duplicates") == 0
            && self.int("out_of_order") == 0
            && self.int("errors") == 0
            && self.int("send_errors") == 0
    }
}

/// The chat demo, served from its patched copy.
struct Demo {
    port: u16,
    log: PathBuf,
}

fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Copies the demo under `state`, applies its `no-rate-limit.patch` and serves it with the
/// project's wrangler on free ports, its Durable Objects' state in its own folder. wrangler
/// and its workerd die with this process.
#[allow(clippy::zombie_processes)] // the watchdog ends wrangler when we exit
fn start_demo(source: &Path, state: &Path) -> Demo {
    let dir = state.join("chat-demo");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(state).expect("state folder");
    assert!(
        source.join("src/chat.mjs").exists(),
        "the chat demo is not at {} (set BENCH_DEMO_SRC)",
        source.display()
    );
    run_ok(
        Command::new("cp").arg("-r").arg(source).arg(&dir),
        "copying the chat demo",
    );
    run_ok(
        Command::new("chmod").args(["-R", "u+w"]).arg(&dir),
        "making the demo copy writable",
    );
    run_ok(
        Command::new("patch")
            .args(["-p1", "--forward", "-i", "no-rate-limit.patch"])
            .current_dir(&dir),
        "patching the demo copy (no-rate-limit.patch)",
    );
    let chat = std::fs::read_to_string(dir.join("src/chat.mjs")).expect("chat.mjs");
    assert!(
        chat.contains("BENCH SCRATCH COPY"),
        "the rate-limiter patch is not in the demo copy"
    );

    let port = common::free_port();
    let inspector = common::free_port();
    let persist = state.join("chat-demo-state");
    let log = state.join("chat-demo.log");
    let out = std::fs::File::create(&log).expect("demo log");
    // Its own process group, which the watchdog ends with every runtime wrangler starts.
    let child = Command::new("wrangler")
        .process_group(0)
        .args(["dev", "--local", "--ip", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .arg("--inspector-port")
        .arg(inspector.to_string())
        .arg("--persist-to")
        .arg(&persist)
        .arg("--show-interactive-dev-session=false")
        .current_dir(&dir)
        .env("PATH", common::tool_path())
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CI", "true")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .spawn()
        .expect("wrangler runs (make tools installs it)");
    common::watchdog(child.id());
    let deadline = Instant::now() + Duration::from_secs(120);
    while common::raw_get_status(port, "/") != Some(200) {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("the chat demo did not answer within 120 s:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Demo { port, log }
}

/// Waits until neither worker's processes use more than 4 % of a core over half a second (the
/// previous run's closing sockets, this run's joins), at most 30 s.
fn settle(ports: &[u16]) {
    let busy = || -> Duration {
        ports
            .iter()
            .map(|&p| {
                let c = cpu::of_worker(p);
                c.runtime + c.proxy
            })
            .sum()
    };
    let start = Instant::now();
    let mut last = busy();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = busy();
        if now.saturating_sub(last) <= Duration::from_millis(20) {
            return;
        }
        if start.elapsed() > Duration::from_secs(30) {
            eprintln!("bench-demo: the workers were still busy after 30 s; measuring anyway");
            return;
        }
        last = now;
    }
}

struct Ctx {
    cfg: Config,
    ours: u16,
    demo: u16,
    client: PathBuf,
}

/// One run of one side: starts the client, snapshots CPU when its sockets are open, lets it
/// send, snapshots again when every delivery arrived, then collects its result.
fn run_one(ctx: &Ctx, scenario: Scenario, side: Side, run: usize) -> Run {
    let cfg = &ctx.cfg;
    let ports = [ctx.ours, ctx.demo];
    settle(&ports);
    let load = load_average();
    let mode = match scenario.mode {
        Mode::Paced => "paced",
        Mode::Fast => "fast",
    };
    // Unique per run: the demo's room name (at most 32 characters) and our client_ids.
    let tag = format!(
        "{}{}{}r{}p{}",
        side.name(),
        &mode[..1],
        scenario.receivers,
        run,
        std::process::id()
    );
    let mut args = json!({
        "side": side.name(),
        "mode": mode,
        "receivers": scenario.receivers,
        "messages": cfg.messages,
        "rate": cfg.rate,
        "senders": cfg.senders,
        "tag": tag,
        "timeout_s": cfg.timeout.as_secs(),
        "grace_ms": 500,
        "connect_parallel": 16,
    });
    let port = match side {
        Side::Ours => {
            args["chat"] = json!(seed::fanout_chat(scenario.receivers));
            args["tokens"] = (0..scenario.receivers)
                .map(|k| json!(seed::token(seed::fanout_user(k))))
                .collect();
            ctx.ours
        }
        Side::Demo => {
            args["room"] = json!(tag);
            ctx.demo
        }
    };
    args["base"] = json!(format!("http://127.0.0.1:{port}"));

    let mut out = Run {
        scenario,
        run,
        side,
        load,
        result: Value::Null,
        failure: None,
        cpu: Cpu::default(),
        machine: (f64::NAN, f64::NAN),
        wall: Duration::ZERO,
    };
    let mut child = match Command::new("node")
        .arg(&ctx.client)
        .arg(args.to_string())
        .current_dir(ctx.client.parent().expect("bench/demo"))
        .env("PATH", common::tool_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            out.failure = Some(format!("node did not start: {e}"));
            return out;
        }
    };
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let snapshot = || {
        let mut c = cpu::of_worker(port);
        c.client = cpu::of_process(pid);
        c
    };
    // Connecting 500 sockets (and, on the demo, every join's broadcast) takes a while on a
    // loaded machine; the sends are bounded by the timeout.
    let deadline = Instant::now() + Duration::from_secs(120) + cfg.timeout * 2;
    let mut before = Cpu::default();
    let mut machine = cpu::Machine::default();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match rx.recv_timeout(left) {
            Ok(l) => l,
            Err(_) => {
                out.failure = Some("the client did not finish in time".into());
                break;
            }
        };
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            eprintln!("bench-demo client: {line}");
            continue;
        };
        match v["event"].as_str() {
            Some("ready") => {
                settle(&ports);
                machine = cpu::Machine::now();
                before = snapshot();
                let _ = writeln!(stdin, "go");
            }
            Some("sent") => {
                out.cpu = snapshot().since(before);
                let now = cpu::Machine::now();
                out.machine = now.since(&machine);
                out.wall = match (machine.at, now.at) {
                    (Some(a), Some(b)) => b.duration_since(a),
                    _ => Duration::ZERO,
                };
                let _ = writeln!(stdin, "close");
            }
            Some("result") => {
                out.result = v;
                break;
            }
            Some("failed") => {
                out.failure = Some(v["error"].as_str().unwrap_or("?").to_string());
                break;
            }
            _ => eprintln!("bench-demo client: {line}"),
        }
    }
    drop(stdin);
    if out.failure.is_some() {
        let _ = child.kill();
    }
    let _ = child.wait();
    out
}

/// The median of `f` over the runs of `side` in `scenario`.
fn med(runs: &[Run], scenario: Scenario, side: Side, f: impl Fn(&Run) -> f64) -> f64 {
    median(
        runs.iter()
            .filter(|r| {
                r.side == side
                    && r.scenario.mode == scenario.mode
                    && r.scenario.receivers == scenario.receivers
                    && r.failure.is_none()
            })
            .map(f),
    )
}

fn ms(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1}")
    } else {
        "—".into()
    }
}

fn ratio(ours: f64, demo: f64) -> String {
    if ours.is_finite() && demo.is_finite() && demo > 0.0 {
        format!("{:.2}×", ours / demo)
    } else {
        "—".into()
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn cpu_runtime(r: &Run) -> f64 {
    r.cpu_ms().0
}

fn report(cfg: &Config, scenarios: &[Scenario], runs: &[Run]) {
    let n = cfg.runs;
    println!(
        "\n### Paced: {} msg/s, {} messages from {} senders (medians of {n} interleaved runs)\n",
        cfg.rate, cfg.messages, cfg.senders
    );
    println!(
        "| receivers | demo p50 / p99 ms | ours p50 / p99 ms | p99 ours/demo | ours POST p50 / p99 ms \
         | worker CPU ms/msg demo / ours | CPU ours/demo |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for &s in scenarios.iter().filter(|s| s.mode == Mode::Paced) {
        let d50 = med(runs, s, Side::Demo, |r| r.num("p50_ms"));
        let d99 = med(runs, s, Side::Demo, |r| r.num("p99_ms"));
        let o50 = med(runs, s, Side::Ours, |r| r.num("p50_ms"));
        let o99 = med(runs, s, Side::Ours, |r| r.num("p99_ms"));
        let p50 = med(runs, s, Side::Ours, |r| r.num("post_p50_ms"));
        let p99 = med(runs, s, Side::Ours, |r| r.num("post_p99_ms"));
        let dc = med(runs, s, Side::Demo, cpu_runtime);
        let oc = med(runs, s, Side::Ours, cpu_runtime);
        println!(
            "| {} | {} / {} | {} / {} | {} | {} / {} | {:.2} / {:.2} | {} |",
            s.receivers,
            ms(d50),
            ms(d99),
            ms(o50),
            ms(o99),
            ratio(o99, d99),
            ms(p50),
            ms(p99),
            dc,
            oc,
            ratio(oc, dc)
        );
    }

    println!(
        "\n### As fast as possible: {} messages, {} senders each sending its next message once \
         the previous one was accepted (medians of {n} interleaved runs)\n",
        cfg.messages, cfg.senders
    );
    println!(
        "| receivers | demo deliveries/s | ours deliveries/s | ours/demo | demo p50 / p99 ms \
         | ours p50 / p99 ms | worker CPU ms/msg demo / ours | CPU ours/demo |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &s in scenarios.iter().filter(|s| s.mode == Mode::Fast) {
        let d = med(runs, s, Side::Demo, |r| r.num("deliveries_per_s"));
        let o = med(runs, s, Side::Ours, |r| r.num("deliveries_per_s"));
        let dc = med(runs, s, Side::Demo, cpu_runtime);
        let oc = med(runs, s, Side::Ours, cpu_runtime);
        println!(
            "| {} | {:.0} | {:.0} | {} | {} / {} | {} / {} | {:.2} / {:.2} | {} |",
            s.receivers,
            d,
            o,
            ratio(o, d),
            ms(med(runs, s, Side::Demo, |r| r.num("p50_ms"))),
            ms(med(runs, s, Side::Demo, |r| r.num("p99_ms"))),
            ms(med(runs, s, Side::Ours, |r| r.num("p50_ms"))),
            ms(med(runs, s, Side::Ours, |r| r.num("p99_ms"))),
            dc,
            oc,
            ratio(oc, dc)
        );
    }

    println!(
        "\n### Every run, in the order run\n\nCPU is per message sent, from the first send to \
         the last delivery plus 0.5 s: *runtime* is the workerd that runs the worker (for ours \
         also its Durable Objects and the local D1), *proxy* the workerd `wrangler dev` puts in \
         front of it, *client* the `ws` client process (both sides' receivers and senders). \
         *Cores busy* over the same window: the whole machine / this run's three processes (the \
         rest is other programs); *waited* is the share of the time some task waited for a core \
         (`/proc/pressure/cpu`); *client loop delay* how late the client's event loop ran (p99 / \
         max), an error bar on its arrival times; *send lag* how late a paced send left.\n"
    );
    println!(
        "| scenario | run | side | load avg | connect s | deflate | delivered / expected | lost \
         | dup | out of order | errors | deliveries/s | p50 ms | p99 ms | max ms \
         | slowest: message, ms (accepted after ms) | POST p50 ms | D1 round trips / ms \
         | CPU ms/msg runtime / proxy / client | send lag ms | bytes/delivery wire / JSON | cores busy machine / run | waited | client loop delay p99 / max ms |"
    );
    println!("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in runs {
        if let Some(f) = &r.failure {
            println!(
                "| {} | {} | {} | {} | FAILED: {} |||||||||||||||||||",
                r.scenario.label(),
                r.run,
                r.side.name(),
                r.load,
                f.lines().next().unwrap_or("").replace('|', "/")
            );
            continue;
        }
        let cpu = r.cpu_ms();
        let slowest = &r.result["slowest"];
        let d1 = if r.side == Side::Ours {
            format!("{:.2} / {:.2}", r.num("d1_trips_mean"), r.num("d1_ms_mean"))
        } else {
            "—".into()
        };
        println!(
            "| {} | {} | {} | {} | {:.1} | {} | {} / {} | {} | {} | {} | {} | {:.0} | {} | {} | {} \
             | #{}: {} ({}) | {} | {} | {:.2} / {:.2} / {:.2} | {} | {:.0} / {:.0} | {:.2} / {:.2} | {:.0} % | {} / {} |",
            r.scenario.label(),
            r.run,
            r.side.name(),
            r.load,
            r.num("connect_ms") / 1000.0,
            r.int("deflate"),
            r.int("delivered"),
            r.int("expected"),
            r.lost(),
            r.int("duplicates"),
            r.int("out_of_order"),
            r.int("errors"),
            r.num("deliveries_per_s"),
            ms(r.num("p50_ms")),
            ms(r.num("p99_ms")),
            ms(r.num("max_ms")),
            slowest["i"].as_u64().map_or("—".into(), |i| i.to_string()),
            ms(slowest["ms"].as_f64().unwrap_or(f64::NAN)),
            ms(slowest["ack_ms"].as_f64().unwrap_or(f64::NAN)),
            ms(r.num("post_p50_ms")),
            d1,
            cpu.0,
            cpu.1,
            cpu.2,
            ms(r.num("timer_lag_max_ms")),
            r.num("wire_bytes_per_delivery"),
            r.num("frame_bytes_per_delivery"),
            r.machine.0,
            r.own_cores(),
            100.0 * r.machine.1,
            ms(r.num("loop_delay_p99_ms")),
            ms(r.num("loop_delay_max_ms")),
        );
    }
}

/// Issue 11's "done when", for what this run measured.
fn targets(cfg: &Config, scenarios: &[Scenario], runs: &[Run], floor: Option<&Floor>) {
    println!(
        "\n### Targets (issue 11), medians of {} interleaved runs\n",
        cfg.runs
    );
    let find = |mode: Mode, r: usize| {
        scenarios
            .iter()
            .copied()
            .find(|s| s.mode == mode && s.receivers == r)
    };
    if let Some(s) = find(Mode::Paced, 100) {
        let o = med(runs, s, Side::Ours, |r| r.num("p99_ms"));
        let d = med(runs, s, Side::Demo, |r| r.num("p99_ms"));
        println!(
            "- p99 at 100 receivers, {} msg/s from {} senders ≤ the demo's: {} (ours {} ms, demo {} ms, {})",
            cfg.rate,
            cfg.senders,
            verdict(o <= d),
            ms(o),
            ms(d),
            ratio(o, d)
        );
    }
    for r in [100, 500] {
        if let Some(s) = find(Mode::Fast, r) {
            let o = med(runs, s, Side::Ours, |r| r.num("deliveries_per_s"));
            let d = med(runs, s, Side::Demo, |r| r.num("deliveries_per_s"));
            println!(
                "- deliveries/s as fast as possible at {r} receivers ≥ 1.0× the demo: {} (ours {o:.0}, demo {d:.0}, {})",
                verdict(o >= d),
                ratio(o, d)
            );
        }
    }
    for r in [10, 100] {
        if let Some(s) = find(Mode::Paced, r) {
            let o = med(runs, s, Side::Ours, cpu_runtime);
            let d = med(runs, s, Side::Demo, cpu_runtime);
            let goal = if r == 10 {
                format!(" ≤ 2× the demo's: {}", verdict(o <= 2.0 * d))
            } else {
                " (reported)".into()
            };
            println!(
                "- worker CPU per message at {r} receivers (runtime workerd, paced){goal} (ours {o:.2} ms, demo {d:.2} ms, {})",
                ratio(o, d)
            );
            if let (10, Some(f)) = (r, floor) {
                let least = f.send_floor();
                println!(
                    "  - the floor under it (\"The floor under a send\"): HTTP into the runtime, one \
                     Durable Object call and one D1 round trip cost {least:.2} ms together, {} the \
                     demo's whole message, before any broadcast; our send with no socket open: \
                     {:.2} ms",
                    ratio(least, d),
                    f.send()
                );
            }
        }
    }
    let clean = runs.iter().filter(|r| r.clean()).count();
    println!(
        "- nothing lost, duplicated or out of order: {} ({clean} of {} runs clean, both sides)",
        verdict(clean == runs.len()),
        runs.len()
    );
    for &s in scenarios.iter().filter(|s| s.mode == Mode::Paced) {
        println!(
            "- POST p50 at {} msg/s, {} receivers: {} ms (p99 {} ms)",
            cfg.rate,
            s.receivers,
            ms(med(runs, s, Side::Ours, |r| r.num("post_p50_ms"))),
            ms(med(runs, s, Side::Ours, |r| r.num("post_p99_ms"))),
        );
    }
    // Every send's Server-Timing, weighted by the sends that carried one.
    let (mut trips, mut n) = (0.0, 0.0);
    for r in runs
        .iter()
        .filter(|r| r.side == Side::Ours && r.failure.is_none())
    {
        let t = r.num("timed");
        if t > 0.0 {
            trips += r.num("d1_trips_mean") * t;
            n += t;
        }
    }
    let mean = if n > 0.0 { trips / n } else { f64::NAN };
    println!(
        "- `Server-Timing` of a send shows 1 D1 round trip: {} (mean {mean:.2} over {n:.0} sends)",
        verdict((mean - 1.0).abs() < 1e-9)
    );
}

/// The floor's table: runtime CPU per request of each kind, and what each part adds.
fn floor_report(f: &Floor) {
    println!(
        "\n### The floor under a send: runtime CPU per request, one at a time on one kept-alive \
         connection ({} requests, medians of {} interleaved measurements)\n",
        floor::REQUESTS,
        floor::RUNS
    );
    println!("| request | runtime CPU ms |\n|---|---:|");
    for (label, ms) in &f.rows {
        println!("| {label} | {ms:.2} |");
    }
    println!(
        "\nBy difference: a Durable Object call adds {:.2} ms, a D1 round trip {:.2} ms, our Rust \
         on the way in and out {:.2} ms; HTTP, a room call and a D1 round trip: {:.2} ms.",
        f.part(floor::Part::DurableObject),
        f.part(floor::Part::D1),
        f.part(floor::Part::OurRust),
        f.send_floor()
    );
}

fn our_version() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(common::root())
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let head = git(&["rev-parse", "--short", "HEAD"]);
    let dirty = !git(&["status", "--porcelain", "--untracked-files=no"]).is_empty();
    format!(
        "{head}{}",
        if dirty { " + uncommitted changes" } else { "" }
    )
}

fn ws_version(client: &Path) -> String {
    let p = client.with_file_name("node_modules/ws/package.json");
    std::fs::read_to_string(p)
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .and_then(|v| v["version"].as_str().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// The whole mode; the process's exit code.
pub fn run() -> i32 {
    let cfg = Config::from_env();
    let state = common::root().join("target/bench-state");
    let client = common::root().join("bench/demo/fanout.mjs");
    assert!(
        client.with_file_name("node_modules/ws").exists(),
        "bench/demo/node_modules is missing: run `make bench-demo` (it runs npm ci there)"
    );
    println!("# Edge Messaging beside Cloudflare's chat demo (issue 11)\n");
    println!(
        "- machine: {}, load average at start {}",
        machine(),
        load_average()
    );
    println!(
        "- {} · wrangler {} · {} · node {} · ws {} (permessage-deflate on)",
        version("rustc"),
        version("wrangler"),
        version("workerd"),
        version("node"),
        ws_version(&client)
    );
    println!(
        "- ours: Edge Messaging at {}; demo: {} (copy patched with no-rate-limit.patch)",
        our_version(),
        cfg.source.display()
    );

    eprintln!("bench-demo: starting the chat demo ...");
    let demo = start_demo(&cfg.source, &state);
    eprintln!("bench-demo: starting our worker (seeding fan-out users and chats) ...");
    let mut all: Vec<usize> = cfg.paced.iter().chain(&cfg.fast).copied().collect();
    all.sort_unstable();
    all.dedup();
    assert!(
        all.iter().all(|&r| r >= cfg.senders),
        "every receiver count must be at least BENCH_DEMO_SENDERS"
    );
    let worker = Worker::start_under(&state, "bench", &[], &seed::sql(&all, 0, 0));

    let scenarios: Vec<Scenario> = cfg
        .paced
        .iter()
        .map(|&r| Scenario {
            mode: Mode::Paced,
            receivers: r,
        })
        .chain(cfg.fast.iter().map(|&r| Scenario {
            mode: Mode::Fast,
            receivers: r,
        }))
        .collect();
    let ctx = Ctx {
        ours: worker.port,
        demo: demo.port,
        client,
        cfg,
    };
    let mut runs = Vec::new();
    for &s in &scenarios {
        for run in 1..=ctx.cfg.runs {
            for side in [Side::Ours, Side::Demo] {
                eprintln!(
                    "bench-demo: {}, run {run}, {} (load {}) ...",
                    s.label(),
                    side.name(),
                    load_average()
                );
                let r = run_one(&ctx, s, side, run);
                if let Some(f) = &r.failure {
                    eprintln!("bench-demo: run failed: {f}");
                }
                runs.push(r);
            }
        }
    }

    eprintln!("bench-demo: the floor under a send (one request at a time) ...");
    settle(&[ctx.ours, ctx.demo]);
    let chat = seed::fanout_chat(all[0]);
    let token = seed::token(seed::fanout_user(0));
    let floor = floor::measure(ctx.ours, ctx.demo, chat, &token);

    report(&ctx.cfg, &scenarios, &runs);
    floor_report(&floor);
    targets(&ctx.cfg, &scenarios, &runs, Some(&floor));
    println!("\nload average at end {}", load_average());
    println!(
        "\nlogs: {} (ours), {} (demo)",
        worker.state.join("worker.log").display(),
        demo.log.display()
    );
    let bad: Vec<&Run> = runs.iter().filter(|r| !r.clean()).collect();
    if bad.is_empty() {
        return 0;
    }
    eprintln!("\nBENCH FAILED:");
    for r in bad {
        eprintln!(
            "  - {}, run {}, {}: {}",
            r.scenario.label(),
            r.run,
            r.side.name(),
            r.failure.clone().unwrap_or_else(|| format!(
                "{} of {} deliveries lost ({} of {} messages sent), {} duplicated, {} out of order, {} errors ({} sends); first: {}",
                r.lost(),
                r.int("expected"),
                r.int("sent"),
                r.int("messages"),
                r.int("duplicates"),
                r.int("out_of_order"),
                r.int("errors"),
                r.int("send_errors"),
                r.result["first_error"].as_str().unwrap_or("—")
            ))
        );
    }
    1
}
