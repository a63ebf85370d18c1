//! The storage layer: every SQL statement of the worker lives under this module, one documented
//! function per query, every value bound to a numbered `?N` parameter (never formatted into
//! SQL). Storage depends only on the foundation (`error`, `domain`); nothing here knows about
//! HTTP handlers or JSON shapes.
//!
//! `Db` wraps the D1 binding and counts sequential round trips, their time and the rows D1
//! reports read and written, which the responder reports in `Server-Timing`. Statements are
//! run through a `Batch` (batch.rs): push a statement, get a typed handle, read that handle's
//! rows or changes after the round trip.

pub mod batch;
pub mod chats;
pub mod events;
pub mod members;
pub mod messages;
pub mod reactions;
pub mod receipts;
pub mod rooms;
pub mod sends;
pub mod sso;
pub mod stream;
pub mod throttle;
pub mod users;

use std::cell::Cell;

use serde::{Deserialize, Deserializer};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result};

pub use batch::{Batch, Exec, Results, Rows};

use crate::error::{ApiError, ApiResult};

/// A value bound to a `?N` placeholder.
#[derive(Clone, Debug)]
pub enum Arg {
    Int(i64),
    Text(String),
    Null,
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Int(v as i64)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(v.to_string())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(v)
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(v.clone())
    }
}
impl From<crate::domain::ChatKind> for Arg {
    fn from(v: crate::domain::ChatKind) -> Self {
        Arg::Text(v.as_str().to_string())
    }
}
impl From<crate::domain::EventKind> for Arg {
    fn from(v: crate::domain::EventKind) -> Self {
        Arg::Text(v.as_str().to_string())
    }
}
impl<T: Into<Arg>> From<Option<T>> for Arg {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(Arg::Null)
    }
}

impl Arg {
    fn to_js(&self) -> JsValue {
        match self {
            // D1 has no BigInt: integers travel as JS numbers (exact below 2^53, and every id,
            // seq and count here stays far below that).
            Arg::Int(i) => JsValue::from_f64(*i as f64),
            Arg::Text(s) => JsValue::from_str(s),
            Arg::Null => JsValue::null(),
        }
    }
}

/// `args![a, b, c]` → `Vec<Arg>`, bound to `?1, ?2, ?3`.
#[macro_export]
macro_rules! args {
    ($($v:expr),* $(,)?) => { vec![$($crate::storage::Arg::from($v)),*] };
}

/// What one request cost in D1. (It also travels from a chat's room to the worker with each
/// write's reply: `serde(default)` lets a worker and a room of different versions agree.)
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, Deserialize)]
#[serde(default)]
pub struct Cost {
    /// Sequential round trips.
    pub trips: u32,
    /// Their total time, ms.
    pub millis: f64,
    /// Rows read, as D1 reports them in each result's metadata (`rows_read`): what D1 bills
    /// reads by, and what a query's time grows with.
    pub rows_read: u64,
    /// Rows written, as D1 reports them (`rows_written`; an index entry counts as a row).
    pub rows_written: u64,
    /// Not D1: the user-stream Durable Objects a chat room called for the write's batch.
    #[serde(default)]
    pub streams: u32,
}

impl std::ops::Add for Cost {
    type Output = Cost;
    fn add(self, o: Cost) -> Cost {
        Cost {
            trips: self.trips + o.trips,
            millis: self.millis + o.millis,
            rows_read: self.rows_read + o.rows_read,
            rows_written: self.rows_written + o.rows_written,
            streams: self.streams + o.streams,
        }
    }
}

pub struct Db {
    d1: D1Database,
    cost: Cell<Cost>,
}

impl Db {
    pub fn new(d1: D1Database) -> Self {
        Db {
            d1,
            cost: Cell::new(Cost::default()),
        }
    }

    /// What this request cost so far.
    pub fn cost(&self) -> Cost {
        self.cost.get()
    }

    /// Prepares `sql` with `args` bound to `?1..?N`.
    fn stmt(&self, sql: &str, args: &[Arg]) -> ApiResult<D1PreparedStatement> {
        let values: Vec<JsValue> = args.iter().map(Arg::to_js).collect();
        Ok(self.d1.prepare(sql).bind(&values)?)
    }

    /// Runs statements in one round trip, atomically (a D1 batch is one transaction), and
    /// accounts for it.
    async fn batch(&self, sts: Vec<D1PreparedStatement>) -> ApiResult<Vec<D1Result>> {
        let start = crate::time::now_ms_f64();
        let out = self.d1.batch(sts).await;
        let mut cost = self.cost.get();
        cost.trips += 1;
        cost.millis += crate::time::now_ms_f64() - start;
        if let Ok(results) = &out {
            for (read, written) in results.iter().map(rows_touched) {
                cost.rows_read += read;
                cost.rows_written += written;
            }
        }
        self.cost.set(cost);
        out.map_err(|e| ApiError::Internal(format!("D1: {e}")))
    }

