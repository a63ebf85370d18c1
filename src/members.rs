//! Members (SPEC §4): adding to groups (admins) and removing (admins, or anyone leaving).

use serde_json::json;
use worker::Response;

use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::events;
use crate::http::{self, Cx};
use crate::realtime;
use crate::storage::chats;
use crate::time;

/// Most members one call adds (also when a group is created).
pub const MAX_ADD: usize = 500;
/// The 400 for more than `MAX_ADD`.
pub const TOO_MANY: &str = "At most 500 members can be added at once.";

/// `POST /messages/api/chats/{id}/members/add/` `{user_ids}` — group admins only; unknown ids
/// are a 400 and nothing is added; `added_count` counts only users who were not members.
pub async fn add(cx: &Cx, chat_id: i64) -> ApiResult<Response> {
    // Which of the ids exist and are members already is read with the authentication.
    let mut input = cx.json();
    let ids = input.as_mut().ok().and_then(|i| i.id_list("user_ids"));
    let mut wanted = ids.clone().unwrap_or_default();
    wanted.sort_unstable();
    wanted.dedup();
    wanted.truncate(MAX_ADD + 1);
    let lookups = chats::candidate_stmts(&cx.db, chat_id, &wanted)?;
    let (_, chat, found) = auth::member_with(cx, chat_id, |_| Ok(lookups)).await?;
    let mut input = input?;
    if ids.as_ref().is_some_and(|ids| ids.len() > MAX_ADD) {
        input.error("user_ids", TOO_MANY);
    }
    if chat.chat_type == "dm" {
        input.error("user_ids", "Members cannot be added to a direct message.");
        return Err(input.finish().expect_err("an error was recorded"));
    }
    if chat.is_admin != 1 {
        return Err(ApiError::Forbidden);
    }
    input.finish()?;
    let ids = wanted;
    let (found, already) = chats::candidates(&found)?;
    let unknown: Vec<String> = ids
        .iter()
        .filter(|id| !found.contains(id))
        .map(|id| id.to_string())
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::field(
            "user_ids",
            format!("Unknown user id(s): {}.", unknown.join(", ")),
        ));
    }
    let new_ids: Vec<i64> = ids.into_iter().filter(|id| !already.contains(id)).collect();
    let mut added = 0;
    if !new_ids.is_empty() {
        if let Some(seq) = chats::add_members(&cx.db, chat_id, &new_ids, &time::now_iso()).await? {
            added = new_ids.len();
            realtime::publish(cx, chat_id, events::members_added(seq, new_ids));
        } else {
            // Someone else added some of them at the same moment: nothing was written.
            return Err(ApiError::field(
                "user_ids",
                "The member list changed meanwhile; please retry.",
            ));
        }
    }
    http::ok(&json!({ "status": "success", "added_count": added }))
}

/// `DELETE /messages/api/chats/{id}/members/{user_id}/remove/` — admins remove anyone in a
/// group; any member may remove themself (leave). The last admin leaving hands admin to the
/// longest-standing member; the last member leaving deletes the chat. The removed user's
/// sockets on the chat are closed at once.
pub async fn remove(cx: &Cx, chat_id: i64, user_id: i64) -> ApiResult<Response> {
    let (me, chat) = auth::member(cx, chat_id).await?;
    let leaving = me.user.id == user_id;
    let group_admin = chat.chat_type == "group" && chat.is_admin == 1;
    if !(leaving || group_admin) {
        return Err(ApiError::Forbidden);
    }
    let now = time::now_iso();
    let removed =
        chats::remove_member(&cx.db, chat_id, user_id, chat.chat_type == "group", &now).await?;
    let Some(seq) = removed.seq else {
        return Err(ApiError::NotFound); // not a member of this chat
    };
    let event = if removed.chat_deleted {
        events::chat_deleted(seq + 1, chat_id)
    } else {
        events::member_removed(seq, user_id)
    };
    realtime::publish(cx, chat_id, event);
    realtime::disconnect(cx, chat_id, Some(vec![user_id])).await;
    http::no_content()
}
