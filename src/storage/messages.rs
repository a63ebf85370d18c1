//! Messages, reactions and read pointers.

use serde::Deserialize;
use worker::{D1PreparedStatement, D1Result};

use super::events::{self, EventRef, NewEvent, PENDING};
use super::users::UserRow;
use super::{changes, first_row, rows, Arg, Db};
use crate::args;
use crate::error::ApiResult;

/// A message row joined with its sender (`sender_*` are NULL when the account is gone).
#[derive(Debug, Clone, Deserialize)]
pub struct MessageRow {
    pub id: i64,
    pub chat_id: i64,
    pub seq: i64,
    pub content: String,
    pub client_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub is_edited: i64,
    pub is_deleted: i64,
    pub sender_id: Option<i64>,
    pub sender_username: Option<String>,
    pub sender_email: Option<String>,
    pub sender_first_name: Option<String>,
    pub sender_last_name: Option<String>,
}

impl MessageRow {
    pub fn sender(&self) -> Option<UserRow> {
        Some(UserRow {
            id: self.sender_id?,
            username: self.sender_username.clone()?,
            email: self.sender_email.clone().unwrap_or_default(),
            first_name: self.sender_first_name.clone().unwrap_or_default(),
            last_name: self.sender_last_name.clone().unwrap_or_default(),
        })
    }
}

/// Columns of `MessageRow`, for `FROM messages msg LEFT JOIN users su ON su.id = msg.sender_id`.
pub const MESSAGE_COLUMNS: &str = "msg.id, msg.chat_id, msg.seq, msg.content, msg.client_id,
    msg.created_at, msg.updated_at, msg.is_edited, msg.is_deleted, msg.sender_id,
    su.username AS sender_username, su.email AS sender_email,
    su.first_name AS sender_first_name, su.last_name AS sender_last_name";

/// The join that goes with `MESSAGE_COLUMNS`.
pub const MESSAGE_FROM: &str = "messages msg LEFT JOIN users su ON su.id = msg.sender_id";

/// One reaction row.
#[derive(Debug, Clone, Deserialize)]
pub struct ReactionRow {
    pub message_id: i64,
    pub emoji: String,
    pub user_id: i64,
}

/// A member's read pointer.
#[derive(Debug, Clone, Deserialize)]
pub struct PointerRow {
    pub user_id: i64,
    pub last_read_message_id: i64,
}

/// Messages with what rendering them needs: their reactions and the chat's read pointers.
pub struct Loaded {
    pub messages: Vec<MessageRow>,
    pub reactions: Vec<ReactionRow>,
    pub pointers: Vec<PointerRow>,
}

/// The two statements loading reactions (of the messages `ids_sql` selects) and the read
/// pointers of the chat `chat_sql` names.
fn extras(
    db: &Db,
    (chat_sql, chat_args): (&str, Vec<Arg>),
    ids_sql: &str,
    ids_args: Vec<Arg>,
) -> ApiResult<[D1PreparedStatement; 2]> {
    Ok([
        db.stmt(
            &format!(
                "SELECT message_id, emoji, user_id FROM reactions
                 WHERE message_id IN ({ids_sql}) ORDER BY id"
            ),
            ids_args,
        )?,
        db.stmt(
            &format!(
                "SELECT user_id, last_read_message_id FROM chat_members WHERE chat_id = {chat_sql}"
            ),
            chat_args,
        )?,
    ])
}

fn loaded(res: &[D1Result], at: usize) -> ApiResult<Loaded> {
    Ok(Loaded {
        messages: rows(&res[at])?,
        reactions: rows(&res[at + 1])?,
        pointers: rows(&res[at + 2])?,
    })
}

/// Which messages a list page holds (newest first unless `ascending`).
pub struct Window {
    pub before: Option<i64>,
    pub after: Option<i64>,
    /// `after` alone pages forward: the oldest messages after it.
    pub ascending: bool,
    pub limit: i64,
    pub offset: i64,
}

