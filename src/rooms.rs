//! Public rooms (SPEC §10): chats anyone signed in may find, watch and join — one per page or
//! object of a site, found by its `key` (get-or-create, like Django Messaging's
//! `get_room_for_object`). Off with `ENABLE_CHAT_ROOMS=false` (403 on every route here).
//! Everything else (messages, reactions, receipts, typing, members, rename, delete) goes
//! through the chat routes, as in groups.

use worker::Response;

use crate::auth;
use crate::chats::{checked_title, numbered_page, page_number};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, Cx};
use crate::realtime;
use crate::storage::chats::page;
use crate::storage::rooms::{self, RoomRef};
use crate::time;
use crate::views::Room;
use crate::writes::Write;

/// Longest room key, in code points.
pub const MAX_KEY: usize = 200;

/// 403 unless rooms are enabled.
fn enabled(cx: &Cx) -> ApiResult<()> {
    if cx.settings.enable_chat_rooms {
        Ok(())
    } else {
        Err(ApiError::ForbiddenBecause(
            "Chat rooms are disabled on this server.",
        ))
    }
}

/// Why `key` is not a room key, if it is not one: 1 to `MAX_KEY` code points, no whitespace,
/// control characters or `/` (a key is one segment of `/rooms/by-key/{key}/`).
pub fn key_problem(key: &str) -> Option<String> {
    let n = key.chars().count();
    if n == 0 || n > MAX_KEY {
        return Some(format!("Must be 1 to {MAX_KEY} characters."));
    }
    if key
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        return Some("Must not contain spaces, control characters or \"/\".".into());
    }
    None
}

/// A percent-encoded path segment's text; `None` when it is not UTF-8 or badly encoded.
fn percent_decoded(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// One room as the caller sees it (or 404), read in the round trip that authenticates.
async fn read_one(cx: &Cx, room: &RoomRef<'_>) -> ApiResult<(i64, Room)> {
    let (me, reads, res) =
        auth::authenticate_with(cx, |b, s| page(b, &rooms::one(s.viewer(), room))).await?;
    let room = Room::first(&reads.read(&res)?, me.user.id).ok_or(ApiError::NotFound)?;
    Ok((me.user.id, room))
}

/// `GET /messages/api/rooms/?search=&page=` — every room, joined or not, newest activity
/// first, `CHATS_PER_PAGE` per page, each with `member_count` and `is_member`; `search`
/// matches the title or the key.
pub async fn list(cx: &Cx) -> ApiResult<Response> {
    enabled(cx)?;
    let page_no = page_number(cx);
    let per_page = cx.settings.chats_per_page as i64;
    let search = cx.query("search").map(|s| s.trim().to_string());
    let search = search.as_deref().filter(|s| !s.is_empty());
    let (me, reads, res) = auth::authenticate_with(cx, |b, s| match &page_no {
        Ok(n) => {
            let list = rooms::list(s.viewer(), search, per_page, (n - 1) * per_page);
            Ok(Some(page(b, &list)?))
        }
        Err(_) => Ok(None),
    })
    .await?;
    let page_no = page_no?;
    let data = reads.ok_or(ApiError::NotFound)?.read(&res)?;
    numbered_page(cx, page_no, per_page, &data, Room::page(&data, me.user.id))
}

/// `POST /messages/api/rooms/` `{key?, title}` — creates a room, its creator joining as
/// admin (201); with a `key` a room already has, returns that room instead (200): the same
/// key always gives the same room, also to concurrent creates.
pub async fn create(cx: &Cx) -> ApiResult<Response> {
    enabled(cx)?;
    let me = auth::authenticate(cx).await?;
    let mut input = cx.json()?;
    let title = input.string("title");
    let key = input.opt_string("key");
    let title = title.map(|t| checked_title(&mut input, &t));
    if title.as_deref() == Some("") {
        input.error("title", "This field may not be blank.");
    }
    if let Some(problem) = key.as_deref().and_then(key_problem) {
        input.error("key", problem);
    }
    input.finish()?;
    let title = title.unwrap_or_default();
    let now = time::now_iso();
    let created = rooms::create(&cx.db, me.user.id, key.as_deref(), &title, &now).await?;
    let room = Room::first(&created.page, me.user.id)
        .ok_or_else(|| ApiError::Internal("a created room was not read back".into()))?;
    if let Some(online) = &created.streams {
        // The creator's open user streams read their `chat_added` now.
        realtime::catch_up_streams(cx, online).await;
    }
    http::json(if created.created { 201 } else { 200 }, &room)
}

/// `GET /messages/api/rooms/{id}/` — the room, to any signed-in user.
pub async fn detail(cx: &Cx, room_id: i64) -> ApiResult<Response> {
    enabled(cx)?;
    http::ok(&read_one(cx, &RoomRef::Id(room_id)).await?.1)
}

/// `GET /messages/api/rooms/by-key/{key}/` — the room of a key (percent-encoded in the
/// path), to any signed-in user; 404 when no room has it.
pub async fn by_key(cx: &Cx) -> ApiResult<Response> {
    enabled(cx)?;
    let segment = cx.url.path().trim_end_matches('/').rsplit('/').next();
    let key = segment
        .and_then(percent_decoded)
        .filter(|k| key_problem(k).is_none());
    // An impossible key is a room that does not exist; authentication still comes first.
    let key = key.as_deref().unwrap_or("");
    http::ok(&read_one(cx, &RoomRef::Key(key)).await?.1)
}

/// `POST /messages/api/rooms/{id}/join/` — 200 with the room; joining twice changes
/// nothing. The joiner's open watcher sockets on the room become members' sockets.
pub async fn join(cx: &Cx, room_id: i64) -> ApiResult<Response> {
    enabled(cx)?;
    let (me, room) = read_one(cx, &RoomRef::Id(room_id)).await?;
    if room.is_member {
        return http::ok(&room);
    }
    let write = Write::Join {
        user_ids: vec![me],
        view_as: Some(me),
    };
    realtime::write(cx, room_id, write).await
}

/// `POST /messages/api/rooms/{id}/leave/` — 204, also when not a member. The last admin
/// leaving hands admin to the longest-standing member; an emptied room stays. The leaver's
/// sockets on the room go on as watchers: member counts, no more messages.
pub async fn leave(cx: &Cx, room_id: i64) -> ApiResult<Response> {
    enabled(cx)?;
    let (me, room) = read_one(cx, &RoomRef::Id(room_id)).await?;
    if !room.is_member {
        return http::no_content();
    }
    realtime::write(cx, room_id, Write::Leave { user_id: me }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_path_segment_of_printable_text() {
        assert_eq!(key_problem("video:42"), None);
        assert_eq!(key_problem("événement.7"), None);
        assert_eq!(key_problem(&"k".repeat(MAX_KEY)), None);
        for bad in ["", "a b", "a/b", "tab\t", "nl\n", "\u{7f}"] {
            assert!(key_problem(bad).is_some(), "{bad:?} is refused");
        }
        assert!(key_problem(&"k".repeat(MAX_KEY + 1)).is_some());
    }

    #[test]
    fn path_segments_are_percent_decoded() {
        assert_eq!(percent_decoded("video%3A42").as_deref(), Some("video:42"));
        assert_eq!(percent_decoded("%C3%A9t%C3%A9").as_deref(), Some("été"));
        assert_eq!(percent_decoded("plain").as_deref(), Some("plain"));
        assert_eq!(percent_decoded("bad%4"), None);
        assert_eq!(percent_decoded("bad%zz"), None);
        assert_eq!(percent_decoded("%FF"), None, "not UTF-8");
    }
}
