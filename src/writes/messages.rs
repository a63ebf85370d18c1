//! Writes to messages: send, edit, delete, react, and moving a read pointer.

use serde_json::json;

use super::{Done, Planned, Published, Reply, Write};
use crate::error::{ApiError, ApiResult, JOIN_THE_ROOM};
use crate::storage::messages::{self as store, ChangeReads, MessageRow};
use crate::storage::reactions::{self, Reacting};
use crate::storage::receipts::{self, AdvanceReads};
use crate::storage::sends::{self, SendReads, Sending};
use crate::storage::{Batch, Results};
use crate::views::{Event, Message};

/// At most this many distinct emoji per message.
pub const MAX_DISTINCT: i64 = 20;

/// A send in a batch, and what its answer needs that the batch does not read back.
pub struct SendPlan {
    reads: SendReads,
    chat_id: i64,
    content: String,
    client_id: Option<String>,
    now: String,
}

/// An edit or a delete in a batch.
pub struct ChangePlan {
    reads: ChangeReads,
    message_id: i64,
    edit: bool,
}

pub struct ReactPlan {
    reads: ChangeReads,
    message_id: i64,
    emoji: String,
    add: bool,
}

pub struct MarkReadPlan {
    reads: AdvanceReads,
    user_id: i64,
}

/// Plans a send, an edit, a delete or a reaction.
pub fn plan(b: &mut Batch, chat_id: i64, write: &Write, now: &str) -> ApiResult<Planned> {
    Ok(match write {
        Write::Send {
            token_hash,
            content,
            client_id,
        } => {
            let sending = Sending {
                chat_id,
                token_hash,
                content,
                client_id: client_id.as_deref(),
                now,
            };
            Planned::Send(SendPlan {
                reads: sends::send(b, &sending)?,
                chat_id,
                content: content.clone(),
                client_id: client_id.clone(),
                now: now.to_string(),
            })
        }
        Write::Edit {
            message_id,
            content,
        } => Planned::Change(ChangePlan {
            reads: store::change(b, chat_id, *message_id, Some(content), now)?,
            message_id: *message_id,
            edit: true,
        }),
        Write::Delete { message_id } => Planned::Change(ChangePlan {
            reads: store::change(b, chat_id, *message_id, None, now)?,
            message_id: *message_id,
            edit: false,
        }),
        Write::React {
            message_id,
            user_id,
            emoji,
            add,
        } => {
            let reacting = Reacting {
                chat_id,
                message_id: *message_id,
                user_id: *user_id,
                emoji,
                add: *add,
                max_distinct: MAX_DISTINCT,
            };
            Planned::React(ReactPlan {
                reads: reactions::react(b, &reacting, now)?,
                message_id: *message_id,
                emoji: emoji.clone(),
                add: *add,
            })
        }
        _ => return Err(ApiError::Internal("not a message write".into())),
    })
}

/// Plans moving `user_id`'s read pointer.
pub fn mark_read(
    b: &mut Batch,
    chat_id: i64,
    user_id: i64,
    message_id: Option<i64>,
    now: &str,
) -> ApiResult<MarkReadPlan> {
    Ok(MarkReadPlan {
        reads: receipts::advance(b, chat_id, user_id, message_id, now)?,
        user_id,
    })
}

