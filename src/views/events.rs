//! The durable chat events: `{"type": ..., "seq": N, ...payload}` (docs/realtime.md).

use serde::Serialize;

use super::{Chat, Message, Reaction};
use crate::domain::EventKind;

/// A message an event names, or its id when it is gone.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum MessageOrId {
    Message { message: Box<Message> },
    Gone { message_id: Option<i64> },
}

/// A chat an event names, or its id when nobody is left to see it.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ChatOrId {
    Chat { chat: Box<Chat> },
    Gone { chat_id: i64 },
}

/// What a durable chat event says (docs/realtime.md).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    NewMessage(MessageOrId),
    MessageUpdated(MessageOrId),
    MessageDeleted {
        message_id: Option<i64>,
    },
    ReactionUpdated {
        message_id: Option<i64>,
        reactions: Vec<Reaction>,
    },
    ReadReceipt {
        user_id: Option<i64>,
        last_read_message_id: Option<i64>,
    },
    /// In rooms, live events also carry the room's `member_count` after the change (events
    /// replayed from the log do not: the count is live, `member_count` frames carry it).
    MembersAdded {
        user_ids: Vec<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        member_count: Option<i64>,
    },
    MemberRemoved {
        user_id: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        member_count: Option<i64>,
    },
    ChatUpdated(ChatOrId),
    ChatDeleted {
        chat_id: i64,
    },
}

impl EventBody {
    pub fn kind(&self) -> EventKind {
        match self {
            EventBody::NewMessage(_) => EventKind::NewMessage,
            EventBody::MessageUpdated(_) => EventKind::MessageUpdated,
            EventBody::MessageDeleted { .. } => EventKind::MessageDeleted,
            EventBody::ReactionUpdated { .. } => EventKind::ReactionUpdated,
            EventBody::ReadReceipt { .. } => EventKind::ReadReceipt,
            EventBody::MembersAdded { .. } => EventKind::MembersAdded,
            EventBody::MemberRemoved { .. } => EventKind::MemberRemoved,
            EventBody::ChatUpdated(_) => EventKind::ChatUpdated,
            EventBody::ChatDeleted { .. } => EventKind::ChatDeleted,
        }
    }
}

/// A durable chat event: `{"type": ..., "seq": N, ...}`.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(flatten)]
    pub body: EventBody,
    pub seq: i64,
}

impl Event {
    pub fn new(seq: i64, body: EventBody) -> Event {
        Event { body, seq }
    }

    pub fn new_message(seq: i64, message: Message) -> Event {
        Event::new(
            seq,
            EventBody::NewMessage(MessageOrId::Message {
                message: Box::new(message),
            }),
        )
    }

    pub fn message_updated(seq: i64, message: Message) -> Event {
        Event::new(
            seq,
            EventBody::MessageUpdated(MessageOrId::Message {
                message: Box::new(message),
            }),
        )
    }

    pub fn message_deleted(seq: i64, message_id: i64) -> Event {
        Event::new(
            seq,
            EventBody::MessageDeleted {
                message_id: Some(message_id),
            },
        )
    }

    pub fn reaction_updated(seq: i64, message_id: i64, reactions: Vec<Reaction>) -> Event {
        Event::new(
            seq,
            EventBody::ReactionUpdated {
                message_id: Some(message_id),
                reactions,
            },
        )
    }

    pub fn read_receipt(seq: i64, user_id: i64, pointer: i64) -> Event {
        Event::new(
            seq,
            EventBody::ReadReceipt {
                user_id: Some(user_id),
                last_read_message_id: Some(pointer),
            },
        )
    }

    pub fn members_added(seq: i64, user_ids: Vec<i64>) -> Event {
        Event::new(
            seq,
            EventBody::MembersAdded {
                user_ids,
                member_count: None,
            },
        )
    }

    /// The event with a room's member count after it (members_added, member_removed).
    pub fn with_member_count(mut self, count: i64) -> Event {
        match &mut self.body {
            EventBody::MembersAdded { member_count, .. }
            | EventBody::MemberRemoved { member_count, .. } => *member_count = Some(count),
            _ => {}
        }
        self
    }

    pub fn member_removed(seq: i64, user_id: i64) -> Event {
        Event::new(
            seq,
            EventBody::MemberRemoved {
                user_id: Some(user_id),
                member_count: None,
            },
        )
    }

    pub fn chat_updated(seq: i64, chat: Chat) -> Event {
        Event::new(
            seq,
            EventBody::ChatUpdated(ChatOrId::Chat {
                chat: Box::new(chat),
            }),
        )
    }

    pub fn chat_deleted(seq: i64, chat_id: i64) -> Event {
        Event::new(seq, EventBody::ChatDeleted { chat_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_have_their_type_seq_and_payload_at_the_top() {
        let v = serde_json::to_value(Event::message_deleted(4, 9)).unwrap();
        assert_eq!(
            v,
            json!({"type": "message_deleted", "seq": 4, "message_id": 9})
        );
        let v = serde_json::to_value(Event::new(
            5,
            EventBody::NewMessage(MessageOrId::Gone {
                message_id: Some(7),
            }),
        ))
        .unwrap();
        assert_eq!(v, json!({"type": "new_message", "seq": 5, "message_id": 7}));
        let v = serde_json::to_value(Event::read_receipt(6, 2, 9)).unwrap();
        assert_eq!(
            v,
            json!({"type": "read_receipt", "seq": 6, "user_id": 2, "last_read_message_id": 9})
        );
    }

    #[test]
    fn every_event_body_names_its_kind() {
        let body = EventBody::MembersAdded {
            user_ids: vec![1],
            member_count: None,
        };
        let v = serde_json::to_value(Event::new(1, body.clone())).unwrap();
        assert_eq!(v["type"], body.kind().as_str());
    }
}
