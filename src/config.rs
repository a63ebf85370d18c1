//! `GET /messages/api/config/`: the settings a browser needs to draw the UI (which transport,
//! which controls to show). Public and static per deployment: no session, no D1.

use serde::Serialize;
use worker::Response;

use crate::error::ApiResult;
use crate::http::{self, Cx};
use crate::settings::Settings;

/// The UI's view of the settings (`client/src/types.ts` `UiConfig`).
#[derive(Serialize)]
pub struct UiConfig {
    transport: &'static str,
    poll_interval_ms: u32,
    enable_dms: bool,
    enable_chat_rooms: bool,
    allow_signup: bool,
    allow_editing_own_messages: bool,
    allow_deleting_own_messages: bool,
    allow_adding_reactions: bool,
    allow_renaming_dms: bool,
    allow_renaming_chat_rooms: bool,
    show_deleted_message_indicators: bool,
    show_chat_rooms_in_messages: bool,
    show_dms_in_messages: bool,
    max_message_length: usize,
    messages_per_page: u32,
    chats_per_page: u32,
    typing_timeout_seconds: u32,
}

impl From<&Settings> for UiConfig {
    fn from(s: &Settings) -> Self {
        UiConfig {
            transport: s.transport.as_str(),
            poll_interval_ms: s.poll_interval_ms,
            enable_dms: s.enable_dms,
            enable_chat_rooms: s.enable_chat_rooms,
            allow_signup: s.allow_signup,
            allow_editing_own_messages: s.allow_editing_own_messages,
            allow_deleting_own_messages: s.allow_deleting_own_messages,
            allow_adding_reactions: s.allow_adding_reactions,
            allow_renaming_dms: s.allow_renaming_dms,
            allow_renaming_chat_rooms: s.allow_renaming_chat_rooms,
            show_deleted_message_indicators: s.show_deleted_message_indicators,
            show_chat_rooms_in_messages: s.show_chat_rooms_in_messages,
            show_dms_in_messages: s.show_dms_in_messages,
            max_message_length: s.max_message_length,
            messages_per_page: s.messages_per_page,
            chats_per_page: s.chats_per_page,
            typing_timeout_seconds: s.typing_timeout_seconds,
        }
    }
}

/// `GET /messages/api/config/`.
pub async fn get(cx: &Cx) -> ApiResult<Response> {
    http::ok(&UiConfig::from(&cx.settings))
}
