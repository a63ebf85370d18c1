//! Chats: list, create (DM get-or-create, groups), detail, rename, delete.

use serde_json::json;
use worker::Response;

use crate::auth;
use crate::domain::ChatKind;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, Cx, Input};
use crate::members;
use crate::realtime;
use crate::storage::chats::{self, Page, PageData};
use crate::time;
use crate::views::Chat;
use crate::writes::Write;

/// Longest chat title, in code points.
pub const MAX_TITLE: usize = 255;

/// A title trimmed, with a 400 on `title` recorded when it is over `MAX_TITLE` code points.
pub fn checked_title(input: &mut Input, title: &str) -> String {
    let title = title.trim().to_string();
    if title.chars().count() > MAX_TITLE {
        input.error(
            "title",
            format!("Ensure this field has no more than {MAX_TITLE} characters."),
        );
    }
    title
}

/// The first chat of a page as `me` sees it, or 404.
fn first(data: &PageData, me: i64) -> ApiResult<Chat> {
    Chat::first(data, me).ok_or(ApiError::NotFound)
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

/// The answer to a chat list's page `page_no` (DRF's envelope: `count`, `next`, `previous`,
/// `results`); a page past the end, other than the first, is 404 like DRF's "Invalid page".
pub fn numbered_page(
    cx: &Cx,
    page_no: i64,
    per_page: i64,
    data: &PageData,
    results: impl serde::Serialize,
) -> ApiResult<Response> {
    if page_no > 1 && data.chats.is_empty() {
        return Err(ApiError::NotFound);
    }
    let has_next = page_no * per_page < data.count;
    let link = |n: i64| cx.url_with(&["page"], "page", n);
    http::ok(&json!({
        "count": data.count,
        "next": has_next.then(|| link(page_no + 1)),
        "previous": (page_no > 1).then(|| link(page_no - 1)),
        "results": results,
    }))
}

/// `GET /messages/api/chats/` — the caller's chats, most recent activity first,
/// `CHATS_PER_PAGE` per page; `search` matches the title or other members' names. Joined
/// rooms are listed unless `SHOW_CHAT_ROOMS_IN_MESSAGES` is off, DMs unless
/// `SHOW_DMS_IN_MESSAGES` is.
pub async fn list(cx: &Cx) -> ApiResult<Response> {
    // The page is read, as the session's holder, in the round trip that authenticates.
    let page_no = page_number(cx);
    let per_page = cx.settings.chats_per_page as i64;
    let search = cx.query("search").map(|s| s.trim().to_string());
    let search = search.as_deref().filter(|s| !s.is_empty());
    let hidden: Vec<ChatKind> = [
        (ChatKind::Room, cx.settings.show_chat_rooms_in_messages),
        (ChatKind::Dm, cx.settings.show_dms_in_messages),
    ]
    .into_iter()
    .filter_map(|(kind, shown)| (!shown).then_some(kind))
    .collect();
    let (me, reads, res) = auth::authenticate_with(cx, |b, s| match &page_no {
        Ok(n) => {
            let page = Page::list(s.viewer(), search, per_page, (n - 1) * per_page).hiding(&hidden);
            Ok(Some(chats::page(b, &page)?))
        }
        Err(_) => Ok(None),
    })
    .await?;
    let page_no = page_no?;
    let data = reads.ok_or(ApiError::NotFound)?.read(&res)?;
    numbered_page(cx, page_no, per_page, &data, Chat::page(&data, me.user.id))
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
    // Rooms have their own route (`POST /rooms/`): public, get-or-create by key.
    let kind = chat_type
        .as_deref()
        .map(|t| ChatKind::parse(t).filter(|k| *k != ChatKind::Room));
    if kind == Some(None) {
        input.error("chat_type", "Must be \"dm\" or \"group\".");
    }
    let mut others: Vec<i64> = member_ids.clone().unwrap_or_default();
    others.retain(|id| *id != me.user.id);
    others.sort_unstable();
    others.dedup();
    if kind == Some(Some(ChatKind::Dm)) && member_ids.is_some() && others.len() != 1 {
        input.error(
            "member_ids",
            "A direct message has exactly one other member.",
        );
    }
    if others.len() > members::MAX_ADD {
        input.error("member_ids", members::too_many());
    }
    input.finish()?;
    let kind = kind.flatten().expect("validated");
    if kind == ChatKind::Dm && !cx.settings.enable_dms {
        return Err(ApiError::ForbiddenBecause(
            "Direct messages are disabled on this server.",
        ));
    }
    // A DM's name is the other person's; a stored title would override it for both.
    let title = if kind == ChatKind::Dm { "" } else { &title };
    let created = chats::create(&cx.db, me.user.id, kind, title, &others, &time::now_iso()).await?;
    if created.chat_id.is_none() {
        return Err(members::unknown_ids(
            "member_ids",
            &others,
            &created.found_ids,
        ));
    }
    let chat = first(&created.page, me.user.id)?;
    if let Some(online) = &created.streams {
        // Members with a user stream open read their `chat_added` now.
        realtime::catch_up_streams(cx, online).await;
    }
    http::json(if created.created { 201 } else { 200 }, &chat)
}

/// `GET /messages/api/chats/{id}/` — the chat with `members` and `admins`; 404 for non-members.
pub async fn detail(cx: &Cx, chat_id: i64) -> ApiResult<Response> {
    let (me, _, reads, res) = auth::member_with(cx, chat_id, |b, s| {
        chats::page(b, &Page::one(s.viewer(), chat_id))
    })
    .await?;
    http::ok(&first(&reads.read(&res)?, me.user.id)?)
}

/// `PUT/PATCH /messages/api/chats/{id}/` `{title}` — group admins; room admins when
/// `ALLOW_RENAMING_CHAT_ROOMS`; DM members only when `ALLOW_RENAMING_DMS`. Emits
/// `chat_updated`.
pub async fn update(cx: &Cx, chat_id: i64) -> ApiResult<Response> {
    let (me, chat) = auth::member(cx, chat_id).await?;
    let allowed = match chat.chat_type {
        ChatKind::Dm => cx.settings.allow_renaming_dms,
        ChatKind::Group => chat.is_admin,
        ChatKind::Room => chat.is_admin && cx.settings.allow_renaming_chat_rooms,
    };
    if !allowed {
        return Err(ApiError::Forbidden);
    }
    let mut input = cx.json()?;
    let title = input.string("title").map(|t| checked_title(&mut input, &t));
    input.finish()?;
    let write = Write::Rename {
        user_id: me.user.id,
        title: title.unwrap_or_default(),
    };
    realtime::write(cx, chat_id, write).await
}

/// `DELETE /messages/api/chats/{id}/` — group and room admins, or either member of a DM.
/// Emits `chat_deleted` and closes the chat's sockets (a room's watchers' too).
pub async fn destroy(cx: &Cx, chat_id: i64) -> ApiResult<Response> {
    let (_, chat) = auth::member(cx, chat_id).await?;
    if chat.chat_type != ChatKind::Dm && !chat.is_admin {
        return Err(ApiError::Forbidden);
    }
    realtime::write(cx, chat_id, Write::DeleteChat).await
}