/// The chat's message count and id range.
#[derive(Debug, Deserialize)]
pub struct Bounds {
    pub count: i64,
    pub min_id: Option<i64>,
    pub max_id: Option<i64>,
}

/// The statements loading a page of a chat's messages with reactions, pointers and the chat's
/// bounds, to batch with authentication; `page_data` reads their results.
pub fn page_stmts(db: &Db, chat_id: i64, w: &Window) -> ApiResult<Vec<D1PreparedStatement>> {
    let order = if w.ascending { "ASC" } else { "DESC" };
    let ids_sql = format!(
        "SELECT id FROM messages WHERE chat_id = ? AND id < COALESCE(?, 9007199254740991)
           AND id > COALESCE(?, 0) ORDER BY id {order} LIMIT ? OFFSET ?"
    );
    let ids_args = args![chat_id, w.before, w.after, w.limit, w.offset];
    let msgs = db.stmt(
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} WHERE msg.id IN ({ids_sql})
             ORDER BY msg.id DESC"
        ),
        ids_args.clone(),
    )?;
    let [reactions, pointers] = extras(db, ("?", args![chat_id]), &ids_sql, ids_args)?;
    let bounds = db.stmt(
        "SELECT COUNT(*) AS count, MIN(id) AS min_id, MAX(id) AS max_id FROM messages
         WHERE chat_id = ?",
        args![chat_id],
    )?;
    Ok(vec![msgs, reactions, pointers, bounds])
}

/// Reads the results of `page_stmts`.
pub fn page_data(res: &[D1Result]) -> ApiResult<(Loaded, Bounds)> {
    let bounds = first_row(&res[3])?.unwrap_or(Bounds {
        count: 0,
        min_id: None,
        max_id: None,
    });
    Ok((loaded(res, 0)?, bounds))
}

/// A message the caller may see, with its chat's type, found through the caller's session.
#[derive(Debug, Deserialize)]
pub struct MessageAccess {
    #[serde(flatten)]
    pub message: MessageRow,
    /// JSON array of the emoji the caller has put on this message.
    pub my_emoji: String,
    /// Distinct emoji on the message.
    pub distinct_emoji: i64,
}

/// The statement finding message `id` for the holder of a live session, only when they are a
/// member of its chat (batched with authentication; no row = 404).
pub fn access_by_session(
    db: &Db,
    id: i64,
    token_hash: &str,
    now: &str,
) -> ApiResult<D1PreparedStatement> {
    db.stmt(
        &format!(
            "SELECT {MESSAGE_COLUMNS},
               (SELECT json_group_array(r.emoji) FROM reactions r
                WHERE r.message_id = msg.id AND r.user_id = s.user_id) AS my_emoji,
               (SELECT COUNT(DISTINCT r.emoji) FROM reactions r WHERE r.message_id = msg.id)
                 AS distinct_emoji
             FROM {MESSAGE_FROM}
             JOIN chat_members me ON me.chat_id = msg.chat_id
             JOIN sessions s ON s.user_id = me.user_id
             WHERE msg.id = ? AND s.token_hash = ? AND s.expires_at > ?"
        ),
        args![id, token_hash, now],
    )
}

/// One message with reactions and pointers (after a change).
fn one_stmts(db: &Db, chat_id: i64, id: i64) -> ApiResult<Vec<D1PreparedStatement>> {
    let [reactions, pointers] = extras(db, ("?", args![chat_id]), "?", args![id])?;
    Ok(vec![
        db.stmt(
            &format!("SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} WHERE msg.id = ?"),
            args![id],
        )?,
        reactions,
        pointers,
    ])
}

/// The reactions and read pointers rendering message `id` needs, to batch with authentication
/// (`access_by_session`); `with_extras` puts the message and their results together.
pub fn extras_stmts(db: &Db, id: i64) -> ApiResult<Vec<D1PreparedStatement>> {
    let chat = ("(SELECT chat_id FROM messages WHERE id = ?)", args![id]);
    Ok(extras(db, chat, "?", args![id])?.to_vec())
}

