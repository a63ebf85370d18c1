//! Real time (SPEC §6): one Durable Object per chat holds its WebSockets, fans out events in
//! `seq` order and runs typing indicators. The worker side publishes durable events here.
//!
//! Contract used by the REST handlers (chats, members, messages, reactions, receipts):
//! - `publish(cx, chat_id, event)` after the D1 batch that made the event durable committed.
//!   `event` is the full JSON sent to clients: `{"type": ..., "seq": N, ...payload}`.
//!   Failures are logged, never fail the request (the event is durable; the room fills gaps
//!   from D1).
//! - `disconnect(cx, chat_id, user_ids)` closes the sockets of removed members at once
//!   (`None`: everybody, the chat was deleted).

pub mod room;

use serde_json::Value;

use crate::http::Cx;

/// Hands a durable event to the chat's room for fan-out. (Filled in by the realtime issue.)
pub async fn publish(_cx: &Cx, _chat_id: i64, _event: Value) {}

/// Closes the sockets of `user_ids` on this chat (all sockets when `None`).
pub async fn disconnect(_cx: &Cx, _chat_id: i64, _user_ids: Option<Vec<i64>>) {}
