//! Chat writes: every change that takes a chat's next `seq`. The chat's room executes them —
//! it is the single writer of its chat (realtime/live.rs) — and group-commits the writes that
//! arrive together in one D1 batch, then broadcasts their events in seq order. Each write is
//! planned into the batch (`plan`), then read back (`Planned::done`) into the answer for its
//! caller, the events for the chat's sockets and the sockets to close.
//!
//! A send carries its session and is authenticated and authorised by its own batch (one D1
//! round trip). The other writes were authorised by the worker, which read what the decision
//! needed in the round trip that authenticated; their batch guards re-check what may have
//! changed since.

mod chats;
mod members;
mod messages;
mod rooms;

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::storage::batch::Global;
use crate::storage::{Batch, Results};
use crate::views::Event;

/// A write to a chat.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "write", rename_all = "snake_case")]
pub enum Write {
    /// `POST /chats/{id}/messages/`: the session's holder sends (if a member).
    Send {
        token_hash: String,
        content: String,
        client_id: Option<String>,
    },
    /// Edit a message that is not deleted.
    Edit { message_id: i64, content: String },
    /// Soft-delete a message.
    Delete { message_id: i64 },
    /// Add (`add`) or remove `user_id`'s `emoji` on a message.
    React {
        message_id: i64,
        user_id: i64,
        emoji: String,
        add: bool,
    },
    /// Move `user_id`'s read pointer forward (to the newest message without `message_id`).
    MarkRead {
        user_id: i64,
        message_id: Option<i64>,
    },
    /// Rename the chat (by `user_id`, whose view of it the event carries).
    Rename { user_id: i64, title: String },
    /// Add active users who are not members.
    AddMembers { user_ids: Vec<i64> },
    /// Remove a member (leaving, or by an admin).
    RemoveMember { user_id: i64, hand_over_admin: bool },
    /// Delete the chat and everything in it.
    DeleteChat,
    /// Rooms: active users who are not members join (themselves, or added by an admin). With
    /// `view_as` (a join) the answer is the room as that user sees it, else `added_count`.
    Join {
        user_ids: Vec<i64>,
        view_as: Option<i64>,
    },
    /// Rooms: a member leaves (or an admin removes them); their sockets stay, as watchers.
    Leave { user_id: i64 },
}

/// A write's answer to its caller: a status and a JSON body, as the API answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reply {
    pub status: u16,
    pub body: Option<String>,
    /// Whether a session authenticated it (only then does it report its D1 cost).
    pub authenticated: bool,
}

impl Reply {
    pub fn json(status: u16, body: &impl Serialize) -> ApiResult<Reply> {
        Ok(Reply {
            status,
            body: Some(serde_json::to_string(body)?),
            authenticated: true,
        })
    }

    pub fn no_content() -> Reply {
        Reply {
            status: 204,
            body: None,
            authenticated: true,
        }
    }

    /// The refusal `e` (logged when internal), as the API answers it.
    pub fn refusal(e: &ApiError) -> Reply {
        if let ApiError::Internal(cause) = e {
            worker::console_error!("internal error in a chat write: {cause}");
        }
        Reply {
            status: e.status(),
            body: Some(e.body().to_string()),
            authenticated: !matches!(e, ApiError::Unauthenticated | ApiError::InvalidToken),
        }
    }
}

/// Sockets a write closes once its events are delivered.
#[derive(Debug, Clone, PartialEq)]
pub enum Close {
    /// Removed members'.
    Users(Vec<i64>),
    /// None: these users left a room, and their sockets go on as watchers.
    Demote(Vec<i64>),
    /// Everyone's: the chat is gone.
    Everyone,
}

/// A durable event ready to deliver: its seq, its place in the user streams' order (a zero
/// gid: not in the log, not for user streams) and its JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub seq: i64,
    pub global: Global,
    pub text: String,
}

impl Published {
    pub fn of(event: &Event, global: Global) -> ApiResult<Published> {
        Ok(Published {
            seq: event.seq,
            global,
            text: serde_json::to_string(event)?,
        })
    }
}

