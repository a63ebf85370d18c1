//! The one way statements reach D1: a `Batch` of statements run in one round trip, as one
//! transaction. Pushing a statement hands back a typed handle; after `run`, the handle reads
//! that statement's rows (`Rows<T>`) or changes (`Exec`). Nothing outside this file indexes a
//! result vector, so statements can be added or reordered without breaking their readers.
//!
//! The chat event sequencer is one method of the builder (`Batch::event`): it appends a
//! durable event to a chat's log in the same transaction as the change it records.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use worker::{D1PreparedStatement, D1Result};

use super::{compose, Arg, Db, Sql};
use crate::args;
use crate::domain::EventKind;
use crate::error::{ApiError, ApiResult};

/// Statements to run together.
pub struct Batch<'a> {
    db: &'a Db,
    statements: Vec<D1PreparedStatement>,
}

/// A statement whose rows are read as `T`.
pub struct Rows<T> {
    at: usize,
    _row: PhantomData<fn() -> T>,
}

impl<T> Clone for Rows<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Rows<T> {}

/// A statement whose number of changed rows is read.
#[derive(Debug, Clone, Copy)]
pub struct Exec {
    at: usize,
}

/// The outcome of a batch, read through the handles its statements returned.
pub struct Results {
    results: Vec<D1Result>,
}

impl<'a> Batch<'a> {
    pub fn new(db: &'a Db) -> Self {
        Batch {
            db,
            statements: Vec::new(),
        }
    }

    fn push(&mut self, sql: &str, args: &[Arg]) -> ApiResult<usize> {
        self.statements.push(self.db.stmt(sql, args)?);
        Ok(self.statements.len() - 1)
    }

    /// A statement whose rows are wanted.
    pub fn query<T: DeserializeOwned>(&mut self, sql: &str, args: Vec<Arg>) -> ApiResult<Rows<T>> {
        Ok(Rows {
            at: self.push(sql, &args)?,
            _row: PhantomData,
        })
    }

    /// A statement run for its effect; its changed-row count can be read.
    pub fn exec(&mut self, sql: &str, args: Vec<Arg>) -> ApiResult<Exec> {
        Ok(Exec {
            at: self.push(sql, &args)?,
        })
    }

    /// Runs every statement in one round trip (none when the batch is empty).
    pub async fn run(self) -> ApiResult<Results> {
        if self.statements.is_empty() {
            return Ok(Results {
                results: Vec::new(),
            });
        }
        let count = self.statements.len();
        let results = self.db.batch(self.statements).await?;
        if results.len() != count {
            return Err(ApiError::Internal(format!(
                "D1 answered {} results for {count} statements",
                results.len()
            )));
        }
        Ok(Results { results })
    }

    /// Appends `event` to `chat_id`'s log when `guard` holds (an SQL condition over the
    /// `chats` row), in the same transaction as the change
    /// that `change` pushes. The chat's `last_seq` is bumped first; statements pushed by
    /// `change` test [`pending`] to act only when the bump happened; the event row is written
    /// after them (which ends "pending").
    pub fn event<R>(
        &mut self,
        chat_id: i64,
        guard: Option<Sql>,
        event: NewEvent,
        change: impl FnOnce(&mut Self) -> ApiResult<R>,
    ) -> ApiResult<(Sequenced, R)> {
        let guard = guard.unwrap_or_else(|| Sql::new("1", vec![]));
        let bump = compose(
            "UPDATE chats SET last_seq = last_seq + 1 WHERE id = ?1 AND ({})
             RETURNING last_seq, member_gen,
               COALESCE((SELECT p.gid FROM chat_events p
                         WHERE p.chat_id = chats.id AND p.seq = chats.last_seq - 1), 0)
                 AS prev_gid",
            args![chat_id],
            &[&guard],
        );
        let bump = self.query(&bump.text, bump.args)?;
        let out = change(self)?;
        let message_sql = match event.message {
            EventRef::None => "NULL".to_string(),
            EventRef::Message(_) => "?6".to_string(),
            // Newest first: the message this batch just inserted is the chat's newest, so the
            // seek reads one row (in id order it walked the whole chat: issue 18).
            EventRef::PendingMessage => "(SELECT m.id FROM messages m
                 WHERE m.chat_id = chats.id AND m.seq = chats.last_seq ORDER BY m.id DESC LIMIT 1)"
                .to_string(),
            EventRef::ReadPointer(_) => "(SELECT p.last_read_message_id FROM chat_members p
                 WHERE p.chat_id = chats.id AND p.user_id = ?6)"
                .to_string(),
        };
        let mut insert_args = args![
            chat_id,
            event.kind,
            event.user_id,
            event.data,
            event.now.as_str()
        ];
        if let EventRef::Message(id) | EventRef::ReadPointer(id) = event.message {
            insert_args.push(Arg::Int(id)); // ?6: D1 wants exactly as many values as parameters
        }
        // Old events are pruned by the `chat_events_retention` trigger (schema.sql); the
        // membership triggers write the user stream's `user_events`.
        let row = self.query(
            &format!(
                "INSERT INTO chat_events (chat_id, seq, type, message_id, user_id, data, created_at)
                 SELECT id, last_seq, ?2, {message_sql}, ?3, ?4, ?5 FROM chats
                 WHERE id = ?1 AND {PENDING}
                 RETURNING gid"
            ),
            insert_args,
        )?;
        Ok((Sequenced { bump, row }, out))
    }
}

