//! The room's open sockets and their attachments, kept in memory between events, and sending
//! frames to them.
//!
//! Fan-out used to read every socket's attachment for every event: a structured-clone
//! deserialisation and a serde conversion per receiver, most of the room's time per event at a
//! few hundred receivers (bench/README.md). Attachments never change after a socket is accepted,
//! so the list is read from the runtime once per instance (again after hibernation, which
//! drops memory) and kept in step here: emptied when a socket is accepted, and a socket is
//! struck from it when it closes, errors or is closed by the room.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::{State, WebSocket};

use super::protocol::SocketInfo;

/// An open socket and what the worker attached to it.
pub type Open = (WebSocket, SocketInfo);

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
}

impl Frame {
    pub fn new(text: &str, seq: Option<i64>) -> Frame {
        Frame {
            text: JsValue::from_str(text),
            seq,
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
                    Some((ws, info))
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
            Rc::make_mut(list).retain(|(w, _)| w != ws);
        }
    }

    /// Sends `frames` to every socket but `except`'s, skipping durable events a resumed
    /// socket already received.
    pub fn send_all(&self, state: &State, frames: &[Frame], except: Option<i64>) {
        if frames.is_empty() {
            return;
        }
        for (ws, info) in self.list(state).iter() {
            if Some(info.user_id) == except {
                continue;
            }
            for frame in frames {
                if frame.seq.is_none_or(|s| s > info.after) {
                    frame.send(ws);
                }
            }
        }
    }

    /// Closes the sockets of `user_ids` (`None`: all) with `code`.
    pub fn close(&self, state: &State, user_ids: Option<&[i64]>, code: u16, reason: &str) {
        for (ws, info) in self.list(state).iter() {
            if user_ids.is_none_or(|ids| ids.contains(&info.user_id)) {
                let _ = ws.close(Some(code), Some(reason));
                self.dropped(ws);
            }
        }
    }
}
