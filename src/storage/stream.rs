//! The user stream's reads and presence (docs/realtime.md, "The user stream").
//!
//! A read returns, in one round trip, the events after a cursor of every chat the viewer
//! belongs to and the viewer's own membership changes (`user_events`), oldest first, with
//! what rendering them needs (their messages, reactions and read pointers, and the chats that
//! `chat_added` / `chat_updated` carry).
//!
//! Which events: a recent cursor (within `RECENT` gids of the newest) scans the log by gid
//! and checks each event's membership — cost grows with what everybody wrote since the
//! cursor, a few rows for a client that polls every 3 s. An older cursor probes each of the
//! viewer's chats by its (chat, gid) index instead — cost grows with the viewer's chats, not
//! with any chat's size. The choice sits in the bounds each branch searches its index with
//! (an empty gid range, or a NULL user), evaluated once per statement: the branch not taken
//! reads no rows (as a plain WHERE term it was checked row by row, one row per chat of the
//! viewer's in every empty poll). Either way a read spans at most `WINDOW` gids.

use std::collections::HashMap;

use serde::Deserialize;

use super::chats::{page, Page, PageData, PageReads};
use super::messages::{Loaded, MessageRow, PointerRow, ReactionRow, MESSAGE_COLUMNS, MESSAGE_FROM};
use super::{compose, int_bool, Batch, Db, Results, Rows, Sql, Viewer};
use crate::args;
use crate::cursor::Cursor;
use crate::error::ApiResult;

/// Gids one read spans at most: bounds the rows a stale cursor can make one read walk.
pub const WINDOW: i64 = 10_000;
/// A cursor this close to the newest gid is read by scanning the log rather than probing
/// each of the viewer's chats.
const RECENT: i64 = 1_000;

/// The newest gid handed out (0 before any event).
const HEAD: &str = "(SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'chat_events')";

/// One stream row: a chat event (`seq` set) or one of the viewer's membership changes
/// (`chat_added` / `chat_removed`, no seq).
#[derive(Debug, Clone, Deserialize)]
pub struct StreamRow {
    pub gid: i64,
    pub chat_id: i64,
    pub seq: Option<i64>,
    #[serde(rename = "type")]
    pub kind: String,
    pub message_id: Option<i64>,
    pub user_id: Option<i64>,
    pub data: Option<String>,
}

/// The log's head, and whether the cursor needs events already pruned.
#[derive(Debug, Deserialize)]
pub struct Head {
    pub head: i64,
    #[serde(deserialize_with = "int_bool")]
    pub stale: bool,
}

/// A message with its reactions, oldest first, as a JSON array of `[emoji, user_id]`: read in
/// the message's statement, one statement fewer in every poll.
#[derive(Debug, Deserialize)]
struct StreamMessage {
    #[serde(flatten)]
    message: MessageRow,
    reactions: String,
}

/// A read pointer with its chat.
#[derive(Debug, Deserialize)]
struct ChatPointer {
    chat_id: i64,
    user_id: i64,
    last_read_message_id: i64,
}

/// What a read returned.
pub struct StreamData {
    pub rows: Vec<StreamRow>,
    pub head: Head,
    /// The messages the rows name, per chat, with their reactions and the chat's pointers.
    pub loaded: HashMap<i64, Loaded>,
    /// The chats `chat_added` and `chat_updated` rows carry, as the viewer sees them.
    pub chats: PageData,
    /// Where a read that returned fewer than `limit` rows ends: everything up to here was read.
    pub upto: i64,
}

/// The statements of a read in a batch.
pub struct StreamReads {
    rows: Rows<StreamRow>,
    head: Rows<Head>,
    messages: Rows<StreamMessage>,
    pointers: Rows<ChatPointer>,
    chats: PageReads,
    upto: i64,
}

