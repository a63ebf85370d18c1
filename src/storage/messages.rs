//! Messages: the rows and what rendering them needs (reactions, read pointers), message
//! pages, sending, editing and soft-deleting.

use serde::Deserialize;

use super::batch::{pending, EventRef, NewEvent, Sequenced, Stamp};
use super::users::UserRow;
use super::{compose, int_bool, Batch, Db, Results, Rows, Sql, Viewer};
use crate::args;
use crate::domain::EventKind;
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
    #[serde(deserialize_with = "int_bool")]
    pub is_edited: bool,
    #[serde(deserialize_with = "int_bool")]
    pub is_deleted: bool,
    pub sender_id: Option<i64>,
    pub sender_username: Option<String>,
    pub sender_email: Option<String>,
    pub sender_first_name: Option<String>,
    pub sender_last_name: Option<String>,
    #[serde(default)]
    pub sender_avatar_url: Option<String>,
}

impl MessageRow {
    pub fn sender(&self) -> Option<UserRow> {
        Some(UserRow {
            id: self.sender_id?,
            username: self.sender_username.clone()?,
            email: self.sender_email.clone().unwrap_or_default(),
            first_name: self.sender_first_name.clone().unwrap_or_default(),
            last_name: self.sender_last_name.clone().unwrap_or_default(),
            avatar_url: self.sender_avatar_url.clone().unwrap_or_default(),
        })
    }
}

/// Columns of `MessageRow`, for `MESSAGE_FROM`.
pub const MESSAGE_COLUMNS: &str = "msg.id, msg.chat_id, msg.seq, msg.content, msg.client_id,
    msg.created_at, msg.updated_at, msg.is_edited, msg.is_deleted, msg.sender_id,
    su.username AS sender_username, su.email AS sender_email,
    su.first_name AS sender_first_name, su.last_name AS sender_last_name,
    su.avatar_url AS sender_avatar_url";

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
#[derive(Debug, Default)]
pub struct Loaded {
    pub messages: Vec<MessageRow>,
    pub reactions: Vec<ReactionRow>,
    pub pointers: Vec<PointerRow>,
}

/// The statements of a `Loaded` in a batch.
pub struct LoadedReads {
    messages: Option<Rows<MessageRow>>,
    reactions: Rows<ReactionRow>,
    pointers: Rows<PointerRow>,
}

impl LoadedReads {
    /// Loads the messages `ids` selects (newest first) — unless the caller already has them
    /// (`with_messages: false`) — with their reactions and the pointers of chat `chat`.
    pub(super) fn query(
        b: &mut Batch,
        chat: &Sql,
        ids: &Sql,
        with_messages: bool,
    ) -> ApiResult<Self> {
        let messages = if with_messages {
            let s = compose(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} WHERE msg.id IN ({{}})
                     ORDER BY msg.id DESC"
                ),
                vec![],
                &[ids],
            );
            Some(b.query(&s.text, s.args)?)
        } else {
            None
        };
        let reactions = compose(
            "SELECT message_id, emoji, user_id FROM reactions
             WHERE message_id IN ({}) ORDER BY id",
            vec![],
            &[ids],
        );
        let pointers = compose(
            "SELECT user_id, last_read_message_id FROM chat_members WHERE chat_id = {}",
            vec![],
            &[chat],
        );
        Ok(LoadedReads {
            messages,
            reactions: b.query(&reactions.text, reactions.args)?,
            pointers: b.query(&pointers.text, pointers.args)?,
        })
    }

    pub fn read(&self, res: &Results) -> ApiResult<Loaded> {
        Ok(Loaded {
            messages: match self.messages {
                Some(h) => res.all(h)?,
                None => Vec::new(),
            },
            reactions: res.all(self.reactions)?,
            pointers: res.all(self.pointers)?,
        })
    }
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
#[derive(Debug, Deserialize, Default)]
pub struct Bounds {
    pub count: i64,
    pub min_id: Option<i64>,
    pub max_id: Option<i64>,
}

/// The statements of a message page in a batch.
pub struct PageReads {
    loaded: LoadedReads,
    bounds: Rows<Bounds>,
}

impl PageReads {
    pub fn read(&self, res: &Results) -> ApiResult<(Loaded, Bounds)> {
        Ok((
            self.loaded.read(res)?,
            res.first(self.bounds)?.unwrap_or_default(),
        ))
    }
}