/// The statements `extras_stmts` feeds, with the pointers of the message's chat.
pub fn with_extras(message: MessageRow, res: &[D1Result]) -> ApiResult<Loaded> {
    Ok(Loaded {
        messages: vec![message],
        reactions: rows(&res[0])?,
        pointers: rows(&res[1])?,
    })
}

/// Messages `ids` of the chat with reactions and pointers, in one batch (replayed events).
pub async fn load_many(db: &Db, chat_id: i64, ids: &[i64]) -> ApiResult<Loaded> {
    let ids_json = serde_json::to_string(ids)?;
    let ids_sql = "SELECT value FROM json_each(?)";
    let msgs = db.stmt(
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM}
             WHERE msg.chat_id = ? AND msg.id IN ({ids_sql}) ORDER BY msg.id DESC"
        ),
        args![chat_id, ids_json.as_str()],
    )?;
    let [reactions, pointers] =
        extras(db, ("?", args![chat_id]), ids_sql, args![ids_json.as_str()])?;
    let res = db.batch(vec![msgs, reactions, pointers]).await?;
    loaded(&res, 0)
}

/// Sends a message: the chat's next seq, the message, `new_message`, the sender's read pointer
/// and the chat's activity time, in one transaction. With a `client_id` already used by this
/// sender in this chat nothing is written and the first message is returned (`created` false).
pub async fn send(
    db: &Db,
    chat_id: i64,
    sender: i64,
    content: &str,
    client_id: Option<&str>,
    now: &str,
) -> ApiResult<(Loaded, bool)> {
    let guard = "?1 IS NULL OR NOT EXISTS (SELECT 1 FROM messages
                 WHERE chat_id = chats.id AND sender_id = ?2 AND client_id = ?1)";
    let mut sts = events::append(
        db,
        chat_id,
        NewEvent {
            kind: "new_message",
            message: EventRef::PendingMessage,
            user_id: Some(sender),
            data: None,
        },
        Some((guard, args![client_id, sender])),
        now,
    )?;
    let pending = format!("EXISTS (SELECT 1 FROM chats WHERE id = ?1 AND {PENDING})");
    sts.splice(
        1..1,
        [
            db.stmt(
                &format!(
                    "INSERT INTO messages (chat_id, seq, sender_id, content, client_id, created_at,
                                           updated_at)
                     SELECT id, last_seq, ?, ?, ?, ?, ? FROM chats WHERE id = ? AND {PENDING}"
                ),
                args![sender, content, client_id, now, now, chat_id],
            )?,
            db.stmt(
                &format!(
                    "UPDATE chat_members SET last_read_message_id = MAX(last_read_message_id,
                       (SELECT m.id FROM messages m JOIN chats ON chats.id = m.chat_id
                        WHERE chats.id = ?1 AND m.seq = chats.last_seq))
                     WHERE chat_id = ?1 AND user_id = ?2 AND {pending}"
                ),
                args![chat_id, sender],
            )?,
            db.stmt(
                &format!("UPDATE chats SET last_activity_at = ?2 WHERE id = ?1 AND {PENDING}"),
                args![chat_id, now],
            )?,
        ],
    );
    // The message this request means: the first with this client_id, else the new one.
    let target = "SELECT id FROM messages WHERE chat_id = ? AND (
                    (? IS NOT NULL AND sender_id = ? AND client_id = ?)
                    OR (? IS NULL AND seq = (SELECT last_seq FROM chats WHERE id = ?)))";
    let target_args = args![chat_id, client_id, sender, client_id, client_id, chat_id];
    sts.push(db.stmt(
        &format!("SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} WHERE msg.id IN ({target})"),
        target_args.clone(),
    )?);
    sts.extend(extras(db, ("?", args![chat_id]), target, target_args)?);
    let at = sts.len() - 3;
    let res = db.batch(sts).await?;
    Ok((loaded(&res, at)?, changes(&res[1]) > 0))
}