/// The selected rows, oldest first: `?1` after, `?2` up to, `?3` seen JSON, `?4` limit.
fn selected(viewer: &Viewer, cursor: &Cursor, limit: i64) -> Sql {
    let upto = cursor.base.saturating_add(WINDOW);
    let v = viewer.sql();
    let head = Sql::new(HEAD, vec![]);
    compose(
        &format!(
            "SELECT gid, chat_id, seq, type, message_id, user_id, data FROM (
           SELECT e.gid, e.chat_id, e.seq, e.type, e.message_id, e.user_id, e.data
           FROM chat_events e CROSS JOIN chat_members m
           WHERE e.gid > ?1 AND e.gid <= (CASE WHEN {{}} <= ?1 + {RECENT} THEN ?2 ELSE ?1 END)
             AND m.chat_id = e.chat_id AND m.user_id = {{}} AND e.gid > m.since_gid
             AND e.seq > COALESCE(json_extract(?3, '$.c' || e.chat_id), 0)
           UNION ALL
           SELECT e.gid, e.chat_id, e.seq, e.type, e.message_id, e.user_id, e.data
           FROM chat_members m CROSS JOIN chat_events e
           WHERE m.user_id = (CASE WHEN {{}} > ?1 + {RECENT} THEN {{}} END)
             AND e.chat_id = m.chat_id AND e.gid > MAX(?1, m.since_gid) AND e.gid <= ?2
             AND e.seq > COALESCE(json_extract(?3, '$.c' || e.chat_id), 0)
           UNION ALL
           SELECT u.gid, u.chat_id, NULL, u.type, NULL, NULL, NULL FROM user_events u
           WHERE u.user_id = {{}} AND u.gid > ?1 AND u.gid <= ?2)
         ORDER BY gid LIMIT ?4"
        ),
        args![cursor.base, upto, cursor.seen_json(), limit],
        &[&head, &v, &head, &v, &v],
    )
}

/// The chats a read's `chat_added` and `chat_updated` rows may carry (SQL over `c`): of the
/// viewer's own membership changes and of the renames of their chats after the cursor (and its
/// per-chat seqs), the first `limit` each. The rows the read returns are among those (it
/// returns the first `limit` of all, by the same conditions), so this holds every chat they
/// carry, and at most `2 * limit`. Each half is one indexed range (`user_events`' key,
/// `chat_events_updates`), instead of the whole event selection written out again in each of
/// the page's three statements (with it, an empty poll ran at 45–50 % of `/healthz` req/s in
/// `make bench`; with this, 53 %).
fn carried_chats(viewer: &Viewer, cursor: &Cursor, limit: i64) -> Sql {
    let v = viewer.sql();
    compose(
        "c.id IN (
           SELECT chat_id FROM (
             SELECT u.chat_id FROM user_events u
             WHERE u.user_id = {} AND u.type = 'chat_added' AND u.gid > ?1 AND u.gid <= ?2
             ORDER BY u.gid LIMIT ?3)
           UNION
           SELECT chat_id FROM (
             SELECT e.chat_id FROM chat_events e
             WHERE e.type = 'chat_updated' AND e.gid > ?1 AND e.gid <= ?2
               AND EXISTS (SELECT 1 FROM chat_members m
                           WHERE m.chat_id = e.chat_id AND m.user_id = {}
                             AND e.gid > m.since_gid)
               AND e.seq > COALESCE(json_extract(?4, '$.c' || e.chat_id), 0)
             ORDER BY e.gid LIMIT ?3))",
        args![
            cursor.base,
            cursor.base.saturating_add(WINDOW),
            limit,
            cursor.seen_json()
        ],
        &[&v, &v],
    )
}