/// SQL: how many of chat `chat`'s messages a read pointer at message id `pointer` has passed —
/// the `ordinal` of the chat's newest message at or before it (0 when none). One index seek.
/// (`chat` and `pointer` are SQL expressions: columns or parameters, never values.)
pub(super) fn passed(chat: &str, pointer: &str) -> String {
    format!(
        "COALESCE((SELECT pos.ordinal FROM messages pos
                   WHERE pos.chat_id = {chat} AND pos.id <= {pointer}
                   ORDER BY pos.id DESC LIMIT 1), 0)"
    )
}

/// SQL: the deleted messages of chat `chat` after message id `after` (and at most `upto`), from
/// the partial index `messages_deleted`: it reads the deleted ones only.
pub(super) fn deleted_after(chat: &str, after: &str, upto: Option<&str>) -> String {
    let upto = upto.map_or(String::new(), |u| format!(" AND del.id <= {u}"));
    format!(
        "(SELECT COUNT(*) FROM messages del INDEXED BY messages_deleted
          WHERE del.chat_id = {chat} AND del.is_deleted = 1 AND del.id > {after}{upto})"
    )
}

/// SQL: a member's unread messages in chat `chat` — messages from others, not deleted, after
/// `pointer` (SPEC §5) — by subtraction, in a few rows whatever the chat holds: the messages
/// after the pointer (`count` less the pointer's position) less the deleted ones among them.
/// None of them is the member's own: a pointer is never behind its member's own newest message
/// (schema.sql, `chat_members`).
pub(super) fn unread(chat: &str, count: &str, pointer: &str) -> String {
    format!(
        "MAX({count} - {} - {}, 0)",
        passed(chat, pointer),
        deleted_after(chat, pointer, None)
    )
}

/// SQL condition: `viewer` is a member of chat `chat`. Reads of the round trip that
/// authenticates carry it, so a request with a made-up credential reads nothing but its
/// session lookup. (In a scan's `WHERE` SQLite would still walk the rows and test it on
/// each: scans take it in their `LIMIT`, evaluated once before the scan starts.)
fn member_of(chat: &Sql, viewer: &Viewer) -> Sql {
    compose(
        "EXISTS (SELECT 1 FROM chat_members WHERE chat_id = {} AND user_id = {})",
        vec![],
        &[chat, &viewer.sql()],
    )
}

/// Loads, for `viewer` only if a member, a page of a chat's messages with reactions, pointers
/// and the chat's message count and id range. Reads rows in proportion to the page (and to
/// `page=N`'s offset, which stops at the chat's message count), never the whole chat.
pub fn page(b: &mut Batch, chat_id: i64, w: &Window, viewer: &Viewer) -> ApiResult<PageReads> {
    let order = if w.ascending { "ASC" } else { "DESC" };
    let member = member_of(&Sql::value(chat_id), viewer);
    let ids = compose(
        &format!(
            "SELECT id FROM messages WHERE chat_id = ?1 AND id < COALESCE(?2, 9007199254740991)
               AND id > COALESCE(?3, 0)
             ORDER BY id {order}
             LIMIT (CASE WHEN {{}} AND ?5 < (SELECT message_count FROM chats WHERE id = ?1)
                    THEN ?4 ELSE 0 END) OFFSET ?5"
        ),
        args![chat_id, w.before, w.after, w.limit, w.offset],
        &[&member],
    );
    let chat = compose("(SELECT ?1 WHERE {})", args![chat_id], &[&member]);
    let loaded = LoadedReads::query(b, &chat, &ids, true)?;
    let bounds = compose(
        "SELECT c.message_count AS count,
           (SELECT MIN(id) FROM messages WHERE chat_id = c.id) AS min_id,
           (SELECT MAX(id) FROM messages WHERE chat_id = c.id) AS max_id
         FROM chats c WHERE c.id = ?1 AND {}",
        args![chat_id],
        &[&member],
    );
    let bounds = b.query(&bounds.text, bounds.args)?;
    Ok(PageReads { loaded, bounds })
}

/// A message the caller may see, found through the caller's session.
#[derive(Debug, Deserialize)]
pub struct MessageAccess {
    #[serde(flatten)]
    pub message: MessageRow,
    /// JSON array of the emoji the caller has put on this message.
    pub my_emoji: String,
}

/// Finds message `id` for the holder of a live session, only when they are a member of its
/// chat (batched with authentication; no row = 404).
pub fn access_by_session(
    b: &mut Batch,
    id: i64,
    token_hash: &str,
    now: &str,
) -> ApiResult<Rows<MessageAccess>> {
    b.query(
        &format!(
            "SELECT {MESSAGE_COLUMNS},
               (SELECT json_group_array(r.emoji) FROM reactions r
                WHERE r.message_id = msg.id AND r.user_id = s.user_id) AS my_emoji
             FROM {MESSAGE_FROM}
             JOIN chat_members me ON me.chat_id = msg.chat_id
             JOIN sessions s ON s.user_id = me.user_id
             WHERE msg.id = ?1 AND s.token_hash = ?2 AND s.expires_at > ?3"
        ),
        args![id, token_hash, now],
    )
}

