//! Typing indicators of a chat room (docs/realtime.md): which `typing` frames to broadcast, when an
//! unrefreshed `typing: true` expires into a server `typing: false`, and the throttle that
//! keeps a client repeating `typing: true` from flooding the room. Plain logic, natively tested.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Repeated identical `typing: true` from one user is broadcast at most this often.
pub const THROTTLE_MS: i64 = 1_000;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
struct Entry {
    expires_at: i64,
    last_sent: i64,
}

/// Who is typing, and until when. Serialized into Durable Object storage so expiry survives
/// eviction (the alarm wakes a fresh instance).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Typing {
    users: BTreeMap<i64, Entry>,
}

impl Typing {
    /// Records `user_id`'s new state at `now`; returns the frame to broadcast, if any.
    /// State changes always pass; a refresh of `true` within `THROTTLE_MS` only extends the
    /// deadline. `false` always passes: it is idempotent and undoes a stuck indicator.
    pub fn update(
        &mut self,
        user_id: i64,
        is_typing: bool,
        now: i64,
        timeout_ms: i64,
    ) -> Option<bool> {
        if !is_typing {
            self.users.remove(&user_id);
            return Some(false);
        }
        let expires_at = now + timeout_ms;
        match self.users.get_mut(&user_id) {
            Some(e) if now - e.last_sent < THROTTLE_MS => {
                e.expires_at = expires_at;
                None
            }
            Some(e) => {
                *e = Entry {
                    expires_at,
                    last_sent: now,
                };
                Some(true)
            }
            None => {
                self.users.insert(
                    user_id,
                    Entry {
                        expires_at,
                        last_sent: now,
                    },
                );
                Some(true)
            }
        }
    }

    /// Forgets `user_id` (their last socket closed); true when they were typing, so the room
    /// tells the others.
    pub fn forget(&mut self, user_id: i64) -> bool {
        self.users.remove(&user_id).is_some()
    }

    /// Users whose `typing: true` expired by `now`; each gets a server `typing: false`.
    pub fn expire(&mut self, now: i64) -> Vec<i64> {
        let gone: Vec<i64> = self
            .users
            .iter()
            .filter(|(_, e)| e.expires_at <= now)
            .map(|(u, _)| *u)
            .collect();
        for u in &gone {
            self.users.remove(u);
        }
        gone
    }

    /// Who is typing at `now` (a polling client's snapshot), but `except`.
    pub fn now_typing(&self, now: i64, except: i64) -> Vec<i64> {
        self.users
            .iter()
            .filter(|(u, e)| e.expires_at > now && **u != except)
            .map(|(u, _)| *u)
            .collect()
    }

    /// When the next expiry is due (the room's alarm).
    pub fn next_deadline(&self) -> Option<i64> {
        self.users.values().map(|e| e.expires_at).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 6_000;

    /// User 1 started typing at 0.
    fn one_typing() -> Typing {
        let mut t = Typing::default();
        assert_eq!(t.update(1, true, 0, T), Some(true));
        t
    }

    #[test]
    fn first_true_is_broadcast_and_expires_into_false() {
        let mut t = Typing::default();
        assert_eq!(t.update(1, true, 0, T), Some(true));
        assert_eq!(t.next_deadline(), Some(T));
        assert!(t.expire(T - 1).is_empty(), "not yet");
        assert_eq!(t.expire(T), vec![1], "expired at the timeout");
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn repeats_are_throttled_and_changes_always_pass() {
        let mut t = one_typing();
        // (is_typing, at, broadcast, why)
        let steps = [
            (true, 500, None, "a repeat within the throttle"),
            (true, 1_000, Some(true), "a repeat after the throttle"),
            (false, 1_010, Some(false), "a change passes at once"),
            (true, 1_020, Some(true), "true again at once"),
            (false, 1_030, Some(false), "false"),
            (false, 1_040, Some(false), "false is idempotent"),
        ];
        for (is_typing, at, want, why) in steps {
            assert_eq!(t.update(1, is_typing, at, T), want, "{why}");
        }
        let mut t = one_typing();
        t.update(1, true, 500, T);
        assert_eq!(
            t.next_deadline(),
            Some(500 + T),
            "a throttled refresh extends"
        );
    }

    #[test]
    fn users_are_independent() {
        let mut t = one_typing();
        assert_eq!(t.update(2, true, 100, T), Some(true));
        assert_eq!(t.expire(T), vec![1]);
        assert_eq!(t.next_deadline(), Some(100 + T));
        assert!(t.forget(2));
        assert!(!t.forget(2));
    }

    #[test]
    fn survives_a_storage_round_trip() {
        let mut t = Typing::default();
        t.update(7, true, 5, T);
        let back: Typing = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back.next_deadline(), Some(5 + T));
    }
}