/// Edits (`Some(content)`) or soft-deletes (`None`: content emptied, reactions dropped) a
/// message that is not deleted, logging `message_updated` / `message_deleted`. Returns the
/// message after the change and the event's seq, or `None` when it was deleted meanwhile.
pub async fn change(
    db: &Db,
    chat_id: i64,
    id: i64,
    content: Option<&str>,
    now: &str,
) -> ApiResult<Option<(Loaded, i64)>> {
    let kind = if content.is_some() {
        "message_updated"
    } else {
        "message_deleted"
    };
    let mut sts = events::append(
        db,
        chat_id,
        NewEvent {
            kind,
            message: EventRef::Message(id),
            user_id: None,
            data: None,
        },
        Some((
            "EXISTS (SELECT 1 FROM messages WHERE id = ? AND chat_id = chats.id AND is_deleted = 0)",
            args![id],
        )),
        now,
    )?;
    let pending = format!("EXISTS (SELECT 1 FROM chats WHERE id = ? AND {PENDING})");
    let mut changes_sts = match content {
        Some(text) => vec![db.stmt(
            &format!("UPDATE messages SET content = ?, is_edited = 1, updated_at = ? WHERE id = ? AND {pending}"),
            args![text, now, id, chat_id],
        )?],
        None => vec![
            db.stmt(
                &format!("UPDATE messages SET content = '', is_deleted = 1, updated_at = ? WHERE id = ? AND {pending}"),
                args![now, id, chat_id],
            )?,
            db.stmt(
                &format!("DELETE FROM reactions WHERE message_id = ? AND {pending}"),
                args![id, chat_id],
            )?,
        ],
    };
    sts.splice(1..1, changes_sts.drain(..));
    finish_change(db, chat_id, id, sts).await
}

/// Runs a guarded change batch, then reads back the event's seq and the message.
async fn finish_change(
    db: &Db,
    chat_id: i64,
    id: i64,
    mut sts: Vec<D1PreparedStatement>,
) -> ApiResult<Option<(Loaded, i64)>> {
    sts.push(events::seq_stmt(db, chat_id)?);
    sts.extend(one_stmts(db, chat_id, id)?);
    let res = db.batch(sts).await?;
    if changes(&res[0]) == 0 {
        return Ok(None);
    }
    let seq = events::read_seq(&res[res.len() - 4])?;
    Ok(Some((loaded(&res, res.len() - 3)?, seq)))
}

/// Adds (`add`) or removes the caller's `emoji` on a message, logging `reaction_updated`.
/// Adding requires the message not deleted and, for a new emoji, fewer than `max_distinct`
/// distinct ones. `None` when the state no longer matched (nothing written).
#[allow(clippy::too_many_arguments)]
pub async fn react(
    db: &Db,
    chat_id: i64,
    id: i64,
    user_id: i64,
    emoji: &str,
    add: bool,
    max_distinct: i64,
    now: &str,
) -> ApiResult<Option<(Loaded, i64)>> {
    let mine =
        "EXISTS (SELECT 1 FROM reactions WHERE message_id = ?1 AND user_id = ?2 AND emoji = ?3)";
    let guard = if add {
        format!(
            "NOT {mine} AND EXISTS (SELECT 1 FROM messages WHERE id = ?1 AND is_deleted = 0)
             AND (EXISTS (SELECT 1 FROM reactions WHERE message_id = ?1 AND emoji = ?3)
                  OR (SELECT COUNT(DISTINCT emoji) FROM reactions WHERE message_id = ?1) < ?4)"
        )
    } else {
        mine.to_string()
    };
    let mut sts = events::append(
        db,
        chat_id,
        NewEvent {
            kind: "reaction_updated",
            message: EventRef::Message(id),
            user_id: Some(user_id),
            data: None,
        },
        Some((&guard, args![id, user_id, emoji, max_distinct])),
        now,
    )?;
    let pending = format!("EXISTS (SELECT 1 FROM chats WHERE id = ? AND {PENDING})");
    let write = if add {
        db.stmt(
            &format!(
                "INSERT INTO reactions (message_id, emoji, user_id, created_at)
                 SELECT ?, ?, ?, ? WHERE {pending}"
            ),
            args![id, emoji, user_id, now, chat_id],
        )?
    } else {
        db.stmt(
            &format!("DELETE FROM reactions WHERE message_id = ? AND user_id = ? AND emoji = ? AND {pending}"),
            args![id, user_id, emoji, chat_id],
        )?
    };
    sts.insert(1, write);
    finish_change(db, chat_id, id, sts).await
}

