//! Messages: the rows and what rendering them needs (reactions, read pointers), message
//! pages, sending, editing and soft-deleting.

use serde::Deserialize;

use super::batch::{pending, EventRef, NewEvent, Sequenced};
use super::users::UserRow;
use super::{compose, int_bool, Batch, Db, Results, Rows, Sql};
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

/// Columns of `MessageRow`, for `MESSAGE_FROM`.
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
    fn query(b: &mut Batch, chat: &Sql, ids: &Sql, with_messages: bool) -> ApiResult<Self> {
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

/// Loads a page of a chat's messages with reactions, pointers and the chat's bounds.
pub fn page(b: &mut Batch, chat_id: i64, w: &Window) -> ApiResult<PageReads> {
    let order = if w.ascending { "ASC" } else { "DESC" };
    let ids = Sql::new(
        format!(
            "SELECT id FROM messages WHERE chat_id = ?1 AND id < COALESCE(?2, 9007199254740991)
               AND id > COALESCE(?3, 0) ORDER BY id {order} LIMIT ?4 OFFSET ?5"
        ),
        args![chat_id, w.before, w.after, w.limit, w.offset],
    );
    let loaded = LoadedReads::query(b, &Sql::value(chat_id), &ids, true)?;
    let bounds = b.query(
        "SELECT COUNT(*) AS count, MIN(id) AS min_id, MAX(id) AS max_id FROM messages
         WHERE chat_id = ?1",
        args![chat_id],
    )?;
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

/// The reactions and read pointers rendering message `id` needs (its row comes from
/// `access_by_session` in the same batch).
pub fn extras(b: &mut Batch, id: i64) -> ApiResult<LoadedReads> {
    let chat = Sql::new("(SELECT chat_id FROM messages WHERE id = ?1)", args![id]);
    LoadedReads::query(b, &chat, &Sql::value(id), false)
}

/// Message `id` of chat `chat_id` with reactions and pointers (read back after a change).
fn one(b: &mut Batch, chat_id: i64, id: i64) -> ApiResult<LoadedReads> {
    LoadedReads::query(b, &Sql::value(chat_id), &Sql::value(id), true)
}

/// Messages `ids` of the chat with reactions and pointers, in one round trip (replays).
pub async fn load_many(db: &Db, chat_id: i64, ids: &[i64]) -> ApiResult<Loaded> {
    let ids = Sql::new(
        "SELECT value FROM json_each(?1) WHERE value IN
           (SELECT id FROM messages WHERE chat_id = ?2)",
        args![serde_json::to_string(ids)?, chat_id],
    );
    let mut b = Batch::new(db);
    let reads = LoadedReads::query(&mut b, &Sql::value(chat_id), &ids, true)?;
    reads.read(&b.run().await?)
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
    let mut b = Batch::new(db);
    let (event, ()) = b.event(
        chat_id,
        Some(Sql::new(
            "?1 IS NULL OR NOT EXISTS (SELECT 1 FROM messages
               WHERE chat_id = chats.id AND sender_id = ?2 AND client_id = ?1)",
            args![client_id, sender],
        )),
        NewEvent {
            kind: EventKind::NewMessage,
            message: EventRef::PendingMessage,
            user_id: Some(sender),
            data: None,
            now: now.to_string(),
        },
        |b| {
            b.exec(
                &format!(
                    "INSERT INTO messages (chat_id, seq, sender_id, content, client_id,
                                           created_at, updated_at)
                     SELECT id, last_seq, ?2, ?3, ?4, ?5, ?5 FROM chats
                     WHERE id = ?1 AND {}",
                    super::batch::PENDING
                ),
                args![chat_id, sender, content, client_id, now],
            )?;
            b.exec(
                &format!(
                    "UPDATE chat_members SET last_read_message_id = MAX(last_read_message_id,
                       (SELECT m.id FROM messages m JOIN chats ON chats.id = m.chat_id
                        WHERE chats.id = ?1 AND m.seq = chats.last_seq))
                     WHERE chat_id = ?1 AND user_id = ?2 AND {}",
                    pending(1)
                ),
                args![chat_id, sender],
            )?;
            b.exec(
                &format!(
                    "UPDATE chats SET last_activity_at = ?2 WHERE id = ?1 AND {}",
                    super::batch::PENDING
                ),
                args![chat_id, now],
            )?;
            Ok(())
        },
    )?;
    // The message this request means: the first with this client_id, else the new one.
    let target = Sql::new(
        "SELECT id FROM messages WHERE chat_id = ?1 AND (
           (?2 IS NOT NULL AND sender_id = ?3 AND client_id = ?2)
           OR (?2 IS NULL AND seq = (SELECT last_seq FROM chats WHERE id = ?1)))",
        args![chat_id, client_id, sender],
    );
    let reads = LoadedReads::query(&mut b, &Sql::value(chat_id), &target, true)?;
    let res = b.run().await?;
    Ok((reads.read(&res)?, event.seq(&res)?.is_some()))
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
    let kind = match content {
        Some(_) => EventKind::MessageUpdated,
        None => EventKind::MessageDeleted,
    };
    let mut b = Batch::new(db);
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
    read_back(b, chat_id, id, event).await
}

/// Runs a change batch that appended `event`, reading message `id` back in it: the message
/// after the change and the event's seq, or `None` when the guard refused the change.
pub(super) async fn read_back(
    mut b: Batch<'_>,
    chat_id: i64,
    id: i64,
    event: Sequenced,
) -> ApiResult<Option<(Loaded, i64)>> {
    let reads = one(&mut b, chat_id, id)?;
    let res = b.run().await?;
    match event.seq(&res)? {
        Some(seq) => Ok(Some((reads.read(&res)?, seq))),
        None => Ok(None),
    }
}
