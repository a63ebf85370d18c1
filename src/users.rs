//! Users: user search and one user by id. The `UserSummary` JSON every resource embeds is in `views`.

use serde_json::json;
use worker::Response;

use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, Cx};
use crate::storage::users;
use crate::views::{UserSummary, UserWithEmail};

/// At most this many results per search.
const SEARCH_LIMIT: u32 = 20;
/// Longest query, in code points.
const MAX_QUERY: usize = 150;

/// `GET /messages/api/users/search/?q=` — users whose username, first or last name or email
/// contains `q` (case-insensitive), excluding the caller; at most 20, exact username first.
pub async fn search(cx: &Cx) -> ApiResult<Response> {
    let q = cx.query("q").unwrap_or_default().trim().to_string();
    let valid = if q.is_empty() {
        Err(ApiError::field("q", "This query parameter is required."))
    } else if q.chars().count() > MAX_QUERY {
        Err(ApiError::field(
            "q",
            format!("Ensure this value has at most {MAX_QUERY} characters."),
        ))
    } else {
        Ok(())
    };
    let q = q.to_lowercase();
    // Searched in the round trip that authenticates, leaving the caller out in SQL.
    let (_, found, res) = auth::authenticate_with(cx, |b, s| match valid {
        Ok(()) => Ok(Some(users::search(b, &q, &s.viewer(), SEARCH_LIMIT)?)),
        Err(_) => Ok(None),
    })
    .await?;
    valid?;
    let found = res.all(found.expect("searched when valid"))?;
    let results: Vec<UserWithEmail> = found.iter().map(UserWithEmail::of).collect();
    http::ok(&json!({ "results": results }))
}

/// `GET /messages/api/users/{user_id}/` — one active user (id, username, display name,
/// avatar; no email) to any signed-in user: what user search already shows, by id, so a page
/// that knows only an id (the DM widget, SPEC §11) can name the person. 404 when there is no
/// such active user.
pub async fn detail(cx: &Cx, user_id: i64) -> ApiResult<Response> {
    let (_, found, res) =
        auth::authenticate_with(cx, |b, s| Ok(Some(users::by_id(b, user_id, &s.viewer())?)))
            .await?;
    let found = res.all(found.expect("always read"))?;
    let user = found.first().ok_or(ApiError::NotFound)?;
    http::ok(&UserSummary::of(user))
}
