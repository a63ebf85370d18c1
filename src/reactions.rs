//! Reactions: toggling the caller's emoji on a message.

use serde_json::json;
use worker::Response;

use crate::emoji;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, Cx};
use crate::messages::access_with;
use crate::realtime;
use crate::storage::reactions::{self as store, Reacting};
use crate::time;
use crate::views::{Event, Message};

/// At most this many distinct emoji per message.
pub const MAX_DISTINCT: i64 = 20;

/// `POST /messages/api/messages/{id}/reactions/` `{emoji}` — adds the caller's reaction, or
/// removes it when already there: `{action, emoji, message_id, reactions}`. Only real emoji;
/// not on deleted messages; at most 20 distinct emoji per message. Emits `reaction_updated`.
pub async fn toggle(cx: &Cx, id: i64) -> ApiResult<Response> {
    let (me, m, (), _) = access_with(cx, id, |_| Ok(())).await?;
    if !cx.settings.allow_adding_reactions {
        return Err(ApiError::ForbiddenBecause(
            "Reactions are disabled on this server.",
        ));
    }
    let mut input = cx.json()?;
    let given = input.string("emoji").unwrap_or_default();
    let emoji = emoji::normalize(&given);
    if input.has("emoji") && emoji.is_none() {
        input.error("emoji", "Must be a single emoji.");
    }
    if m.message.is_deleted {
        input.error("emoji", "A deleted message cannot be reacted to.");
    }
    input.finish()?;
    let emoji = emoji.expect("validated");
    let mine: Vec<String> = serde_json::from_str(&m.my_emoji).unwrap_or_default();
    let add = !mine.contains(&emoji);
    let chat_id = m.message.chat_id;
    let reacting = Reacting {
        chat_id,
        message_id: id,
        user_id: me.user.id,
        emoji: &emoji,
        add,
        max_distinct: MAX_DISTINCT,
    };
    let Some((loaded, seq)) = store::react(&cx.db, &reacting, &time::now_iso()).await? else {
        return Err(ApiError::field(
            "emoji",
            format!("A message can have at most {MAX_DISTINCT} different reactions."),
        ));
    };
    let reactions = Message::first(&loaded)
        .and_then(|m| m.reactions)
        .unwrap_or_default();
    realtime::publish(
        cx,
        chat_id,
        Event::reaction_updated(seq, id, reactions.clone()),
    );
    http::ok(&json!({
        "action": if add { "added" } else { "removed" },
        "emoji": emoji,
        "message_id": id,
        "reactions": reactions,
    }))
}
