//! Edge Messaging: the Django Messaging REST + WebSocket API as a Cloudflare Worker.
//!
//! Code tour (README "Code tour" has the picture): `routes` is the table of contents; one
//! module per resource (`auth`, `users`, `chats`, `members`, `messages`, `reactions`,
//! `receipts`, `realtime`) owns its handlers; `views` holds every JSON shape; `storage` holds
//! every SQL statement; `error` is the one error type and its mapping to status + JSON.

pub mod accounts;
pub mod auth;
pub mod chats;
pub mod config;
pub mod crypto;
pub mod cursor;
pub mod domain;
pub mod emoji;
pub mod error;
pub mod health;
pub mod http;
pub mod jwt;
pub mod members;
pub mod messages;
pub mod pages;
pub mod reactions;
pub mod realtime;
pub mod receipts;
pub mod replay;
pub mod rooms;
pub mod routes;
pub mod schema;
pub mod settings;
pub mod sso;
pub mod storage;
pub mod stream;
pub mod time;
pub mod users;
pub mod views;
pub mod writes;

use worker::{event, Context, Env, Request, Response};

use crate::error::ApiError;
use crate::http::Cx;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let (result, cost) = match Cx::new(req, env, ctx).await {
        Ok(cx) => {
            let result = routes::route(&cx).await;
            // Only authenticated answers report their D1 cost: a refusal must not tell whether
            // (or how much of) what was asked for exists.
            let report = cx.authenticated.get() || cx.settings.server_timing_always;
            (result, report.then(|| cx.cost()))
        }
        Err(e) => (Err(e), None),
    };
    let resp = match result {
        Ok(resp) => resp,
        Err(e) => error_response(&e),
    };
    if let Some(cost) = cost {
        // Sequential D1 round trips and their total time; rows read plus written (SPEC §2),
        // then each apart, as D1 reports them in its results' metadata (README, "Server-Timing").
        let mut timing = format!(
            "d1;desc=\"{}\";dur={:.1}, d1rows;desc=\"{}\", d1read;desc=\"{}\", \
             d1written;desc=\"{}\"",
            cost.trips,
            cost.millis,
            cost.rows_read + cost.rows_written,
            cost.rows_read,
            cost.rows_written
        );
        // User-stream objects a write's room called (one per member with a stream open).
        if cost.streams > 0 {
            timing.push_str(&format!(", streams;desc=\"{}\"", cost.streams));
        }
        let _ = resp.headers().set("Server-Timing", &timing);
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