/// Pushes a read of `viewer`'s stream after `cursor` (at most `limit` rows) into `b`.
pub fn read(b: &mut Batch, viewer: &Viewer, cursor: &Cursor, limit: i64) -> ApiResult<StreamReads> {
    let ev = selected(viewer, cursor, limit);
    let head = compose(
        &format!(
            "SELECT {HEAD} AS head,
               CASE WHEN (SELECT value FROM id_floors WHERE name = 'events_pruned') > ?1
                 THEN EXISTS (SELECT 1 FROM chat_members m JOIN chats c ON c.id = m.chat_id
                              WHERE m.user_id = {{}} AND c.pruned_gid > MAX(?1, m.since_gid))
                 ELSE 0 END AS stale"
        ),
        args![cursor.base],
        &[&viewer.sql()],
    );
    let head = b.query(&head.text, head.args)?;
    let rows = b.query(&ev.text, ev.args.clone())?;
    let message_ids = compose(
        "SELECT message_id FROM ({}) WHERE type IN
           ('new_message', 'message_updated', 'reaction_updated')",
        vec![],
        &[&ev],
    );
    let messages = compose(
        &format!(
            "SELECT {MESSAGE_COLUMNS},
               (SELECT json_group_array(json_array(r.emoji, r.user_id) ORDER BY r.id)
                FROM reactions r WHERE r.message_id = msg.id) AS reactions
             FROM {MESSAGE_FROM} WHERE msg.id IN ({{}})"
        ),
        vec![],
        &[&message_ids],
    );
    let pointers = compose(
        "SELECT chat_id, user_id, last_read_message_id FROM chat_members
         WHERE chat_id IN (SELECT chat_id FROM ({}) WHERE type IN
           ('new_message', 'message_updated', 'reaction_updated'))",
        vec![],
        &[&ev],
    );
    let chats = Page {
        viewer: viewer.clone(),
        filter: carried_chats(viewer, cursor, limit),
        // At most `limit` chats of each kind of event.
        limit: 2 * limit,
        offset: 0,
        rooms: false,
        counted: false,
    };
    Ok(StreamReads {
        rows,
        head,
        messages: b.query(&messages.text, messages.args)?,
        pointers: b.query(&pointers.text, pointers.args)?,
        chats: page(b, &chats)?,
        upto: cursor.base.saturating_add(WINDOW),
    })
}

impl StreamReads {
    pub fn read(&self, res: &Results) -> ApiResult<StreamData> {
        let head = res.first(self.head)?.unwrap_or(Head {
            head: 0,
            stale: false,
        });
        let mut loaded: HashMap<i64, Loaded> = HashMap::new();
        for StreamMessage { message, reactions } in res.all(self.messages)? {
            let l = loaded.entry(message.chat_id).or_default();
            let reactions: Vec<(String, i64)> = serde_json::from_str(&reactions)?;
            l.reactions
                .extend(reactions.into_iter().map(|(emoji, user_id)| ReactionRow {
                    message_id: message.id,
                    emoji,
                    user_id,
                }));
            l.messages.push(message);
        }
        for p in res.all(self.pointers)? {
            if let Some(l) = loaded.get_mut(&p.chat_id) {
                l.pointers.push(PointerRow {
                    user_id: p.user_id,
                    last_read_message_id: p.last_read_message_id,
                });
            }
        }
        Ok(StreamData {
            rows: res.all(self.rows)?,
            head,
            loaded,
            chats: self.chats.read(res)?,
            upto: self.upto,
        })
    }
}

/// A read in its own round trip (the UserStream object's catch-ups).
pub async fn load(db: &Db, user_id: i64, cursor: &Cursor, limit: i64) -> ApiResult<StreamData> {
    let mut b = Batch::new(db);
    let reads = read(&mut b, &Viewer::User(user_id), cursor, limit)?;
    reads.read(&b.run().await?)
}

/// The newest gid, for a stream that starts now (`viewer`'s session checked by the caller's
/// batch).
pub fn head(b: &mut Batch) -> ApiResult<Rows<Head>> {
    b.query(&format!("SELECT {HEAD} AS head, 0 AS stale"), vec![])
}

/// The newest gid now, in its own round trip (a socket that starts without a cursor).
pub async fn head_now(db: &Db) -> ApiResult<i64> {
    let row: Option<Head> = db
        .first(&format!("SELECT {HEAD} AS head, 0 AS stale"), vec![])
        .await?;
    Ok(row.map_or(0, |h| h.head))
}

