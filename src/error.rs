//! The one error type of the API and its one mapping to status + JSON body.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// Field name → messages, the `details` of a 400.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

#[derive(Debug)]
pub enum ApiError {
    /// 400 with per-field messages.
    Invalid(FieldErrors),
    /// 401: no credentials at all.
    Unauthenticated,
    /// 401: a token or session cookie that is unknown, expired or revoked.
    InvalidToken,
    /// 401 naming why (a host-site token that is refused, SPEC §3).
    UnauthorizedBecause(&'static str),
    /// 403 with the standard message.
    Forbidden,
    /// 403 naming why (cross-site requests, disabled features).
    ForbiddenBecause(&'static str),
    /// 404, also for things the caller may not see (no existence leaks).
    NotFound,
    /// 405; `allow` lists the path's methods for the `Allow` header.
    MethodNotAllowed {
        allow: String,
    },
    PayloadTooLarge,
    UnsupportedMediaType,
    /// 426: a WebSocket route called without `Upgrade: websocket`. (No `Upgrade` response
    /// header: workerd drops it from every response but a 101, as `make fuzz` found.)
    UpgradeRequired,
    /// 410: a user-stream cursor older than what is kept; the client reloads and starts over.
    ResyncRequired,
    TooManyRequests {
        retry_after_secs: u64,
    },
    /// 500. The cause is logged, never sent.
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The 403 of a room's messages (and typing, receipts, members) for a non-member (SPEC §10):
/// rooms are public, so unlike other chats their existence is no secret.
pub const JOIN_THE_ROOM: ApiError = ApiError::ForbiddenBecause("Join the room to see messages.");

impl ApiError {
    /// A 400 naming one field.
    pub fn field(name: &str, message: impl Into<String>) -> Self {
        let mut details = FieldErrors::new();
        details.insert(name.to_string(), vec![message.into()]);
        ApiError::Invalid(details)
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::Invalid(_) => 400,
            ApiError::Unauthenticated
            | ApiError::InvalidToken
            | ApiError::UnauthorizedBecause(_) => 401,
            ApiError::Forbidden | ApiError::ForbiddenBecause(_) => 403,
            ApiError::NotFound => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::PayloadTooLarge => 413,
            ApiError::UnsupportedMediaType => 415,
            ApiError::UpgradeRequired => 426,
            ApiError::ResyncRequired => 410,
            ApiError::TooManyRequests { .. } => 429,
            ApiError::Internal(_) => 500,
        }
    }

    /// The JSON body, exactly as openapi.json documents it.
    pub fn body(&self) -> Value {
        let detail = |d: &str| json!({ "detail": d });
        match self {
            ApiError::Invalid(details) => json!({ "error": "Invalid request", "details": details }),
            ApiError::Unauthenticated => detail("Authentication credentials were not provided."),
            ApiError::InvalidToken => detail("Invalid token."),
            ApiError::UnauthorizedBecause(why) => detail(why),
            ApiError::Forbidden => detail("You do not have permission to perform this action."),
            ApiError::ForbiddenBecause(why) => detail(why),
            ApiError::NotFound => detail("Not found."),
            ApiError::MethodNotAllowed { .. } => detail("Method not allowed."),
            ApiError::PayloadTooLarge => detail("Request body is larger than 64 KiB."),
            ApiError::UnsupportedMediaType => {
                detail("Unsupported media type: send application/json.")
            }
            ApiError::UpgradeRequired => detail("This endpoint expects a WebSocket upgrade."),
            ApiError::ResyncRequired => json!({
                "detail": "Events after this cursor are no longer kept: reload, then poll \
                           again without `after`.",
                "type": "resync_required"
            }),
            ApiError::TooManyRequests { retry_after_secs } => json!({
                "detail": format!(
                    "Request was throttled. Expected available in {retry_after_secs} seconds."
                )
            }),
            ApiError::Internal(_) => json!({ "error": "Internal server error" }),
        }
    }
}

/// Platform errors (D1, JS) are internal: logged by the responder, answered with a bare 500.
impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::Internal(format!("json: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_error_has_the_documented_shape() {
        let e = ApiError::field("content", "This field is required.");
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.body(),
            json!({"error": "Invalid request", "details": {"content": ["This field is required."]}})
        );
    }

    #[test]
    fn internal_errors_never_leak_their_cause() {
        let e = ApiError::Internal("D1_ERROR: no such table: users".into());
        assert_eq!(e.status(), 500);
        assert_eq!(e.body(), json!({"error": "Internal server error"}));
    }
}
