//! What a chat room does when the worker calls it (publish, typing, disconnect) and when a
//! socket goes away (SPEC §6). Part of the `ChatRoom` Durable Object shell (room.rs).

use serde_json::Value;
use worker::WebSocket;

use super::order::seq_of;
use super::protocol::{self, RoomCall, SocketInfo};
use super::room::{ChatRoom, Mem};
use crate::settings::Settings;
use crate::time;

/// A counter of disconnect calls and, per user, the last one that named them.
#[derive(Default)]
pub(super) struct Removals {
    pub(super) generation: u64,
    pub(super) everyone: u64,
    pub(super) users: std::collections::HashMap<i64, u64>,
}

impl Removals {
    /// Whether `user_id` was disconnected after generation `since`.
    pub(super) fn removed_since(&self, user_id: i64, since: u64) -> bool {
        self.everyone > since || self.users.get(&user_id).is_some_and(|g| *g > since)
    }
}

impl ChatRoom {
    /// One event from the worker (or from this room's own mark_read).
    pub(super) async fn publish(&self, event: Value) {
        match seq_of(&event) {
            Some(seq) => self.accept(vec![(seq, event)]),
            None => self.send_all(&[event], None),
        }
        self.persist().await;
    }

    pub(super) async fn call(&self, call: RoomCall) {
        match call {
            RoomCall::Publish { chat_id, event } => {
                self.ensure_loaded(Some(chat_id)).await;
                self.publish(event).await;
            }
            RoomCall::Typing {
                chat_id,
                user_id,
                is_typing,
            } => {
                self.ensure_loaded(Some(chat_id)).await;
                self.typing(user_id, is_typing).await;
            }
            RoomCall::Disconnect { chat_id, user_ids } => {
                self.ensure_loaded(Some(chat_id)).await;
                self.disconnect(chat_id, user_ids).await;
            }
        }
    }

    /// Closes removed members' sockets; a deleted chat also forgets its position, since a
    /// later chat may reuse the id and start again at seq 1.
    async fn disconnect(&self, chat_id: i64, user_ids: Option<Vec<i64>>) {
        {
            let mut r = self.removals.borrow_mut();
            r.generation += 1;
            let g = r.generation;
            match &user_ids {
                None => r.everyone = g,
                Some(ids) => {
                    for u in ids {
                        r.users.insert(*u, g);
                    }
                }
            }
        }
        for ws in self.state.get_websockets() {
            let user = ws
                .deserialize_attachment::<SocketInfo>()
                .ok()
                .flatten()
                .map(|i| i.user_id);
            let hit = match &user_ids {
                None => true,
                Some(ids) => user.is_some_and(|u| ids.contains(&u)),
            };
            if hit {
                let _ = ws.close(Some(protocol::CLOSE_GONE), Some("No longer a member."));
                self.socket_dropped(&ws);
            }
        }
        match user_ids {
            Some(ids) => {
                for u in ids {
                    self.mem.borrow_mut().typing.forget(u);
                }
                self.persist().await;
            }
            None => {
                *self.mem.borrow_mut() = Mem {
                    loaded: true,
                    chat_id,
                    ..Mem::default()
                };
                let _ = self.state.storage().delete_alarm().await;
                let _ = self.state.storage().delete_all().await;
            }
        }
    }

    pub(super) async fn typing(&self, user_id: i64, is_typing: bool) {
        let timeout_ms = Settings::from_env(&self.env).typing_timeout_seconds as i64 * 1000;
        let frame =
            self.mem
                .borrow_mut()
                .typing
                .update(user_id, is_typing, time::now_ms(), timeout_ms);
        if let Some(b) = frame {
            self.send_all(&[protocol::typing_frame(user_id, b)], Some(user_id));
        }
        self.persist().await;
    }

    /// A socket closed: when it was its user's last one and they were typing, tell the others.
    pub(super) async fn socket_gone(&self, ws: &WebSocket) {
        // Read the list before striking `ws` from it: rebuilt now, it may still hold `ws`.
        self.sockets();
        self.socket_dropped(ws);
        let Some(info) = ws.deserialize_attachment::<SocketInfo>().ok().flatten() else {
            return;
        };
        let others = self
            .sockets()
            .iter()
            .any(|(_, i)| i.user_id == info.user_id);
        if others {
            return;
        }
        self.ensure_loaded(None).await;
        if self.mem.borrow_mut().typing.forget(info.user_id) {
            self.send_all(
                &[protocol::typing_frame(info.user_id, false)],
                Some(info.user_id),
            );
            self.persist().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Removals;

    #[test]
    fn removals_name_users_disconnected_after_a_generation() {
        let mut r = Removals::default();
        let before = r.generation;
        r.generation += 1;
        r.users.insert(7, r.generation);
        assert!(r.removed_since(7, before), "removed after the snapshot");
        assert!(!r.removed_since(8, before), "someone else");
        assert!(
            !r.removed_since(7, r.generation),
            "removed before the snapshot"
        );
        r.generation += 1;
        r.everyone = r.generation;
        assert!(r.removed_since(8, before), "chat deleted: everyone");
    }
}
