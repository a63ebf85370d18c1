//! The storage layer: every SQL statement of the worker lives under this module, one documented
//! function per query, every value bound (never formatted into SQL).
//!
//! `Db` wraps the D1 binding and counts sequential round trips and their time, which the
//! responder reports as `Server-Timing: d1;desc="<trips>";dur=<ms>` on every API response.

pub mod chats;
pub mod events;
pub mod messages;
pub mod rooms;
pub mod users;

use std::cell::Cell;

use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result};

use crate::error::{ApiError, ApiResult};

/// A value bound to a `?` placeholder.
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

/// `args![a, b, c]` → `Vec<Arg>`.
#[macro_export]
macro_rules! args {
    ($($v:expr),* $(,)?) => { vec![$($crate::storage::Arg::from($v)),*] };
}

pub struct Db {
    d1: D1Database,
    trips: Cell<u32>,
    millis: Cell<f64>,
}

impl Db {
    pub fn new(d1: D1Database) -> Self {
        Db {
            d1,
            trips: Cell::new(0),
            millis: Cell::new(0.0),
        }
    }

    /// Sequential D1 round trips so far, and their total time in ms.
    pub fn round_trips(&self) -> (u32, f64) {
        (self.trips.get(), self.millis.get())
    }

    /// Prepares `sql` with `args` bound in order.
    pub fn stmt(&self, sql: &str, args: Vec<Arg>) -> ApiResult<D1PreparedStatement> {
        let values: Vec<JsValue> = args.iter().map(Arg::to_js).collect();
        Ok(self.d1.prepare(sql).bind(&values)?)
    }

    async fn timed<T>(
        &self,
        fut: impl std::future::Future<Output = worker::Result<T>>,
    ) -> ApiResult<T> {
        let start = crate::time::now_ms_f64();
        let out = fut.await;
        self.trips.set(self.trips.get() + 1);
        self.millis
            .set(self.millis.get() + (crate::time::now_ms_f64() - start));
        out.map_err(|e| ApiError::Internal(format!("D1: {e}")))
    }

    /// One round trip returning every row.
    pub async fn all<T: DeserializeOwned>(&self, st: D1PreparedStatement) -> ApiResult<Vec<T>> {
        let res = self.timed(st.all()).await?;
        rows(&res)
    }

    /// One round trip returning the first row, if any.
    pub async fn first<T: DeserializeOwned>(
        &self,
        st: D1PreparedStatement,
    ) -> ApiResult<Option<T>> {
        Ok(self.all(st).await?.into_iter().next())
    }

    /// One round trip for a statement whose rows are not needed; returns rows changed.
    pub async fn run(&self, st: D1PreparedStatement) -> ApiResult<usize> {
        let res = self.timed(st.run()).await?;
        Ok(changes(&res))
    }

    /// Several statements in one round trip, atomically (a D1 batch is one transaction).
    pub async fn batch(&self, sts: Vec<D1PreparedStatement>) -> ApiResult<Vec<D1Result>> {
        self.timed(self.d1.batch(sts)).await
    }
}

/// Who is asking, for statements that depend on it (whose chats, whom to leave out).
#[derive(Clone)]
pub enum Viewer {
    User(i64),
    /// The holder of a live session, resolved in SQL, so a read can run in the round trip that
    /// authenticates (an unknown session reads nothing).
    Session {
        token_hash: String,
        now: String,
    },
}

impl Viewer {
    /// SQL for the viewer's user id, and its arguments.
    pub fn sql(&self) -> (&'static str, Vec<Arg>) {
        match self {
            Viewer::User(id) => ("?", args![*id]),
            Viewer::Session { token_hash, now } => (
                "(SELECT user_id FROM sessions WHERE token_hash = ? AND expires_at > ?)",
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

/// Rows of one statement's result.
pub fn rows<T: DeserializeOwned>(res: &D1Result) -> ApiResult<Vec<T>> {
    Ok(res.results::<T>()?)
}

/// First row of one statement's result.
pub fn first_row<T: DeserializeOwned>(res: &D1Result) -> ApiResult<Option<T>> {
    Ok(rows::<T>(res)?.into_iter().next())
}

/// Rows written by one statement of a batch.
pub fn changes(res: &D1Result) -> usize {
    res.meta()
        .ok()
        .flatten()
        .and_then(|m| m.changes)
        .unwrap_or(0)
}

/// The schema version row written by schema.sql; `None` when the schema is not applied.
pub async fn schema_version(db: &Db) -> ApiResult<Option<i64>> {
    #[derive(serde::Deserialize)]
    struct Row {
        version: i64,
    }
    let row: Option<Row> = db
        .first(db.stmt("SELECT version FROM schema_meta WHERE id = 1", vec![])?)
        .await?;
    Ok(row.map(|r| r.version))
}
