//! Clock and timestamp formatting. `SystemTime::now()` panics on wasm32, so the worker reads
//! `Date.now()`; native unit tests use the system clock.

use chrono::{DateTime, SecondsFormat, Utc};

#[cfg(target_arch = "wasm32")]
pub fn now_ms_f64() -> f64 {
    js_sys::Date::now()
}

#[cfg(not(target_arch = "wasm32"))]
pub fn now_ms_f64() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

pub fn now_ms() -> i64 {
    now_ms_f64() as i64
}

pub fn now_secs() -> i64 {
    now_ms() / 1000
}

/// ISO-8601 UTC with milliseconds, e.g. `2025-01-02T15:30:00.123Z`. Stored and sent as is:
/// fixed width, so text order is time order.
pub fn iso_from_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Milliseconds since the epoch of a timestamp in our format (`None` if it is not one).
pub fn ms_from_iso(iso: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(iso)
        .ok()
        .map(|t| t.timestamp_millis())
}

pub fn now_iso() -> String {
    iso_from_ms(now_ms())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_utc_with_millis() {
        assert_eq!(iso_from_ms(1_735_831_800_123), "2025-01-02T15:30:00.123Z");
        assert_eq!(iso_from_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            ms_from_iso("2025-01-02T15:30:00.123Z"),
            Some(1_735_831_800_123)
        );
        assert_eq!(ms_from_iso("soon"), None);
    }
}
