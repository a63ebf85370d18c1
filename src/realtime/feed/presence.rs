//! The presence rows of a hub's users (`stream_presence`): written when a user's first
//! socket opens, renewed by the alarm while one is open, deleted when the last closes. A chat's
//! write batch reads them to know whose hubs to call (docs/realtime.md, "The user stream").

use super::{LiveFeed, PRESENCE_MS, RENEW_MS};
use crate::storage::stream;
use crate::time;

impl LiveFeed {
    /// Renews the presence rows and closes sockets whose session ended.
    pub async fn alarm(&self) {
        self.load();
        let now = time::now_ms();
        let mut users = Vec::new();
        for key in self.keys() {
            match self.with(key, |s| (s.info.expires_at <= now, s.info.user_id)) {
                Some((true, user_id)) => {
                    self.close(key, "Session ended.");
                    if self.keys_of(user_id).is_empty() {
                        self.gone(user_id).await;
                    }
                }
                Some((false, user_id)) => users.push(user_id),
                None => {}
            }
        }
        users.sort_unstable();
        users.dedup();
        self.keep_present(&users).await;
    }

    /// Writes the presence rows of `users` that are unknown or due for renewal (one round
    /// trip), and sets the alarm to renew them (or to close the first socket whose session
    /// ends).
    pub(super) async fn keep_present(&self, users: &[i64]) {
        let now = time::now_ms();
        let due: Vec<i64> = {
            let known = self.present_until.borrow();
            users
                .iter()
                .copied()
                .filter(|u| known.get(u).is_none_or(|until| until - now < RENEW_MS))
                .collect()
        };
        if !due.is_empty() {
            let until = now + PRESENCE_MS;
            let written = match self.db() {
                Ok(db) => stream::present(&db, &due, &time::iso_from_ms(until)).await,
                Err(e) => Err(e),
            };
            match written {
                Ok(()) => {
                    let mut known = self.present_until.borrow_mut();
                    for u in due {
                        known.insert(u, until);
                    }
                }
                Err(e) => worker::console_error!("presence not written: {e:?}"),
            }
        }
        let first_expiry = self
            .socks
            .borrow()
            .as_ref()
            .and_then(|s| s.values().map(|s| s.info.expires_at).min());
        let Some(first_expiry) = first_expiry else {
            return;
        };
        let renew_at = self
            .present_until
            .borrow()
            .values()
            .min()
            .map_or(now, |u| u - RENEW_MS);
        let at = first_expiry.min(renew_at);
        if let Err(e) = self
            .state
            .storage()
            .set_alarm((at - now).clamp(1_000, RENEW_MS))
            .await
        {
            worker::console_error!("alarm not set: {e:?}");
        }
    }

    /// The user has no socket here any more: their presence row goes.
    pub(super) async fn gone(&self, user_id: i64) {
        self.present_until.borrow_mut().remove(&user_id);
        if let Ok(db) = self.db() {
            if let Err(e) = stream::absent(&db, user_id).await {
                worker::console_error!("presence not removed: {e:?}");
            }
        }
    }
}