impl Results {
    fn result(&self, at: usize) -> ApiResult<&D1Result> {
        self.results
            .get(at)
            .ok_or_else(|| ApiError::Internal("a statement of another batch".into()))
    }

    /// Every row of a statement.
    pub fn all<T: DeserializeOwned>(&self, h: Rows<T>) -> ApiResult<Vec<T>> {
        Ok(self.result(h.at)?.results::<T>()?)
    }

    /// The first row of a statement, if any.
    pub fn first<T: DeserializeOwned>(&self, h: Rows<T>) -> ApiResult<Option<T>> {
        Ok(self.all(h)?.into_iter().next())
    }

    /// Rows a statement changed.
    pub fn changes(&self, h: Exec) -> usize {
        self.results
            .get(h.at)
            .and_then(|r| r.meta().ok().flatten())
            .and_then(|m| m.changes)
            .unwrap_or(0)
    }
}

/// SQL condition over a `chats` row: true right after this batch bumped `last_seq` (in
/// `Batch::event`) and before it wrote the event row.
pub const PENDING: &str = "chats.last_seq > 0 AND NOT EXISTS (SELECT 1 FROM chat_events e
     WHERE e.chat_id = chats.id AND e.seq = chats.last_seq)";

/// SQL condition: chat `?{param}` has a pending event (see `PENDING`).
pub fn pending(param: usize) -> String {
    format!("EXISTS (SELECT 1 FROM chats WHERE id = ?{param} AND {PENDING})")
}

/// What an event row points at.
pub enum EventRef {
    None,
    Message(i64),
    /// The message this batch inserted with the pending seq (new_message).
    PendingMessage,
    /// The read pointer of this user after the change (read_receipt).
    ReadPointer(i64),
}

/// One event to append: its type, what it refers to, and JSON known up front.
pub struct NewEvent {
    pub kind: EventKind,
    pub message: EventRef,
    pub user_id: Option<i64>,
    pub data: Option<String>,
    pub now: String,
}

/// The handle of an event appended by `Batch::event`.
#[derive(Clone, Copy)]
pub struct Sequenced {
    bump: Rows<Bump>,
    row: Rows<Gid>,
}

/// What the sequencer's bump returns.
#[derive(Deserialize)]
struct Bump {
    last_seq: i64,
    member_gen: i64,
    prev_gid: i64,
}

/// A `gid` column.
#[derive(Deserialize)]
pub struct Gid {
    pub gid: i64,
}

/// An event's place in the user streams' global order: its gid, and the gid of the chat's
/// event before it (0: none retained), with which a stream checks it missed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, Deserialize)]
pub struct Global {
    pub gid: i64,
    pub prev_gid: i64,
}

/// Where an event stands: its seq, and the chat's membership generation when it was made
/// (bumped by every removal: a room that sees a newer one re-checks its sockets' membership).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Stamp {
    #[serde(rename = "last_seq")]
    pub seq: i64,
    pub member_gen: i64,
    /// Where the event stands among every chat's (0s when read from `chats` alone).
    #[serde(default)]
    pub global: Global,
}

impl Sequenced {
    /// The event's stamp, or `None` when the guard did not hold (nothing was written).
    pub fn stamp(&self, res: &Results) -> ApiResult<Option<Stamp>> {
        let Some(bump) = res.first(self.bump)? else {
            return Ok(None);
        };
        let gid = res.first(self.row)?.map_or(0, |r| r.gid);
        Ok(Some(Stamp {
            seq: bump.last_seq,
            member_gen: bump.member_gen,
            global: Global {
                gid,
                prev_gid: bump.prev_gid,
            },
        }))
    }
}