/// What marking read did.
#[derive(Debug, Deserialize)]
pub struct MarkedRow {
    /// The pointer after the call.
    pub pointer: i64,
    /// Messages from others, not deleted, that became read.
    pub marked: i64,
    /// False when `message_id` is not a message of this chat.
    pub target_ok: i64,
}

/// Moves the member's read pointer forward to `message_id` (or the newest message), logging
/// `read_receipt` when it moved. Returns the outcome and the event's seq if one was logged.
pub async fn mark_read(
    db: &Db,
    chat_id: i64,
    user_id: i64,
    message_id: Option<i64>,
    now: &str,
) -> ApiResult<(MarkedRow, Option<i64>)> {
    let target = "COALESCE((SELECT id FROM messages WHERE id = ?3 AND chat_id = ?1),
                  CASE WHEN ?3 IS NULL THEN (SELECT MAX(id) FROM messages WHERE chat_id = ?1) END, 0)";
    let before = db.stmt(
        &format!(
            "SELECT MAX(me.last_read_message_id, {target}) AS pointer,
               (SELECT COUNT(*) FROM messages x WHERE x.chat_id = ?1 AND x.is_deleted = 0
                  AND x.id > me.last_read_message_id AND x.id <= {target}
                  AND (x.sender_id IS NULL OR x.sender_id != ?2)) AS marked,
               (?3 IS NULL OR EXISTS (SELECT 1 FROM messages WHERE id = ?3 AND chat_id = ?1))
                 AS target_ok
             FROM chat_members me WHERE me.chat_id = ?1 AND me.user_id = ?2"
        ),
        args![chat_id, user_id, message_id],
    )?;
    let guard = format!(
        "EXISTS (SELECT 1 FROM chat_members WHERE chat_id = ?1 AND user_id = ?2
                 AND last_read_message_id < {target})"
    );
    let mut sts = events::append(
        db,
        chat_id,
        NewEvent {
            kind: "read_receipt",
            message: EventRef::Expr(
                "SELECT last_read_message_id FROM chat_members WHERE chat_id = ? AND user_id = ?"
                    .into(),
                args![chat_id, user_id],
            ),
            user_id: Some(user_id),
            data: None,
        },
        Some((&guard, args![chat_id, user_id, message_id])),
        now,
    )?;
    sts.insert(
        1,
        db.stmt(
            &format!(
                "UPDATE chat_members SET last_read_message_id = {target}
                 WHERE chat_id = ?1 AND user_id = ?2 AND last_read_message_id < {target}
                   AND EXISTS (SELECT 1 FROM chats WHERE id = ?1 AND {PENDING})"
            ),
            args![chat_id, user_id, message_id],
        )?,
    );
    sts.insert(0, before);
    sts.push(events::seq_stmt(db, chat_id)?);
    let res = db.batch(sts).await?;
    let marked: MarkedRow = first_row(&res[0])?.unwrap_or(MarkedRow {
        pointer: 0,
        marked: 0,
        target_ok: 0,
    });
    let seq = if changes(&res[1]) > 0 {
        Some(events::read_seq(&res[res.len() - 1])?)
    } else {
        None
    };
    Ok((marked, seq))
}