    /// One statement in its own round trip, returning its rows.
    pub async fn all<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        args: Vec<Arg>,
    ) -> ApiResult<Vec<T>> {
        let mut b = Batch::new(self);
        let rows = b.query::<T>(sql, args)?;
        b.run().await?.all(rows)
    }

    /// One statement in its own round trip, returning its first row.
    pub async fn first<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        args: Vec<Arg>,
    ) -> ApiResult<Option<T>> {
        Ok(self.all(sql, args).await?.into_iter().next())
    }
}

/// (rows read, rows written) of one statement, from its result's metadata.
fn rows_touched(res: &D1Result) -> (u64, u64) {
    res.meta()
        .ok()
        .flatten()
        .map(|m| {
            (
                m.rows_read.unwrap_or(0) as u64,
                m.rows_written.unwrap_or(0) as u64,
            )
        })
        .unwrap_or((0, 0))
}

/// A piece of SQL with its own arguments, numbered `?1..?k` within it. `compose` puts pieces
/// together and renumbers their parameters so each value is bound once.
#[derive(Clone, Debug)]
pub struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: impl Into<String>, args: Vec<Arg>) -> Sql {
        Sql {
            text: text.into(),
            args,
        }
    }

    /// One bound value: `?1`.
    pub fn value(v: impl Into<Arg>) -> Sql {
        Sql::new("?1", vec![v.into()])
    }

    /// The text with every `?N` moved up by `offset`.
    fn shifted(&self, offset: usize) -> String {
        let mut out = String::with_capacity(self.text.len());
        let mut chars = self.text.chars().peekable();
        while let Some(c) = chars.next() {
            out.push(c);
            if c != '?' {
                continue;
            }
            let mut digits = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            match digits.parse::<usize>() {
                Ok(n) => out.push_str(&(n + offset).to_string()),
                Err(_) => out.push_str(&digits),
            }
        }
        out
    }
}

/// `template` (binding `args` to its own `?1..?k`) with each `{}` replaced by the next of
/// `parts`, their parameters renumbered to follow the template's and one another's.
pub fn compose(template: &str, args: Vec<Arg>, parts: &[&Sql]) -> Sql {
    let pieces: Vec<&str> = template.split("{}").collect();
    assert_eq!(
        pieces.len(),
        parts.len() + 1,
        "one part per {{}} in {template}"
    );
    let mut text = String::from(pieces[0]);
    let mut args = args;
    for (part, rest) in parts.iter().zip(&pieces[1..]) {
        text.push_str(&part.shifted(args.len()));
        args.extend(part.args.iter().cloned());
        text.push_str(rest);
    }
    Sql { text, args }
}

/// Who a read is for (whose chats, whose unread counts, whom to leave out): a known user, or
/// the holder of a live session resolved in SQL, so the read can run in the round trip that
/// authenticates (an unknown session reads nothing).
#[derive(Clone, Debug)]
pub enum Viewer {
    User(i64),
    Session { token_hash: String, now: String },
}

impl Viewer {
    /// SQL for the viewer's user id.
    pub fn sql(&self) -> Sql {
        match self {
            Viewer::User(id) => Sql::value(*id),
            Viewer::Session { token_hash, now } => Sql::new(
                "(SELECT user_id FROM sessions WHERE token_hash = ?1 AND expires_at > ?2)",
                args![token_hash.as_str(), now.as_str()],
            ),
        }
    }
}

impl From<i64> for Viewer {
    fn from(id: i64) -> Self {
        Viewer::User(id)
    }
}

/// SQLite booleans are 0/1 integers: reads them as `bool`.
pub fn int_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrBool {
        Int(i64),
        Bool(bool),
    }
    Ok(match IntOrBool::deserialize(d)? {
        IntOrBool::Int(i) => i != 0,
        IntOrBool::Bool(b) => b,
    })
}

/// The schema version row written by schema.sql; `None` when the schema is not applied.
pub async fn schema_version(db: &Db) -> ApiResult<Option<i64>> {
    #[derive(Deserialize)]
    struct Row {
        version: i64,
    }
    let row: Option<Row> = db
        .first("SELECT version FROM schema_meta WHERE id = 1", vec![])
        .await?;
    Ok(row.map(|r| r.version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_renumbers_each_part_after_the_previous_ones() {
        let viewer = Sql::new("(SELECT ?1 + ?2)", args![1, 2]);
        let filter = Sql::new("a = ?1 OR b = ?1", args![3]);
        let s = compose(
            "x = {} AND {} LIMIT ?1 -- ?1 again",
            args![10],
            &[&viewer, &filter],
        );
        assert_eq!(
            s.text,
            "x = (SELECT ?2 + ?3) AND a = ?4 OR b = ?4 LIMIT ?1 -- ?1 again"
        );
        assert_eq!(s.args.len(), 4);
        assert_eq!(
            Sql::new("?10 ? ?2", vec![]).shifted(1),
            "?11 ? ?3",
            "multi-digit and bare marks"
        );
    }
}
