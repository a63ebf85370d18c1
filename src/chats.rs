//! Chats (SPEC §4): list, create (DM get-or-create, groups), detail, rename, delete, and the
//! chat JSON every endpoint and event shares.

use std::collections::HashMap;

use serde_json::{json, Value};
use worker::Response;

use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::events;
use crate::http::{self, Cx, Input};
use crate::members;
use crate::messages;
use crate::realtime;
use crate::storage::chats::{self, MemberRow, Page, PageData};
use crate::time;
use crate::users::{display_name, summary};

pub const MAX_TITLE: usize = 255;

/// A title trimmed, with a 400 on `title` recorded when it is over `MAX_TITLE` code points.
fn checked_title(input: &mut Input, title: &str) -> String {
    let title = title.trim().to_string();
    if title.chars().count() > MAX_TITLE {
        input.error(
            "title",
            "Ensure this field has no more than 255 characters.",
        );
    }
    title
}

/// Renders the chats of a page as the caller (`me`) sees them: `{id, title, chat_type,
/// created_at, updated_at, last_message, unread_count, members, admins}`.
pub fn render_page(data: &PageData, me: i64) -> Vec<Value> {
    let mut members: HashMap<i64, Vec<&MemberRow>> = HashMap::new();
    for m in &data.members {
        members.entry(m.chat_id).or_default().push(m);
    }
    let last: HashMap<i64, Value> = data
        .last_messages
        .iter()
        .map(|m| (m.chat_id, messages::render_basic(m)))
        .collect();
    data.chats
        .iter()
        .map(|pc| {
            let c = &pc.chat;
            let ms = members.remove(&c.id).unwrap_or_default();
            let title = if c.chat_type == "dm" && c.title.is_empty() {
                // A DM is named after the other person, as the caller sees it.
                ms.iter()
                    .find(|m| m.user.id != me)
                    .map(|m| display_name(&m.user))
                    .unwrap_or_default()
            } else {
                c.title.clone()
            };
            json!({
                "id": c.id,
                "title": title,
                "chat_type": c.chat_type,
                "created_at": c.created_at,
                "updated_at": c.updated_at,
                "last_message": last.get(&c.id).cloned().unwrap_or(Value::Null),
                "unread_count": pc.unread_count,
                "members": ms.iter().map(|m| summary(&m.user)).collect::<Vec<_>>(),
                "admins": ms.iter().filter(|m| m.is_admin == 1).map(|m| m.user.id).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// The first chat of a page as `me` sees it, or 404.
pub fn first(data: &PageData, me: i64) -> ApiResult<Value> {
    render_page(data, me)
        .into_iter()
        .next()
        .ok_or(ApiError::NotFound)
}

/// `page=N` (1-based); anything else is 404 like DRF's "Invalid page".
pub fn page_number(cx: &Cx) -> ApiResult<i64> {
    match cx.query("page") {
        None => Ok(1),
        Some(p) => p
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1_000_000).contains(n))
            .ok_or(ApiError::NotFound),
    }
}

/// This request's URL with `page` set to `n`.
pub fn page_link(cx: &Cx, n: i64) -> String {
    let mut url = cx.url.clone();
    let pairs: Vec<(String, String)> = cx
        .url
        .query_pairs()
        .filter(|(k, _)| k != "page")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut q = url.query_pairs_mut();
        q.clear();
        for (k, v) in &pairs {
            q.append_pair(k, v);
        }
        q.append_pair("page", &n.to_string());
    }
    url.to_string()
}

/// `GET /messages/api/chats/` — the caller's chats, most recent activity first,
/// `CHATS_PER_PAGE` per page; `search` matches the title or other members' names.
pub async fn list(cx: &Cx) -> ApiResult<Response> {
    // The page is read, as the session's holder, in the round trip that authenticates.
    let page_no = page_number(cx);
    let per_page = cx.settings.chats_per_page as i64;
    let search = cx.query("search").map(|s| s.trim().to_string());
    let search = search.as_deref().filter(|s| !s.is_empty());
    let (me, res) = auth::authenticate_with(cx, |s| match &page_no {
        Ok(n) => {
            let page = Page::list(s.viewer(), search, per_page, (n - 1) * per_page);
            Ok(chats::page_stmts(&cx.db, &page)?.to_vec())
        }
        Err(_) => Ok(vec![]),
    })
    .await?;
    let page_no = page_no?;
    let data = chats::page_data(&res)?;
    if page_no > 1 && data.chats.is_empty() {
        return Err(ApiError::NotFound);
    }
    let results = render_page(&data, me.user.id);
    let has_next = page_no * per_page < data.count;
    http::ok(&json!({
        "count": data.count,
        "next": if has_next { Some(page_link(cx, page_no + 1)) } else { None },
        "previous": if page_no > 1 { Some(page_link(cx, page_no - 1)) } else { None },
        "results": results,
    }))
}

/// `POST /messages/api/chats/` `{chat_type, title?, member_ids}` — creates a group (the creator
/// is its admin) or returns the existing DM between the two people (200) instead of a second.
pub async fn create(cx: &Cx) -> ApiResult<Response> {
    let me = auth::authenticate(cx).await?;
    let mut input = cx.json()?;
    let chat_type = input.string("chat_type");
    let title = input.opt_string("title").unwrap_or_default();
    let member_ids = input.id_list("member_ids");
    let title = checked_title(&mut input, &title);
    match chat_type.as_deref() {
        Some("dm") | Some("group") | None => {}
        Some(_) => input.error("chat_type", "Must be \"dm\" or \"group\"."),
    }
    let mut others: Vec<i64> = member_ids.clone().unwrap_or_default();
    others.retain(|id| *id != me.user.id);
    others.sort_unstable();
    others.dedup();
    if chat_type.as_deref() == Some("dm") && member_ids.is_some() && others.len() != 1 {
        input.error(
            "member_ids",
            "A direct message has exactly one other member.",
        );
    }
    if others.len() > members::MAX_ADD {
        input.error("member_ids", members::TOO_MANY);
    }
    input.finish()?;
    let chat_type = chat_type.expect("validated");
    if chat_type == "dm" && !cx.settings.enable_dms {
        return Err(ApiError::ForbiddenBecause(
            "Direct messages are disabled on this server.",
        ));
    }
    // A DM's name is the other person's; a stored title would override it for both.
    let title = if chat_type == "dm" {
        String::new()
    } else {
        title
    };
    let created = chats::create(
        &cx.db,
        me.user.id,
        &chat_type,
        &title,
        &others,
        &time::now_iso(),
    )
    .await?;
    if created.chat_id.is_none() {
        let unknown: Vec<String> = others
            .iter()
            .filter(|id| !created.found_ids.contains(id))
            .map(|id| id.to_string())
            .collect();
        return Err(ApiError::field(
            "member_ids",
            format!("Unknown user id(s): {}.", unknown.join(", ")),
        ));
    }
    let chat = first(&created.page, me.user.id)?;
    http::json(if created.created { 201 } else { 200 }, &chat)
}

/// `GET /messages/api/chats/{id}/` — the chat with `members` and `admins`; 404 for non-members.
pub async fn detail(cx: &Cx, chat_id: i64) -> ApiResult<Response> {
    let (me, _, res) = auth::member_with(cx, chat_id, |s| {
        Ok(chats::page_stmts(&cx.db, &Page::one(s.viewer(), chat_id))?.to_vec())
    })
    .await?;
    http::ok(&first(&chats::page_data(&res)?, me.user.id)?)
}

/// `PUT/PATCH /messages/api/chats/{id}/` `{title}` — group admins; DM members only when
/// `ALLOW_RENAMING_DMS`. Emits `chat_updated`.
pub async fn update(cx: &Cx, chat_id: i64) -> ApiResult<Response> {
    let (me, chat) = auth::member(cx, chat_id).await?;
    let allowed = if chat.chat_type == "dm" {
        cx.settings.allow_renaming_dms
    } else {
        chat.is_admin == 1
    };
    if !allowed {
        return Err(ApiError::Forbidden);
    }
    let mut input = cx.json()?;
    let title = input.string("title").map(|t| checked_title(&mut input, &t));
    input.finish()?;
    let (seq, data) = chats::rename(
        &cx.db,
        chat_id,
        me.user.id,
        &title.unwrap_or_default(),
        &time::now_iso(),
    )
    .await?;
    let view = first(&data, me.user.id)?;
    realtime::publish(cx, chat_id, events::chat_updated(seq, view.clone()));
    http::ok(&view)
}

/// `DELETE /messages/api/chats/{id}/` — group admins, or either member of a DM. Emits
/// `chat_deleted` and closes the chat's sockets.
pub async fn destroy(cx: &Cx, chat_id: i64) -> ApiResult<Response> {
    let (_, chat) = auth::member(cx, chat_id).await?;
    if chat.chat_type == "group" && chat.is_admin != 1 {
        return Err(ApiError::Forbidden);
    }
    let seq = chats::delete(&cx.db, chat_id).await?;
    realtime::publish(cx, chat_id, events::chat_deleted(seq, chat_id));
    realtime::disconnect(cx, chat_id, None).await;
    http::no_content()
}
