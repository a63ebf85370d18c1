//! Reactions: toggling the caller's emoji on a message.

use worker::Response;

use crate::emoji;
use crate::error::{ApiError, ApiResult};
use crate::http::Cx;
use crate::messages::access_with;
use crate::realtime;
use crate::writes::Write;

/// `POST /messages/api/messages/{id}/reactions/` `{emoji}` — adds the caller's reaction, or
/// removes it when already there: `{action, emoji, message_id, reactions}`. Only real emoji;
/// not on deleted messages; at most 20 distinct emoji per message. Emits `reaction_updated`.
pub async fn toggle(cx: &Cx, id: i64) -> ApiResult<Response> {
    let (me, m, (), _) = access_with(cx, id, |_, _| Ok(())).await?;
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
    let write = Write::React {
        message_id: id,
        user_id: me.user.id,
        add: !mine.contains(&emoji),
        emoji,
    };
    realtime::write(cx, m.message.chat_id, write).await
}