/// The reactions and read pointers rendering message `id` needs, for `viewer` only if a
/// member of its chat (its row comes from `access_by_session` in the same batch).
pub fn extras(b: &mut Batch, id: i64, viewer: &Viewer) -> ApiResult<LoadedReads> {
    let chat_of = Sql::new("(SELECT chat_id FROM messages WHERE id = ?1)", args![id]);
    let member = member_of(&chat_of, viewer);
    let chat = compose("(SELECT {} WHERE {})", vec![], &[&chat_of, &member]);
    let ids = compose("SELECT ?1 WHERE {}", args![id], &[&member]);
    LoadedReads::query(b, &chat, &ids, false)
}

/// Messages `ids` of the chat with reactions and pointers, in one round trip (replays).
pub async fn load_many(db: &Db, chat_id: i64, ids: &[i64]) -> ApiResult<Loaded> {
    // One primary-key lookup per id (`value IN (SELECT id ... WHERE chat_id = ?2)` listed the
    // whole chat first).
    let ids = Sql::new(
        "SELECT value FROM json_each(?1) j WHERE EXISTS
           (SELECT 1 FROM messages WHERE id = j.value AND chat_id = ?2)",
        args![serde_json::to_string(ids)?, chat_id],
    );
    let mut b = Batch::new(db);
    let reads = LoadedReads::query(&mut b, &Sql::value(chat_id), &ids, true)?;
    reads.read(&b.run().await?)
}

/// What changing a message reads back, in the batch that changes it.
pub struct ChangeReads {
    event: Sequenced,
    message: LoadedReads,
}

impl ChangeReads {
    /// The message after the change and the event's stamp, or `None` when the guard refused
    /// the change (nothing was written).
    pub fn read(&self, res: &Results) -> ApiResult<Option<(Loaded, Stamp)>> {
        match self.event.stamp(res)? {
            Some(stamp) => Ok(Some((self.message.read(res)?, stamp))),
            None => Ok(None),
        }
    }

    /// A change that appended `event`, reading message `id` of chat `chat_id` back after it.
    pub(super) fn new(b: &mut Batch, event: Sequenced, chat_id: i64, id: i64) -> ApiResult<Self> {
        let message = LoadedReads::query(b, &Sql::value(chat_id), &Sql::value(id), true)?;
        Ok(ChangeReads { event, message })
    }
}

/// Edits (`Some(content)`) or soft-deletes (`None`: content emptied, reactions dropped) a
/// message that is not deleted, logging `message_updated` / `message_deleted`, in the batch
/// `b`; the message is read back after the change.
pub fn change(
    b: &mut Batch,
    chat_id: i64,
    id: i64,
    content: Option<&str>,
    now: &str,
) -> ApiResult<ChangeReads> {
    let kind = match content {
        Some(_) => EventKind::MessageUpdated,
        None => EventKind::MessageDeleted,
    };
    let (event, ()) = b.event(
        chat_id,
        Some(Sql::new(
            "EXISTS (SELECT 1 FROM messages WHERE id = ?1 AND chat_id = chats.id
                       AND is_deleted = 0)",
            args![id],
        )),
        NewEvent {
            kind,
            message: EventRef::Message(id),
            user_id: None,
            data: None,
            now: now.to_string(),
        },
        |b| {
            match content {
                Some(text) => b.exec(
                    &format!(
                        "UPDATE messages SET content = ?3, is_edited = 1, updated_at = ?4
                         WHERE id = ?2 AND {}",
                        pending(1)
                    ),
                    args![chat_id, id, text, now],
                )?,
                None => {
                    b.exec(
                        &format!(
                            "UPDATE messages SET content = '', is_deleted = 1, updated_at = ?3
                             WHERE id = ?2 AND {}",
                            pending(1)
                        ),
                        args![chat_id, id, now],
                    )?;
                    b.exec(
                        &format!(
                            "DELETE FROM reactions WHERE message_id = ?2 AND {}",
                            pending(1)
                        ),
                        args![chat_id, id],
                    )?
                }
            };
            Ok(())
        },
    )?;
    ChangeReads::new(b, event, chat_id, id)
}
