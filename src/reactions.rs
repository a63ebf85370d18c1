//! Reactions (SPEC §5): toggling the caller's emoji on a message.

use serde_json::json;
use worker::Response;

use crate::emoji;
use crate::error::{ApiError, ApiResult};
use crate::events;
use crate::http::{self, Cx};
use crate::messages::{access, render};
use crate::realtime;
use crate::storage::messages as store;
use crate::time;

/// At most this many distinct emoji per message.
pub const MAX_DISTINCT: i64 = 20;

/// `POST /messages/api/messages/{id}/reactions/` `{emoji}` — adds the caller's reaction, or
/// removes it when already there: `{action, emoji, message_id, reactions}`. Only real emoji;
/// not on deleted messages; at most 20 distinct emoji per message. Emits `reaction_updated`.
pub async fn toggle(cx: &Cx, id: i64) -> ApiResult<Response> {
    let (me, m) = access(cx, id).await?;
    if !cx.settings.allow_adding_reactions {
        return Err(ApiError::ForbiddenBecause(
            "Reactions are disabled on this server.",
        ));
    }
    let mut input = cx.json()?;
    let e = input.string("emoji").unwrap_or_default();
    if input.has("emoji") && !emoji::is_emoji(&e) {
        input.error("emoji", "Must be a single emoji.");
    }
    if m.message.is_deleted == 1 {
        input.error("emoji", "A deleted message cannot be reacted to.");
    }
    input.finish()?;
    let mine: Vec<String> = serde_json::from_str(&m.my_emoji).unwrap_or_default();
    let add = !mine.contains(&e);
    let chat_id = m.message.chat_id;
    let Some((loaded, seq)) = store::react(
        &cx.db,
        chat_id,
        id,
        me.user.id,
        &e,
        add,
        MAX_DISTINCT,
        &time::now_iso(),
    )
    .await?
    else {
        return Err(ApiError::field(
            "emoji",
            format!("A message can have at most {MAX_DISTINCT} different reactions."),
        ));
    };
    let reactions = render(&loaded)
        .into_iter()
        .next()
        .map(|m| m["reactions"].clone())
        .unwrap_or_default();
    realtime::publish(
        cx,
        chat_id,
        events::reaction_updated(seq, id, reactions.clone()),
    );
    http::ok(&json!({
        "action": if add { "added" } else { "removed" },
        "emoji": e,
        "message_id": id,
        "reactions": reactions,
    }))
}
