//! Edge Messaging: the Django Messaging REST + WebSocket API as a Cloudflare Worker.
//!
//! Code tour: `routes` is the table of contents; one module per resource (`auth`, `users`, ...)
//! owns its request/response shapes and handlers; `storage` holds every SQL statement; `error`
//! is the one error type and its mapping to status + JSON.

pub mod auth;
pub mod chats;
pub mod crypto;
pub mod emoji;
pub mod error;
pub mod events;
pub mod health;
pub mod http;
pub mod members;
pub mod messages;
pub mod pages;
pub mod reactions;
pub mod realtime;
pub mod receipts;
pub mod routes;
pub mod schema;
pub mod settings;
pub mod storage;
pub mod time;
pub mod users;

use worker::{event, Context, Env, Request, Response};

use crate::error::ApiError;
use crate::http::Cx;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let (result, timing) = match Cx::new(req, env).await {
        Ok(cx) => {
            let result = routes::route(&cx).await;
            // Durable events go to their rooms after the response: the writer does not wait
            // for the fan-out (ordering is the room's job, by seq).
            let events = cx.publish_later.take();
            if !events.is_empty() {
                let env = cx.env.clone();
                ctx.wait_until(async move { realtime::flush(&env, events).await });
            }
            (result, Some(cx.db.round_trips()))
        }
        Err(e) => (Err(e), None),
    };
    let resp = match result {
        Ok(resp) => resp,
        Err(e) => error_response(&e),
    };
    if let Some((trips, ms)) = timing {
        // Sequential D1 round trips of this request and their total time (issue #6).
        let _ = resp
            .headers()
            .set("Server-Timing", &format!("d1;desc=\"{trips}\";dur={ms:.1}"));
    }
    Ok(resp)
}

/// The one place an `ApiError` becomes a response. 5xx causes are logged, never sent.
fn error_response(e: &ApiError) -> Response {
    if let ApiError::Internal(cause) = e {
        worker::console_error!("internal error: {cause}");
    }
    let resp = match http::json(e.status(), &e.body()) {
        Ok(r) => r,
        Err(_) => {
            Response::error("{\"error\": \"Internal server error\"}", 500).expect("static response")
        }
    };
    match e {
        ApiError::TooManyRequests { retry_after_secs } => {
            let _ = resp
                .headers()
                .set("Retry-After", &retry_after_secs.to_string());
        }
        ApiError::MethodNotAllowed { allow } => {
            let _ = resp.headers().set("Allow", allow);
        }
        _ => {}
    }
    resp
}
