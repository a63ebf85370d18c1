//! What a chat room knows besides its sockets (docs/realtime.md), as plain, natively tested
//! state: where it stands in the chat's log (`log`), typing indicators (`typing`), which
//! disconnects it has seen, the membership generation its sockets were checked against, and
//! what survives hibernation. The Durable Object (live.rs) owns one `RoomState` and never
//! reaches into its parts' invariants.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::order::Log;
use super::typing::Typing;

/// What survives hibernation and eviction (memory does not).
#[derive(Default, Serialize, Deserialize)]
pub struct Saved {
    pub chat_id: i64,
    /// The newest membership generation the room has applied (see `RoomState::member_gen`).
    #[serde(default)]
    pub member_gen: i64,
    pub next: Option<i64>,
    pub typing: Typing,
}

#[derive(Default)]
pub struct RoomState {
    pub chat_id: i64,
    /// The chat's membership generation the room's sockets were last checked against: a newer
    /// one in D1 means a removal the room did not apply (it crashed in between).
    pub member_gen: i64,
    pub log: Log,
    pub typing: Typing,
    removals: Removals,
    /// The alarm time last set, so an unchanged deadline is not set again.
    alarm_at: Option<i64>,
}

impl RoomState {
    pub fn restore(saved: Saved) -> RoomState {
        RoomState {
            chat_id: saved.chat_id,
            member_gen: saved.member_gen,
            log: Log::restore(saved.next),
            typing: saved.typing,
            ..RoomState::default()
        }
    }

    pub fn saved(&self) -> Saved {
        Saved {
            chat_id: self.chat_id,
            member_gen: self.member_gen,
            next: self.log.next(),
            typing: self.typing.clone(),
        }
    }

    /// The earliest deadline (typing expiry, or `other`: a socket's session end), when it
    /// differs from the alarm already set; the caller sets the alarm and reports it with
    /// `alarm_set`.
    pub fn alarm_wanted(&self, other: Option<i64>) -> Option<i64> {
        [self.typing.next_deadline(), other]
            .into_iter()
            .flatten()
            .min()
            .filter(|at| self.alarm_at != Some(*at))
    }

    pub fn alarm_set(&mut self, at: Option<i64>) {
        self.alarm_at = at;
    }

    /// Records a disconnect of `user_ids`; `None`: everyone, the chat was deleted, so its
    /// position and typists are forgotten too. Returns the disconnect's generation.
    pub fn disconnected(&mut self, user_ids: Option<&[i64]>) -> u64 {
        let r = &mut self.removals;
        r.generation += 1;
        match user_ids {
            None => {
                r.everyone = r.generation;
                self.log = Log::default();
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

    /// Records that `user_ids` joined a room (a watcher socket being accepted meanwhile must
    /// become a member's).
    pub fn joined(&mut self, user_ids: &[i64]) {
        let r = &mut self.removals;
        r.generation += 1;
        for u in user_ids {
            r.joins.insert(*u, r.generation);
        }
    }

    /// Whether `user_id` joined after generation `since`.
    pub fn joined_since(&self, user_id: i64, since: u64) -> bool {
        self.removals
            .joins
            .get(&user_id)
            .is_some_and(|g| *g > since)
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

/// A counter of disconnects (and room joins) and, per user, the last one that named them.
#[derive(Default)]
struct Removals {
    generation: u64,
    everyone: u64,
    users: HashMap<i64, u64>,
    joins: HashMap<i64, u64>,
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
        r.log.delivered(1, "e1");
        r.disconnected(None);
        assert!(r.removed_since(8, before), "chat deleted: everyone");
        assert_eq!(r.log.next(), None, "a deleted chat forgets its position");
    }

    #[test]
    fn joins_are_named_after_a_generation() {
        let mut r = RoomState::default();
        let before = r.generation();
        r.joined(&[7]);
        assert!(r.joined_since(7, before), "joined after the snapshot");
        assert!(!r.joined_since(8, before), "someone else");
        assert!(!r.joined_since(7, r.generation()), "joined before it");
        let before = r.generation();
        r.disconnected(Some(&[7]));
        assert!(r.removed_since(7, before) && !r.joined_since(7, before));
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
        let mut r = RoomState::default();
        assert_eq!(r.alarm_wanted(None), None, "nothing due");
        r.typing.update(1, true, 0, 6_000);
        assert_eq!(r.alarm_wanted(None), Some(6_000));
        assert_eq!(
            r.alarm_wanted(Some(1_000)),
            Some(1_000),
            "a session ends first"
        );
        r.alarm_set(Some(6_000));
        assert_eq!(r.alarm_wanted(None), None, "already set");
    }

    #[test]
    fn position_typing_and_generation_survive_a_save() {
        let mut r = RoomState::restore(Saved {
            chat_id: 4,
            member_gen: 3,
            next: Some(1),
            ..Saved::default()
        });
        r.log.delivered(1, "e1");
        r.typing.update(2, true, 0, 6_000);
        let text = serde_json::to_string(&r.saved()).unwrap();
        let back = RoomState::restore(serde_json::from_str(&text).unwrap());
        assert_eq!(back.chat_id, 4);
        assert_eq!(back.member_gen, 3);
        assert_eq!(back.log.next(), Some(2));
        assert_eq!(back.typing.next_deadline(), Some(6_000));
    }
}
