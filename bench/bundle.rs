//! The deployable bundle's size, as `wrangler deploy --dry-run` reports it (offline), and the
//! web UI's: the messages page's JS+CSS and the widgets' (embed.js with their code and CSS),
//! gzip, as `make web` measured them (web/build.mjs writes target/web-sizes.json).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common;

pub struct Bundle {
    pub total_kib: f64,
    pub gzip_kib: f64,
    /// The `.wasm` module in the dry run's output, in bytes.
    pub wasm_bytes: u64,
    pub web: Option<WebSizes>,
}

/// Bytes, gzip (level 9), of what a browser loads before any picker opens.
pub struct WebSizes {
    pub page_gzip: u64,
    pub page_budget: u64,
    pub widgets_gzip: u64,
    pub widgets_budget: u64,
}

/// target/web-sizes.json, written by the last `make web`.
fn web_sizes() -> Option<WebSizes> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/web-sizes.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let n = |k: &str| v[k].as_u64();
    Some(WebSizes {
        page_gzip: n("page_gzip")?,
        page_budget: n("page_budget")?,
        widgets_gzip: n("widgets_gzip")?,
        widgets_budget: n("widgets_budget")?,
    })
}

/// "Total Upload: 1250.31 KiB / gzip: 413.38 KiB" → (1250.31, 413.38).
fn parse(log: &str) -> Option<(f64, f64)> {
    let line = log.lines().find(|l| l.contains("Total Upload:"))?;
    let (_, rest) = line.split_once("Total Upload:")?;
    let (total, gzip) = rest.split_once("/ gzip:")?;
    let kib = |s: &str| s.trim().trim_end_matches("KiB").trim().parse::<f64>().ok();
    Some((kib(total)?, kib(gzip)?))
}

/// Runs the dry run into `dir` (at most 5 minutes; it rebuilds the worker if a source changed).
pub fn measure(dir: &Path) -> Bundle {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("dry-run folder");
    let log = dir.join("dry-run.log");
    let out = dir.join("out");
    let mut child = common::wrangler(
        &[
            "deploy",
            "--dry-run",
            "--outdir",
            out.to_str().expect("utf-8 path"),
        ],
        &log,
    );
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().expect("dry run") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("wrangler deploy --dry-run took over 5 minutes");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        status.success(),
        "wrangler deploy --dry-run failed:\n{text}"
    );
    let (total_kib, gzip_kib) =
        parse(&text).unwrap_or_else(|| panic!("no \"Total Upload\" line in:\n{text}"));
    let wasm_bytes = std::fs::read_dir(&out)
        .expect("dry-run output")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "wasm"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    Bundle {
        total_kib,
        gzip_kib,
        wasm_bytes,
        web: web_sizes(),
    }
}
