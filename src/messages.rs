//! Messages: listing with keyset paging, send (idempotent with `client_id`), detail,
//! edit and soft delete.

use serde_json::json;
use worker::Response;

use crate::auth;
use crate::chats::page_number;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, Cx, Input};
use crate::realtime;
use crate::storage::messages::{self as store, Loaded, MessageAccess, Window};
use crate::storage::{Batch, Results};
use crate::views::Message;
use crate::writes::Write;

/// Longest `client_id`, in code points.
pub const MAX_CLIENT_ID: usize = 64;

fn first(loaded: &Loaded) -> ApiResult<Message> {
    Message::first(loaded).ok_or(ApiError::NotFound)
}

/// A positive integer query parameter, or 400 naming it.
fn id_param(cx: &Cx, name: &str) -> ApiResult<Option<i64>> {
    match cx.query(name) {
        None => Ok(None),
        Some(v) => http::path_id(v.trim())
            .map(Some)
            .map_err(|_| ApiError::field(name, "Must be a positive integer message id.")),
    }
}

/// `GET /messages/api/chats/{id}/messages/` — newest first, `MESSAGES_PER_PAGE` per page.
/// `before`/`after` filter by id; `next` (older) and `previous` (newer) are keyset links
/// (`before=<oldest shown>`, `after=<newest shown>`), so they stay right while messages
/// arrive; `page=N` offsets within the filter.
pub async fn list(cx: &Cx, chat_id: i64) -> ApiResult<Response> {
    // The page is read in the round trip that authenticates (and used only if that passes);
    // bad parameters are reported after authentication, as everywhere.
    let params: ApiResult<_> = (|| {
        Ok((
            id_param(cx, "before")?,
            id_param(cx, "after")?,
            page_number(cx)?,
        ))
    })();
    let limit = cx.settings.messages_per_page as i64;
    let window = params.as_ref().ok().map(|&(before, after, page)| Window {
        before,
        after,
        ascending: after.is_some() && before.is_none(),
        limit,
        offset: (page - 1) * limit,
    });
    let (_, _, reads, res) = auth::member_with(cx, chat_id, |b, s| {
        let viewer = s.viewer();
        window
            .as_ref()
            .map(|w| store::page(b, chat_id, w, &viewer))
            .transpose()
    })
    .await?;
    let (_, _, page) = params?;
    let (loaded, bounds) = reads.ok_or(ApiError::NotFound)?.read(&res)?;
    if page > 1 && loaded.messages.is_empty() {
        return Err(ApiError::NotFound);
    }
    let newest = loaded.messages.first().map(|m| m.id);
    let oldest = loaded.messages.last().map(|m| m.id);
    let link = |key: &str, id: i64| cx.url_with(&["before", "after", "page"], key, id);
    let next = oldest
        .filter(|o| bounds.min_id.is_some_and(|min| min < *o))
        .map(|o| link("before", o));
    let previous = newest
        .filter(|n| bounds.max_id.is_some_and(|max| max > *n))
        .map(|n| link("after", n));
    http::ok(&json!({
        "count": bounds.count,
        "next": next,
        "previous": previous,
        "results": Message::all(&loaded),
    }))
}

/// Validated message text: trimmed, non-empty, at most `MAX_MESSAGE_LENGTH` code points.
fn content(cx: &Cx, input: &mut Input) -> Option<String> {
    let text = input.string("content")?.trim().to_string();
    let max = cx.settings.max_message_length;
    if text.is_empty() {
        input.error("content", "This field may not be blank.");
    } else if text.chars().count() > max {
        input.error(
            "content",
            format!("Ensure this field has no more than {max} characters."),
        );
    }
    Some(text)
}

/// `POST /messages/api/chats/{id}/messages/` `{content, client_id?}` → 201 with the message.
/// Repeating a `client_id` (same sender, same chat) returns the first message with 200 and
/// stores nothing. Sending marks the chat read for the sender. One D1 round trip: the chat's
/// room authenticates, authorises and stores in one batch (with other sends of the moment).
pub async fn send(cx: &Cx, chat_id: i64) -> ApiResult<Response> {
    let (token_hash, _) = auth::session(cx)?;
    let parsed = (|| {
        let mut input = cx.json()?;
        let text = content(cx, &mut input);
        let client_id = input.opt_string("client_id");
        if client_id
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.chars().count() > MAX_CLIENT_ID)
        {
            input.error(
                "client_id",
                format!("Must be 1 to {MAX_CLIENT_ID} characters."),
            );
        }
        input.finish()?;
        Ok((text.unwrap_or_default(), client_id))
    })();
    match parsed {
        Ok((content, client_id)) => {
            let write = Write::Send {
                token_hash,
                content,
                client_id,
            };
            realtime::write(cx, chat_id, write).await
        }
        // 401 and 404 come before 400, as for every request.
        Err(e) => auth::member(cx, chat_id).await.and(Err(e)),
    }
}

/// The caller and a message of a chat they belong to, in one round trip (404 otherwise), with
/// the handler's own reads (see `auth::authenticate_with`).
pub async fn access_with<R>(
    cx: &Cx,
    id: i64,
    reads: impl FnOnce(&mut Batch, &auth::SessionRef) -> ApiResult<R>,
) -> ApiResult<(auth::Caller, MessageAccess, R, Results)> {
    auth::gated(cx, |b, s| {
        let gate = store::access_by_session(b, id, s.token_hash, s.now)?;
        Ok((gate, reads(b, s)?))
    })
    .await
}

/// `GET /messages/api/messages/{id}/` — one message of a chat the caller belongs to, read with
/// its reactions and read pointers in the round trip that authenticates.
pub async fn detail(cx: &Cx, id: i64) -> ApiResult<Response> {
    let (_, m, reads, res) = access_with(cx, id, |b, s| store::extras(b, id, &s.viewer())).await?;
    let mut loaded = reads.read(&res)?;
    loaded.messages = vec![m.message];
    http::ok(&first(&loaded)?)
}

/// `PUT/PATCH /messages/api/messages/{id}/` `{content}` — own, not deleted messages, when
/// `ALLOW_EDITING_OWN_MESSAGES`; sets `is_edited`; emits `message_updated`.
pub async fn update(cx: &Cx, id: i64) -> ApiResult<Response> {
    let (me, m, (), _) = access_with(cx, id, |_, _| Ok(())).await?;
    if m.message.sender_id != Some(me.user.id) || !cx.settings.allow_editing_own_messages {
        return Err(ApiError::Forbidden);
    }
    let mut input = cx.json()?;
    let text = content(cx, &mut input);
    if m.message.is_deleted {
        input.error("content", "A deleted message cannot be edited.");
    }
    input.finish()?;
    let write = Write::Edit {
        message_id: id,
        content: text.unwrap_or_default(),
    };
    realtime::write(cx, m.message.chat_id, write).await
}

/// `DELETE /messages/api/messages/{id}/` — soft delete of the caller's own message when
/// `ALLOW_DELETING_OWN_MESSAGES`: content emptied, reactions dropped, the tombstone stays.
/// Deleting a deleted message is a no-op 204.
pub async fn destroy(cx: &Cx, id: i64) -> ApiResult<Response> {
    let (me, m, (), _) = access_with(cx, id, |_, _| Ok(())).await?;
    if m.message.sender_id != Some(me.user.id) || !cx.settings.allow_deleting_own_messages {
        return Err(ApiError::Forbidden);
    }
    if m.message.is_deleted {
        return http::no_content();
    }
    realtime::write(cx, m.message.chat_id, Write::Delete { message_id: id }).await
}