/// Marks `user_ids` as having a stream open until `expires_at` (their stream hub renews it
/// while they have sockets open).
pub async fn present(db: &Db, user_ids: &[i64], expires_at: &str) -> ApiResult<()> {
    let mut b = Batch::new(db);
    b.exec(
        "INSERT INTO stream_presence (user_id, expires_at)
         SELECT value, ?2 FROM json_each(?1) WHERE true
         ON CONFLICT (user_id) DO UPDATE SET expires_at = excluded.expires_at",
        args![serde_json::to_string(user_ids)?, expires_at],
    )?;
    b.run().await?;
    Ok(())
}

/// `user_id` has no stream open any more.
pub async fn absent(db: &Db, user_id: i64) -> ApiResult<()> {
    let mut b = Batch::new(db);
    b.exec(
        "DELETE FROM stream_presence WHERE user_id = ?1",
        args![user_id],
    )?;
    b.run().await?;
    Ok(())
}

/// Which members of chat `?1` (and of the JSON array `?2`, users joining in this batch) have
/// a stream open at `?3`: pushed into a chat's write batch before its writes (every send reads
/// it; `OnlineIds` says why one row).
pub fn online(
    b: &mut Batch,
    chat_id: i64,
    joining: &[i64],
    now: &str,
) -> ApiResult<Rows<OnlineIds>> {
    b.query(
        "SELECT json_group_array(p.user_id) AS user_ids FROM stream_presence p
         WHERE p.expires_at > ?3
           AND (p.user_id IN (SELECT user_id FROM chat_members WHERE chat_id = ?1)
                OR p.user_id IN (SELECT value FROM json_each(?2)))",
        args![chat_id, serde_json::to_string(joining)?, now],
    )
}

/// The handles of `created`.
pub struct CreatedReads {
    event: Rows<super::batch::Gid>,
    online: Rows<OnlineIds>,
}

/// Logs chat `target`'s creation (`chat_created`, seq 0) when this batch added its first
/// members (their rows are still pending): its trigger starts their streams there and gives
/// each `chat_added`. Also reads which of them have a stream open, to tell their hubs.
pub fn created(b: &mut Batch, target: &Sql, now: &str) -> ApiResult<CreatedReads> {
    let event = compose(
        "INSERT INTO chat_events (chat_id, seq, type, created_at)
         SELECT {}, 0, 'chat_created', ?1
         WHERE EXISTS (SELECT 1 FROM chat_members WHERE chat_id = {} AND since_gid < 0)
         RETURNING gid",
        args![now],
        &[target, target],
    );
    let online = compose(
        "SELECT json_group_array(m.user_id) AS user_ids
         FROM chat_members m JOIN stream_presence p ON p.user_id = m.user_id
         WHERE m.chat_id = {} AND p.expires_at > ?1",
        args![now],
        &[target],
    );
    Ok(CreatedReads {
        event: b.query(&event.text, event.args)?,
        online: b.query(&online.text, online.args)?,
    })
}

impl CreatedReads {
    /// The members with a stream open, when this batch created the chat.
    pub fn read(&self, res: &Results) -> ApiResult<Option<Vec<i64>>> {
        Ok(match res.first(self.event)? {
            Some(_) => Some(OnlineIds::read(res, self.online)?),
            None => None,
        })
    }
}

/// The users with a stream open, as one row holding a JSON array of their ids (`online`,
/// `created`): a row per user was converted one by one by the room on every send (`make
/// profile` with 100 stream receivers: D1's JS layer 2.77 ms per message, 1.04 with one row).
#[derive(Debug, Deserialize)]
pub struct OnlineIds {
    user_ids: String,
}

impl OnlineIds {
    /// The ids such a statement read.
    pub fn read(res: &Results, rows: Rows<OnlineIds>) -> ApiResult<Vec<i64>> {
        match res.first(rows)? {
            Some(row) => Ok(serde_json::from_str(&row.user_ids)?),
            None => Ok(Vec::new()),
        }
    }
}
