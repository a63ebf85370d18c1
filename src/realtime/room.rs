//! `ChatRoom`: the per-chat Durable Object (thin shell over plain logic).

use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

#[durable_object]
pub struct ChatRoom {
    #[allow(dead_code)]
    state: State,
    #[allow(dead_code)]
    env: Env,
}

impl DurableObject for ChatRoom {
    fn new(state: State, env: Env) -> Self {
        ChatRoom { state, env }
    }

    async fn fetch(&self, _req: Request) -> Result<Response> {
        Response::error("Not found.", 404)
    }
}