impl SendPlan {
    /// 401 for a dead session, 404 for a non-member (403 "Join the room to see messages." in
    /// a room), 200 with the first message for a repeated `client_id`, else 201 with the new
    /// message and its `new_message`. The new message is built from what the batch returned:
    /// nobody has reacted yet, and only its sender's read pointer (moved by the send) has
    /// reached it.
    pub fn done(&self, res: &Results) -> Done {
        let sent = match self.reads.read(res) {
            Ok(sent) => sent,
            Err(e) => return Done::reply(Err(e)),
        };
        let Some(sender) = sent.sender else {
            return Done::reply(Err(ApiError::InvalidToken));
        };
        if !sender.is_member {
            let refusal = match sender.in_room {
                true => JOIN_THE_ROOM,
                false => ApiError::NotFound,
            };
            return Done::reply(Err(refusal));
        }
        if let Some(earlier) = sent.earlier {
            let first = Message::first(&earlier).ok_or(ApiError::NotFound);
            return Done::reply(first.and_then(|m| Reply::json(200, &m)));
        }
        let Some((stored, stamp)) = sent.stored else {
            return Done::reply(Err(ApiError::Internal("a send wrote nothing".into())));
        };
        let user = sender.user;
        let row = MessageRow {
            id: stored.id,
            chat_id: self.chat_id,
            seq: stored.seq,
            content: self.content.clone(),
            client_id: self.client_id.clone(),
            created_at: self.now.clone(),
            updated_at: self.now.clone(),
            is_edited: false,
            is_deleted: false,
            sender_id: Some(user.id),
            sender_username: Some(user.username.clone()),
            sender_email: Some(user.email.clone()),
            sender_first_name: Some(user.first_name.clone()),
            sender_last_name: Some(user.last_name.clone()),
            sender_avatar_url: Some(user.avatar_url.clone()),
        };
        let message = Message {
            reactions: Some(Vec::new()),
            read_by: Some(vec![user.id]),
            ..Message::basic(&row)
        };
        let event = Event::new_message(stamp.seq, message.clone());
        Done::with(
            Reply::json(201, &message),
            vec![Published::of(&event, stamp.global)],
        )
    }
}

impl ChangePlan {
    /// An edit: 200 with the message and `message_updated`, or 400 when it was deleted
    /// meanwhile. A delete: 204, with `message_deleted` unless it already was.
    pub fn done(&self, res: &Results) -> Done {
        let changed = match self.reads.read(res) {
            Ok(changed) => changed,
            Err(e) => return Done::reply(Err(e)),
        };
        match (changed, self.edit) {
            (None, true) => Done::reply(Err(ApiError::field(
                "content",
                "A deleted message cannot be edited.",
            ))),
            (None, false) => Done::reply(Ok(Reply::no_content())),
            (Some((loaded, stamp)), true) => {
                let Some(message) = Message::first(&loaded) else {
                    return Done::reply(Err(ApiError::NotFound));
                };
                let event = Event::message_updated(stamp.seq, message.clone());
                Done::with(
                    Reply::json(200, &message),
                    vec![Published::of(&event, stamp.global)],
                )
            }
            (Some((_, stamp)), false) => {
                let event = Event::message_deleted(stamp.seq, self.message_id);
                Done::with(
                    Ok(Reply::no_content()),
                    vec![Published::of(&event, stamp.global)],
                )
            }
        }
    }
}

impl ReactPlan {
    /// 200 `{action, emoji, message_id, reactions}` with `reaction_updated`, or 400 when the
    /// message has too many distinct emoji (or changed meanwhile).
    pub fn done(&self, res: &Results) -> Done {
        let changed = match self.reads.read(res) {
            Ok(changed) => changed,
            Err(e) => return Done::reply(Err(e)),
        };
        let Some((loaded, stamp)) = changed else {
            return Done::reply(Err(ApiError::field(
                "emoji",
                format!("A message can have at most {MAX_DISTINCT} different reactions."),
            )));
        };
        let reactions = Message::first(&loaded)
            .and_then(|m| m.reactions)
            .unwrap_or_default();
        let event = Event::reaction_updated(stamp.seq, self.message_id, reactions.clone());
        let answer = json!({
            "action": if self.add { "added" } else { "removed" },
            "emoji": self.emoji,
            "message_id": self.message_id,
            "reactions": reactions,
        });
        Done::with(
            Reply::json(200, &answer),
            vec![Published::of(&event, stamp.global)],
        )
    }
}

impl MarkReadPlan {
    /// 200 `{status, marked_count, last_read_message_id}`, with `read_receipt` when the pointer
    /// moved; 400 when `message_id` is not a message of the chat.
    pub fn done(&self, res: &Results) -> Done {
        let moved = match self.reads.read(res) {
            Ok(moved) => moved,
            Err(e) => return Done::reply(Err(e)),
        };
        if !moved.target_ok {
            let e = ApiError::field("message_id", "Not a message of this chat.");
            return Done::reply(Err(e));
        }
        let answer = json!({
            "status": "success",
            "marked_count": moved.marked,
            "last_read_message_id": moved.pointer,
        });
        let events = moved
            .stamp
            .map(|s| {
                Published::of(
                    &Event::read_receipt(s.seq, self.user_id, moved.pointer),
                    s.global,
                )
            })
            .into_iter()
            .collect();
        Done::with(Reply::json(200, &answer), events)
    }
}
