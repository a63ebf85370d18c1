//! The room's open sockets and their attachments, kept in memory between events (part of the
//! `ChatRoom` shell, room.rs).
//!
//! Fan-out used to read every socket's attachment for every event: a structured-clone
//! deserialisation and a serde conversion per receiver, most of the room's time per event at a
//! few hundred receivers (bench/README.md). Attachments never change after a socket is accepted,
//! so the list is read from the runtime once per instance (again after hibernation, which
//! drops memory) and kept in step here: emptied when a socket is accepted, and a socket is
//! struck from it when it closes, errors or is closed by the room.

use std::rc::Rc;

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::WebSocket;

use super::protocol::SocketInfo;
use super::room::ChatRoom;

/// An open socket and what the worker attached to it.
pub(super) type Open = (WebSocket, SocketInfo);

#[wasm_bindgen]
extern "C" {
    /// A runtime WebSocket, seen only for `send` taking a JS value: the frame's JS string is
    /// made once per event, where `send_with_str` would decode it again for every receiver.
    type RawSocket;
    #[wasm_bindgen(method, catch)]
    fn send(this: &RawSocket, data: &JsValue) -> Result<(), JsValue>;
}

/// A frame's text, converted to a JS string once for all its receivers.
pub(super) struct Frame(JsValue);

impl Frame {
    pub(super) fn new(text: &str) -> Frame {
        Frame(JsValue::from_str(text))
    }

    /// Sends the frame; a socket already closing just misses it.
    pub(super) fn send(&self, ws: &WebSocket) {
        let raw: &web_sys::WebSocket = ws.as_ref();
        let _ = raw.unchecked_ref::<RawSocket>().send(&self.0);
    }
}

impl ChatRoom {
    /// Every open socket with a readable attachment (sockets without one are never sent to).
    pub(super) fn sockets(&self) -> Rc<Vec<Open>> {
        if let Some(list) = self.sockets.borrow().as_ref() {
            return list.clone();
        }
        let list: Rc<Vec<Open>> = Rc::new(
            self.state
                .get_websockets()
                .into_iter()
                .filter_map(|ws| {
                    let info = ws.deserialize_attachment::<SocketInfo>().ok().flatten()?;
                    Some((ws, info))
                })
                .collect(),
        );
        *self.sockets.borrow_mut() = Some(list.clone());
        list
    }

    /// A socket was accepted: the next fan-out reads the list again.
    pub(super) fn socket_opened(&self) {
        *self.sockets.borrow_mut() = None;
    }

    /// `ws` closed (or is being closed by the room): no more frames for it.
    pub(super) fn socket_dropped(&self, ws: &WebSocket) {
        if let Some(list) = self.sockets.borrow_mut().as_mut() {
            Rc::make_mut(list).retain(|(w, _)| w != ws);
        }
    }
}