/// What a write did.
pub struct Done {
    pub reply: Reply,
    pub events: Vec<Published>,
    pub close: Option<Close>,
    /// The membership generation a removal bumped the chat to.
    pub member_gen: Option<i64>,
    /// Users who became members (their streams start after this write's event).
    pub added: Vec<i64>,
    /// A room's member count after the write: sent to members and watchers alike.
    pub member_count: Option<i64>,
    /// Users who joined a room: their watcher sockets become members' before the events go.
    pub promote: Vec<i64>,
}

impl Done {
    fn reply(reply: ApiResult<Reply>) -> Done {
        Done {
            reply: reply.unwrap_or_else(|e| Reply::refusal(&e)),
            events: Vec::new(),
            close: None,
            member_gen: None,
            added: Vec::new(),
            member_count: None,
            promote: Vec::new(),
        }
    }

    /// A write that could not even be planned.
    pub fn refused(e: &ApiError) -> Done {
        Done::reply(Err(ApiError::Internal(format!("{e:?}"))))
    }

    fn with(reply: ApiResult<Reply>, events: Vec<ApiResult<Published>>) -> Done {
        let events: ApiResult<Vec<Published>> = events.into_iter().collect();
        match events {
            Ok(events) => Done {
                events,
                ..Done::reply(reply)
            },
            Err(e) => Done::reply(Err(e)),
        }
    }
}

/// A write's handles in a batch, to read back once it ran.
pub enum Planned {
    Send(messages::SendPlan),
    Change(messages::ChangePlan),
    React(messages::ReactPlan),
    MarkRead(messages::MarkReadPlan),
    Rename(chats::RenamePlan),
    DeleteChat(chats::DeletePlan),
    AddMembers(members::AddPlan),
    Remove(members::RemovePlan),
    Join(rooms::JoinPlan),
    Leave(rooms::LeavePlan),
}

/// Pushes `write` to chat `chat_id` into the batch `b`, at `now`.
pub fn plan(b: &mut Batch, chat_id: i64, write: &Write, now: &str) -> ApiResult<Planned> {
    Ok(match write {
        Write::Send { .. } | Write::Edit { .. } | Write::Delete { .. } | Write::React { .. } => {
            messages::plan(b, chat_id, write, now)?
        }
        Write::MarkRead {
            user_id,
            message_id,
        } => Planned::MarkRead(messages::mark_read(b, chat_id, *user_id, *message_id, now)?),
        Write::Rename { user_id, title } => {
            Planned::Rename(chats::rename(b, chat_id, *user_id, title, now)?)
        }
        Write::DeleteChat => Planned::DeleteChat(chats::delete(b, chat_id, now)?),
        Write::AddMembers { user_ids } => {
            Planned::AddMembers(members::add(b, chat_id, user_ids, now)?)
        }
        Write::RemoveMember {
            user_id,
            hand_over_admin,
        } => Planned::Remove(members::remove(
            b,
            chat_id,
            *user_id,
            *hand_over_admin,
            now,
        )?),
        Write::Join { user_ids, view_as } => {
            Planned::Join(rooms::join(b, chat_id, user_ids, *view_as, now)?)
        }
        Write::Leave { user_id } => Planned::Leave(rooms::leave(b, chat_id, *user_id, now)?),
    })
}

impl Planned {
    /// What the write did, read from its batch's results.
    pub fn done(&self, res: &Results) -> Done {
        match self {
            Planned::Send(p) => p.done(res),
            Planned::Change(p) => p.done(res),
            Planned::React(p) => p.done(res),
            Planned::MarkRead(p) => p.done(res),
            Planned::Rename(p) => p.done(res),
            Planned::DeleteChat(p) => p.done(res),
            Planned::AddMembers(p) => p.done(res),
            Planned::Remove(p) => p.done(res),
            Planned::Join(p) => p.done(res),
            Planned::Leave(p) => p.done(res),
        }
    }
}
