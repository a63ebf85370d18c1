//! `UserStream`: a stream hub, the Durable Object that holds the user-stream sockets of the
//! users whose id falls to it (`STREAM_HUBS` of them; docs/realtime.md, "The user stream"), a
//! thin shell that hands every runtime event to `LiveFeed` (feed/).

use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, State, WebSocket,
    WebSocketIncomingMessage,
};

use super::feed::LiveFeed;
use super::protocol::{self as p, StreamCall, StreamConnect};

#[durable_object]
pub struct UserStream {
    feed: LiveFeed,
}

impl DurableObject for UserStream {
    fn new(state: State, env: Env) -> Self {
        super::answer_pings(&state);
        UserStream {
            feed: LiveFeed::new(state, env),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        match req.path().as_str() {
            "/connect" => {
                let connect = req.headers().get(p::STREAM_CONNECT_HEADER)?;
                match connect.map(|h| serde_json::from_str::<StreamConnect>(&h)) {
                    Some(Ok(c)) => self.feed.open(c).await,
                    _ => Response::error("Bad connect.", 400),
                }
            }
            "/call" => match serde_json::from_str::<StreamCall>(&req.text().await?) {
                Ok(call) => {
                    self.feed.call(call.op).await;
                    Response::ok("")
                }
                Err(_) => Response::error("Bad stream call.", 400),
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
                self.feed.frame(&ws, &text)
            }
            _ => {
                let _ = ws.close(Some(p::CLOSE_TOO_BIG), Some("Frames are small JSON text."));
            }
        }
        Ok(())
    }

    async fn websocket_close(&self, ws: WebSocket, _: usize, _: String, _: bool) -> Result<()> {
        let _ = ws.close(Some(1000), Some("Closed."));
        self.feed.socket_gone(&ws).await;
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        self.feed.socket_gone(&ws).await;
        Ok(())
    }

    async fn alarm(&self) -> Result<Response> {
        self.feed.alarm().await;
        Response::ok("")
    }
}
