//! Attempt counters (`login_failures`), one fixed window per key: counted before the work they
//! limit, taken back when it succeeded. The rules are in `auth::throttle`.

use serde::Deserialize;

use super::{Batch, Results, Rows};
use crate::args;
use crate::error::ApiResult;

/// A counter after this attempt was counted.
#[derive(Debug, Clone, Deserialize)]
pub struct Counted {
    pub key: String,
    pub window_start: i64,
    pub failures: i64,
}

/// The counters an attempt was counted against, in a batch.
pub struct Counts {
    rows: Vec<Rows<Counted>>,
}

impl Counts {
    /// Every counter after this attempt.
    pub fn read(&self, res: &Results) -> ApiResult<Vec<Counted>> {
        let mut out = Vec::new();
        for h in &self.rows {
            out.extend(res.first(*h)?);
        }
        Ok(out)
    }
}

/// Counts one attempt against each of `keys`, starting a new window where the old one ended
/// (`window` seconds), and reads the counters back.
pub fn count(b: &mut Batch, keys: &[&str], now: i64, window: i64) -> ApiResult<Counts> {
    let mut rows = Vec::new();
    for key in keys {
        rows.push(b.query(
            "INSERT INTO login_failures (key, window_start, failures) VALUES (?1, ?2, 1)
             ON CONFLICT (key) DO UPDATE SET
               failures = CASE WHEN window_start <= ?2 - ?3 THEN 1 ELSE failures + 1 END,
               window_start = CASE WHEN window_start <= ?2 - ?3 THEN ?2 ELSE window_start END
             RETURNING key, window_start, failures",
            args![*key, now, window],
        )?);
    }
    Ok(Counts { rows })
}

/// An attempt succeeded: `clear` is forgotten, and the attempt is taken back from `refund`.
pub fn refund(b: &mut Batch, clear: &str, refund: &[&str]) -> ApiResult<()> {
    b.exec("DELETE FROM login_failures WHERE key = ?1", args![clear])?;
    b.exec(
        "UPDATE login_failures SET failures = MAX(failures - 1, 0)
         WHERE key IN (SELECT value FROM json_each(?1))",
        args![serde_json::to_string(refund)?],
    )?;
    Ok(())
}

/// Deletes up to 100 counters whose window ended before `before`, and up to 100 expired
/// sessions (logins do this, so neither table grows without bound).
pub fn prune(b: &mut Batch, before: i64, now_iso: &str) -> ApiResult<()> {
    b.exec(
        "DELETE FROM login_failures WHERE key IN
           (SELECT key FROM login_failures WHERE window_start < ?1 LIMIT 100)",
        args![before],
    )?;
    b.exec(
        "DELETE FROM sessions WHERE token_hash IN
           (SELECT token_hash FROM sessions WHERE expires_at <= ?1 LIMIT 100)",
        args![now_iso],
    )?;
    Ok(())
}
