//! The room's open sockets and their attachments, kept in memory between events, and sending
//! frames to them.
//!
//! Fan-out used to read every socket's attachment for every event: a structured-clone
//! deserialisation and a serde conversion per receiver, most of the room's time per event at a
//! few hundred receivers (bench/README.md). Attachments never change after a socket is accepted,
//! so the list is read from the runtime once per instance (again after hibernation, which
//! drops memory) and kept in step here: emptied when a socket is accepted, and a socket is
//! struck from it when it closes, errors or is closed by the room.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::{State, WebSocket};

use super::protocol::{SocketInfo, FRAMES_PER_SECOND, FRAME_BURST};

/// An open socket, what the worker attached to it, and its frame allowance.
#[derive(Clone)]
pub struct Open {
    pub ws: WebSocket,
    pub info: SocketInfo,
    bucket: Cell<Bucket>,
}

/// A token bucket: frames a socket may still send now, refilled with time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    tokens: f64,
    at_ms: i64,
}

impl Bucket {
    pub fn full(now_ms: i64) -> Bucket {
        Bucket {
            tokens: FRAME_BURST,
            at_ms: now_ms,
        }
    }

    /// Takes one frame's token at `now_ms`; false when none is left.
    pub fn take(&mut self, now_ms: i64) -> bool {
        let refill = (now_ms - self.at_ms).max(0) as f64 / 1000.0 * FRAMES_PER_SECOND;
        self.tokens = (self.tokens + refill).min(FRAME_BURST);
        self.at_ms = now_ms;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[wasm_bindgen]
extern "C" {
    /// A runtime WebSocket, seen only for `send` taking a JS value: the frame's JS string is
    /// made once per event, where `send_with_str` would decode it again for every receiver.
    type RawSocket;
    #[wasm_bindgen(method, catch)]
    fn send(this: &RawSocket, data: &JsValue) -> Result<(), JsValue>;
}

/// A frame's text, converted to a JS string once for all its receivers.
pub struct Frame {
    text: JsValue,
    /// A durable event's seq: sockets that resumed past it skip it.
    seq: Option<i64>,
    /// Whether watchers receive it too (only `member_count` frames).
    watchers: bool,
}

impl Frame {
    /// A frame for members' sockets.
    pub fn new(text: &str, seq: Option<i64>) -> Frame {
        Frame {
            text: JsValue::from_str(text),
            seq,
            watchers: false,
        }
    }

    /// A frame for every socket, watchers included.
    pub fn for_everyone(text: &str) -> Frame {
        Frame {
            watchers: true,
            ..Frame::new(text, None)
        }
    }

    /// Sends the frame; a socket already closing just misses it.
    pub fn send(&self, ws: &WebSocket) {
        let raw: &web_sys::WebSocket = ws.as_ref();
        let _ = raw.unchecked_ref::<RawSocket>().send(&self.text);
    }
}

#[derive(Default)]
pub struct Sockets {
    /// `None` until read from the runtime.
    cache: RefCell<Option<Rc<Vec<Open>>>>,
}

impl Sockets {
    /// Every open socket with a readable attachment (sockets without one are never sent to).
    pub fn list(&self, state: &State) -> Rc<Vec<Open>> {
        if let Some(list) = self.cache.borrow().as_ref() {
            return list.clone();
        }
        let list: Rc<Vec<Open>> = Rc::new(
            state
                .get_websockets()
                .into_iter()
                .filter_map(|ws| {
                    let info = ws.deserialize_attachment::<SocketInfo>().ok().flatten()?;
                    let bucket = Cell::new(Bucket::full(crate::time::now_ms()));
                    Some(Open { ws, info, bucket })
                })
                .collect(),
        );
        *self.cache.borrow_mut() = Some(list.clone());
        list
    }

    /// A socket was accepted: the next fan-out reads the list again.
    pub fn opened(&self) {
        *self.cache.borrow_mut() = None;
    }

    /// `ws` closed (or is being closed by the room): no more frames for it.
    pub fn dropped(&self, ws: &WebSocket) {
        if let Some(list) = self.cache.borrow_mut().as_mut() {
            Rc::make_mut(list).retain(|o| o.ws != *ws);
        }
    }

    /// Sends `frames` at `now` to every socket but `except`'s, skipping durable events a
    /// resumed socket already received. A socket whose session has ended gets nothing and is
    /// closed.
    pub fn send_all(&self, state: &State, frames: &[Frame], except: Option<i64>, now: i64) {
        if frames.is_empty() {
            return;
        }
        for o in self.list(state).iter() {
            if o.info.expires_at <= now {
                self.close_one(&o.ws, "Session ended.");
                continue;
            }
            if Some(o.info.user_id) == except {
                continue;
            }
            for frame in frames {
                if o.info.watcher && !frame.watchers {
                    continue;
                }
                if frame.seq.is_none_or(|s| s > o.info.after) {
                    frame.send(&o.ws);
                }
            }
        }
    }

    fn close_one(&self, ws: &WebSocket, reason: &str) {
        let _ = ws.close(Some(super::protocol::CLOSE_GONE), Some(reason));
        self.dropped(ws);
    }

    /// Closes (4403) the sockets `which` picks.
    pub fn close(&self, state: &State, reason: &str, which: impl Fn(&SocketInfo) -> bool) {
        for o in self.list(state).iter().filter(|o| which(&o.info)) {
            self.close_one(&o.ws, reason);
        }
    }

    /// Makes `users`' sockets watchers (`watcher`) or members' sockets served from after seq
    /// `after`, in their attachments (which outlive hibernation) and in the list.
    pub fn set_role(&self, state: &State, users: &[i64], watcher: bool, after: i64) {
        self.list(state);
        let mut cache = self.cache.borrow_mut();
        let Some(list) = cache.as_mut() else {
            return;
        };
        for o in Rc::make_mut(list).iter_mut() {
            if users.contains(&o.info.user_id) && o.info.watcher != watcher {
                o.info.watcher = watcher;
                if !watcher {
                    o.info.after = after;
                }
                if let Err(e) = o.ws.serialize_attachment(&o.info) {
                    worker::console_error!("a socket's role was not saved: {e:?}");
                }
            }
        }
    }

    /// When the first open socket's session ends, if any.
    pub fn next_expiry(&self, state: &State) -> Option<i64> {
        self.list(state).iter().map(|o| o.info.expires_at).min()
    }

    /// Sockets `user_id` has open here.
    pub fn count_of(&self, state: &State, user_id: i64) -> usize {
        self.list(state)
            .iter()
            .filter(|o| o.info.user_id == user_id)
            .count()
    }

    /// The distinct users with a socket open here.
    pub fn users(&self, state: &State) -> Vec<i64> {
        let mut ids: Vec<i64> = self.list(state).iter().map(|o| o.info.user_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Takes a frame's token from `ws`'s allowance; false when it has none left.
    pub fn allow_frame(&self, state: &State, ws: &WebSocket, now: i64) -> bool {
        let list = self.list(state);
        let Some(o) = list.iter().find(|o| o.ws == *ws) else {
            return true;
        };
        let mut b = o.bucket.get();
        let ok = b.take(now);
        o.bucket.set(b);
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_a_steady_rate() {
        let mut b = Bucket::full(0);
        for i in 0..FRAME_BURST as usize {
            assert!(b.take(0), "frame {i} of the burst");
        }
        assert!(!b.take(0), "the burst is spent");
        assert!(!b.take(100), "a fifth of a frame refilled");
        assert!(b.take(200), "one frame after 1/rate seconds");
        assert!(
            b.take(10_000) && b.tokens <= FRAME_BURST,
            "refill caps at the burst"
        );
    }
}
