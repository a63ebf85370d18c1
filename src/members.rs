//! Members: adding to groups (admins) and removing (admins, or anyone leaving).

use serde_json::json;
use worker::Response;

use crate::auth;
use crate::domain::ChatKind;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, Cx};
use crate::realtime;
use crate::storage::members::Candidates;
use crate::writes::Write;

/// Most members one call adds (also when a group is created).
pub const MAX_ADD: usize = 500;

/// The 400 for more than `MAX_ADD`.
pub fn too_many() -> String {
    format!("At most {MAX_ADD} members can be added at once.")
}

/// The 400 naming the requested ids that are not active users.
pub fn unknown_ids(field: &str, requested: &[i64], found: &[i64]) -> ApiError {
    let unknown: Vec<String> = requested
        .iter()
        .filter(|id| !found.contains(id))
        .map(|id| id.to_string())
        .collect();
    ApiError::field(
        field,
        format!("Unknown user id(s): {}.", unknown.join(", ")),
    )
}

/// `POST /messages/api/chats/{id}/members/add/` `{user_ids}` — group and room admins only;
/// unknown ids are a 400 and nothing is added; `added_count` counts only users who were not
/// members. In a room they join as if they had joined themselves (member count, sockets).
pub async fn add(cx: &Cx, chat_id: i64) -> ApiResult<Response> {
    // Which of the ids exist and are members already is read with the authentication.
    let mut input = cx.json();
    let ids = input.as_mut().ok().and_then(|i| i.id_list("user_ids"));
    let mut wanted = ids.clone().unwrap_or_default();
    wanted.sort_unstable();
    wanted.dedup();
    wanted.truncate(MAX_ADD + 1);
    let (_, chat, lookups, res) =
        auth::member_with(cx, chat_id, |b, _| Candidates::query(b, chat_id, &wanted)).await?;
    let mut input = input?;
    if ids.as_ref().is_some_and(|ids| ids.len() > MAX_ADD) {
        input.error("user_ids", too_many());
    }
    if chat.chat_type == ChatKind::Dm {
        input.error("user_ids", "Members cannot be added to a direct message.");
        return Err(input.finish().expect_err("an error was recorded"));
    }
    if !chat.is_admin {
        return Err(ApiError::Forbidden);
    }
    input.finish()?;
    let (found, already) = lookups.read(&res)?;
    if found.len() != wanted.len() {
        return Err(unknown_ids("user_ids", &wanted, &found));
    }
    let new_ids: Vec<i64> = wanted
        .into_iter()
        .filter(|id| !already.contains(id))
        .collect();
    if new_ids.is_empty() {
        return http::ok(&json!({ "status": "success", "added_count": 0 }));
    }
    let write = match chat.chat_type {
        ChatKind::Room => Write::Join {
            user_ids: new_ids,
            view_as: None,
        },
        _ => Write::AddMembers { user_ids: new_ids },
    };
    realtime::write(cx, chat_id, write).await
}

/// `DELETE /messages/api/chats/{id}/members/{user_id}/remove/` — admins remove anyone in a
/// group; any member may remove themself (leave). The last admin leaving hands admin to the
/// longest-standing member; the last member leaving deletes the chat. The removed user's
/// sockets on the chat are closed at once. Rooms: the same for room admins, but a room is
/// never deleted by emptying it, and the removed member's sockets stay on as watchers.
pub async fn remove(cx: &Cx, chat_id: i64, user_id: i64) -> ApiResult<Response> {
    let (me, chat) = auth::member(cx, chat_id).await?;
    let leaving = me.user.id == user_id;
    let has_admins = chat.chat_type != ChatKind::Dm;
    if !(leaving || (has_admins && chat.is_admin)) {
        return Err(ApiError::Forbidden);
    }
    let write = match chat.chat_type {
        ChatKind::Room => Write::Leave { user_id },
        _ => Write::RemoveMember {
            user_id,
            hand_over_admin: has_admins,
        },
    };
    realtime::write(cx, chat_id, write).await
}
