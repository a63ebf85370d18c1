//! Messages (SPEC §5): the message JSON, listing with keyset paging, send (idempotent with
//! `client_id`), detail, edit and soft delete.

use std::collections::HashMap;

use serde_json::{json, Value};
use worker::{D1PreparedStatement, D1Result, Response};

use crate::auth;
use crate::chats::page_number;
use crate::error::{ApiError, ApiResult};
use crate::events;
use crate::http::{self, Cx, Input};
use crate::realtime;
use crate::storage::messages::{self as store, Loaded, MessageAccess, MessageRow, Window};
use crate::time;
use crate::users::summary;

/// A message without reactions and read receipts (a chat's `last_message`).
pub fn render_basic(m: &MessageRow) -> Value {
    json!({
        "id": m.id,
        "chat": m.chat_id,
        "seq": m.seq,
        "content": m.content,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
        "is_edited": m.is_edited == 1,
        "is_deleted": m.is_deleted == 1,
        "sender": m.sender().as_ref().map(summary),
        "client_id": m.client_id,
    })
}

/// Full messages, newest first: `reactions` as `[{emoji, count, users}]` in order of first use,
/// `read_by` = members whose read pointer reached the message. Computed from one reactions
/// query and one pointers query, whatever the page and member counts.
pub fn render(loaded: &Loaded) -> Vec<Value> {
    let mut reactions: HashMap<i64, Vec<(String, Vec<i64>)>> = HashMap::new();
    for r in &loaded.reactions {
        let list = reactions.entry(r.message_id).or_default();
        match list.iter_mut().find(|(e, _)| *e == r.emoji) {
            Some((_, users)) => users.push(r.user_id),
            None => list.push((r.emoji.clone(), vec![r.user_id])),
        }
    }
    let mut pointers: Vec<(i64, i64)> = loaded
        .pointers
        .iter()
        .map(|p| (p.user_id, p.last_read_message_id))
        .collect();
    pointers.sort_unstable();
    loaded
        .messages
        .iter()
        .map(|m| {
            let mut v = render_basic(m);
            v["reactions"] = reactions
                .get(&m.id)
                .map(|list| {
                    list.iter()
                        .map(|(emoji, users)| json!({"emoji": emoji, "count": users.len(), "users": users}))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
                .into();
            v["read_by"] = pointers
                .iter()
                .filter(|(_, p)| *p >= m.id)
                .map(|(u, _)| *u)
                .collect::<Vec<_>>()
                .into();
            v
        })
        .collect()
}

fn render_one(loaded: &Loaded) -> ApiResult<Value> {
    render(loaded).into_iter().next().ok_or(ApiError::NotFound)
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

/// This URL with the paging parameters replaced by `key=value`.
fn link(cx: &Cx, key: &str, value: i64) -> String {
    let mut url = cx.url.clone();
    let keep: Vec<(String, String)> = cx
        .url
        .query_pairs()
        .filter(|(k, _)| !["before", "after", "page"].contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(keep)
        .append_pair(key, &value.to_string());
    url.to_string()
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
    let reads = match &window {
        Some(w) => store::page_stmts(&cx.db, chat_id, w)?,
        None => vec![],
    };
    let (_, _, res) = auth::member_with(cx, chat_id, |_| Ok(reads)).await?;
    let (_, _, page) = params?;
    let (loaded, bounds) = store::page_data(&res)?;
    if page > 1 && loaded.messages.is_empty() {
        return Err(ApiError::NotFound);
    }
    let newest = loaded.messages.first().map(|m| m.id);
    let oldest = loaded.messages.last().map(|m| m.id);
    let next = oldest
        .filter(|o| bounds.min_id.is_some_and(|min| min < *o))
        .map(|o| link(cx, "before", o));
    let previous = newest
        .filter(|n| bounds.max_id.is_some_and(|max| max > *n))
        .map(|n| link(cx, "after", n));
    http::ok(&json!({
        "count": bounds.count,
        "next": next,
        "previous": previous,
        "results": render(&loaded),
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
/// stores nothing. Sending marks the chat read for the sender.
pub async fn send(cx: &Cx, chat_id: i64) -> ApiResult<Response> {
    let (me, _) = auth::member(cx, chat_id).await?;
    let mut input = cx.json()?;
    let text = content(cx, &mut input);
    let client_id = input.opt_string("client_id");
    if client_id
        .as_ref()
        .is_some_and(|c| c.is_empty() || c.chars().count() > 64)
    {
        input.error("client_id", "Must be 1 to 64 characters.");
    }
    input.finish()?;
    let text = text.unwrap_or_default();
    let (loaded, created) = store::send(
        &cx.db,
        chat_id,
        me.user.id,
        &text,
        client_id.as_deref(),
        &time::now_iso(),
    )
    .await?;
    let message = render_one(&loaded)?;
    if created {
        let seq = loaded.messages.first().map_or(0, |m| m.seq);
        realtime::publish(cx, chat_id, events::new_message(seq, message.clone()));
    }
    http::json(if created { 201 } else { 200 }, &message)
}

/// The caller and a message of a chat they belong to, in one round trip (404 otherwise).
pub async fn access(cx: &Cx, id: i64) -> ApiResult<(auth::Caller, MessageAccess)> {
    let (caller, m, _) = access_with(cx, id, vec![]).await?;
    Ok((caller, m))
}

/// `access`, with the handler's own reads in the same round trip (see `auth::authenticate_with`).
async fn access_with(
    cx: &Cx,
    id: i64,
    extra: Vec<D1PreparedStatement>,
) -> ApiResult<(auth::Caller, MessageAccess, Vec<D1Result>)> {
    auth::gated(cx, |s| {
        let mut sts = vec![store::access_by_session(&cx.db, id, s.token_hash, s.now)?];
        sts.extend(extra);
        Ok(sts)
    })
    .await
}

/// `GET /messages/api/messages/{id}/` — one message of a chat the caller belongs to, read with
/// its reactions and read pointers in the round trip that authenticates.
pub async fn detail(cx: &Cx, id: i64) -> ApiResult<Response> {
    let (_, m, res) = access_with(cx, id, store::extras_stmts(&cx.db, id)?).await?;
    http::ok(&render_one(&store::with_extras(m.message, &res)?)?)
}

/// `PUT/PATCH /messages/api/messages/{id}/` `{content}` — own, not deleted messages, when
/// `ALLOW_EDITING_OWN_MESSAGES`; sets `is_edited`; emits `message_updated`.
pub async fn update(cx: &Cx, id: i64) -> ApiResult<Response> {
    let (me, m) = access(cx, id).await?;
    if m.message.sender_id != Some(me.user.id) || !cx.settings.allow_editing_own_messages {
        return Err(ApiError::Forbidden);
    }
    let mut input = cx.json()?;
    let text = content(cx, &mut input);
    if m.message.is_deleted == 1 {
        input.error("content", "A deleted message cannot be edited.");
    }
    input.finish()?;
    let chat_id = m.message.chat_id;
    let changed = store::change(
        &cx.db,
        chat_id,
        id,
        Some(&text.unwrap_or_default()),
        &time::now_iso(),
    )
    .await?
    .ok_or_else(|| ApiError::field("content", "A deleted message cannot be edited."))?;
    let (changed, seq) = changed;
    let message = render_one(&changed)?;
    realtime::publish(cx, chat_id, events::message_updated(seq, message.clone()));
    http::ok(&message)
}

/// `DELETE /messages/api/messages/{id}/` — soft delete of the caller's own message when
/// `ALLOW_DELETING_OWN_MESSAGES`: content emptied, reactions dropped, the tombstone stays.
/// Deleting a deleted message is a no-op 204.
pub async fn destroy(cx: &Cx, id: i64) -> ApiResult<Response> {
    let (me, m) = access(cx, id).await?;
    if m.message.sender_id != Some(me.user.id) || !cx.settings.allow_deleting_own_messages {
        return Err(ApiError::Forbidden);
    }
    if m.message.is_deleted == 0 {
        let chat_id = m.message.chat_id;
        if let Some((_, seq)) = store::change(&cx.db, chat_id, id, None, &time::now_iso()).await? {
            realtime::publish(cx, chat_id, events::message_deleted(seq, id));
        }
    }
    http::no_content()
}
