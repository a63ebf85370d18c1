//! `ChatRoom`: the per-chat Durable Object (docs/realtime.md), a thin shell that hands every runtime
//! event to `LiveChat` (live.rs), which owns the chat's sockets, its plain state and its reads
//! from D1.

use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, State, WebSocket,
    WebSocketIncomingMessage,
};

use super::live::LiveChat;
use super::protocol::{self as p, Connect, RoomCall};
use crate::error::ApiError;

#[durable_object]
pub struct ChatRoom {
    live: LiveChat,
}

impl DurableObject for ChatRoom {
    fn new(state: State, env: Env) -> Self {
        super::answer_pings(&state);
        ChatRoom {
            live: LiveChat::new(state, env),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        match req.path().as_str() {
            "/connect" => {
                let connect = req.headers().get(p::CONNECT_HEADER)?;
                match connect.map(|h| serde_json::from_str::<Connect>(&h)) {
                    Some(Ok(c)) => self.live.open(c).await,
                    _ => Response::error("Bad connect.", 400),
                }
            }
            // serde_json, not the runtime's JSON: ids up to 2^53 are valid, and a JS number
            // above 2^53 - 1 is refused as an integer on the way in.
            "/call" => match serde_json::from_str::<RoomCall>(&req.text().await?) {
                Ok(call) => match self.live.call(call).await {
                    Some(reply) => Response::from_json(&reply),
                    None => Response::ok(""),
                },
                Err(_) => Response::error("Bad room call.", 400),
            },
            _ => Response::error("Not found.", 404),
        }
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        match message {
            WebSocketIncomingMessage::String(text) if text.len() <= p::MAX_FRAME_BYTES => {
                self.live.frame(&ws, &text).await
            }
            WebSocketIncomingMessage::Binary(b) if b.len() <= p::MAX_FRAME_BYTES => {
                let e = ApiError::field("non_field_errors", "Binary frames are not supported.");
                let _ = ws.send_with_str(p::error_frame(&e).to_string());
            }
            _ => {
                let _ = ws.close(Some(p::CLOSE_TOO_BIG), Some("Message too big."));
            }
        }
        Ok(())
    }

    async fn websocket_close(&self, ws: WebSocket, _: usize, _: String, _: bool) -> Result<()> {
        let _ = ws.close(Some(1000), Some("Closed."));
        self.live.socket_gone(&ws).await;
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        self.live.socket_gone(&ws).await;
        Ok(())
    }

    async fn alarm(&self) -> Result<Response> {
        self.live.alarm().await;
        Response::ok("")
    }
}
