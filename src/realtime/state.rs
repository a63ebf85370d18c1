//! What a chat room knows besides its sockets (docs/realtime.md), as plain, natively tested state: the
//! ordering buffer (`order`), typing indicators (`typing`), which disconnects it has seen, and
//! what survives hibernation. The Durable Object shell (room.rs) owns one `RoomState` and
//! never reaches into its parts' invariants.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::order::{OrderBuffer, Seqd, Text};
use super::typing::Typing;

/// What survives hibernation and eviction (memory does not).
#[derive(Default, Serialize, Deserialize)]
pub struct Saved {
    pub chat_id: i64,
    pub next: Option<i64>,
    pub gap_since: Option<i64>,
    pub typing: Typing,
}

#[derive(Default)]
pub struct RoomState {
    pub chat_id: i64,
    pub order: OrderBuffer,
    pub typing: Typing,
    removals: Removals,
    /// The alarm time last set, so an unchanged deadline is not set again.
    alarm_at: Option<i64>,
}

impl RoomState {
    pub fn restore(saved: Saved) -> RoomState {
        RoomState {
            chat_id: saved.chat_id,
            order: OrderBuffer::restore(saved.next, saved.gap_since),
            typing: saved.typing,
            ..RoomState::default()
        }
    }

    pub fn saved(&self) -> Saved {
        Saved {
            chat_id: self.chat_id,
            next: self.order.next(),
            gap_since: self.order.gap_since(),
            typing: self.typing.clone(),
        }
    }

    /// Durable events accepted at `now`: those now deliverable, in seq order.
    pub fn accept(&mut self, events: Vec<(i64, Text)>, now: i64) -> Vec<Seqd> {
        let mut out = Vec::new();
        for (seq, text) in events {
            out.extend(self.order.offer(seq, text, now));
        }
        out
    }

    /// The earliest deadline (gap fill or typing expiry), when it differs from the alarm
    /// already set; the caller sets the alarm and reports it with `alarm_set`.
    pub fn alarm_wanted(&self) -> Option<i64> {
        let want = match (self.order.gap_deadline(), self.typing.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        want.filter(|at| self.alarm_at != Some(*at))
    }

    pub fn alarm_set(&mut self, at: Option<i64>) {
        self.alarm_at = at;
    }

    /// Records a disconnect of `user_ids`; `None`: everyone, the chat was deleted, so its
    /// position and typists are forgotten too (a later chat may reuse the id and start again
    /// at seq 1). Returns the disconnect's generation.
    pub fn disconnected(&mut self, user_ids: Option<&[i64]>) -> u64 {
        let r = &mut self.removals;
        r.generation += 1;
        match user_ids {
            None => {
                r.everyone = r.generation;
                self.order = OrderBuffer::default();
                self.typing = Typing::default();
                self.alarm_at = None;
            }
            Some(ids) => {
                for u in ids {
                    r.users.insert(*u, r.generation);
                    self.typing.forget(*u);
                }
            }
        }
        r.generation
    }

    /// The disconnect generation now, to compare with `removed_since` after an await.
    pub fn generation(&self) -> u64 {
        self.removals.generation
    }

    /// Whether `user_id` was disconnected after generation `since`.
    pub fn removed_since(&self, user_id: i64, since: u64) -> bool {
        let r = &self.removals;
        r.everyone > since || r.users.get(&user_id).is_some_and(|g| *g > since)
    }
}

/// A counter of disconnect calls and, per user, the last one that named them.
#[derive(Default)]
struct Removals {
    generation: u64,
    everyone: u64,
    users: HashMap<i64, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removals_name_users_disconnected_after_a_generation() {
        let mut r = RoomState::default();
        let before = r.generation();
        r.disconnected(Some(&[7]));
        assert!(r.removed_since(7, before), "removed after the snapshot");
        assert!(!r.removed_since(8, before), "someone else");
        assert!(
            !r.removed_since(7, r.generation()),
            "removed before the snapshot"
        );
        r.accept(vec![(1, "e1".into())], 0);
        r.disconnected(None);
        assert!(r.removed_since(8, before), "chat deleted: everyone");
        assert_eq!(r.order.next(), None, "a deleted chat forgets its position");
    }

    #[test]
    fn a_removed_typist_is_forgotten() {
        let mut r = RoomState::default();
        r.typing.update(7, true, 0, 6_000);
        r.disconnected(Some(&[7]));
        assert_eq!(r.typing.next_deadline(), None);
    }

    #[test]
    fn the_alarm_follows_the_earliest_deadline_once() {
        let mut r = RoomState::restore(Saved {
            next: Some(1),
            ..Saved::default()
        });
        assert_eq!(r.alarm_wanted(), None, "nothing due");
        r.typing.update(1, true, 0, 6_000);
        r.accept(vec![(3, "e3".into())], 100);
        let gap = 100 + super::super::order::GAP_TIMEOUT_MS;
        assert_eq!(r.alarm_wanted(), Some(gap.min(6_000)));
        r.alarm_set(Some(gap.min(6_000)));
        assert_eq!(r.alarm_wanted(), None, "already set");
    }

    #[test]
    fn position_and_typing_survive_a_save() {
        let mut r = RoomState::restore(Saved {
            chat_id: 4,
            next: Some(1),
            ..Saved::default()
        });
        r.accept(vec![(1, "e1".into()), (3, "e3".into())], 50);
        r.typing.update(2, true, 0, 6_000);
        let text = serde_json::to_string(&r.saved()).unwrap();
        let back = RoomState::restore(serde_json::from_str(&text).unwrap());
        assert_eq!(back.chat_id, 4);
        assert_eq!(back.order.next(), Some(2));
        assert_eq!(back.order.gap_since(), Some(50));
        assert_eq!(back.typing.next_deadline(), Some(6_000));
    }
}
