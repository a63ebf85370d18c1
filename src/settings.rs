//! Settings: wrangler `[vars]` with the names and defaults the README lists, read in this one place.

use worker::Env;

#[derive(Debug, Clone)]
pub struct Settings {
    pub messages_per_page: u32,
    pub chats_per_page: u32,
    pub max_message_length: usize,
    pub allow_editing_own_messages: bool,
    pub allow_deleting_own_messages: bool,
    pub allow_adding_reactions: bool,
    pub allow_renaming_dms: bool,
    pub enable_dms: bool,
    pub allow_signup: bool,
    /// Extra origins (besides the worker's own) trusted for cookie-authenticated writes and
    /// WebSocket upgrades, e.g. `https://app.example.com`. Comma separated.
    pub allowed_origins: Vec<String>,
    pub typing_timeout_seconds: u32,
    /// Lifetime of a login session (token and cookie). Default two weeks, as Django's.
    pub session_ttl_seconds: u64,
    pub login_failure_window_seconds: u64,
    pub login_max_failures_per_username: u32,
    pub login_max_failures_per_address: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            messages_per_page: 50,
            chats_per_page: 10,
            max_message_length: 10_000,
            allow_editing_own_messages: true,
            allow_deleting_own_messages: true,
            allow_adding_reactions: true,
            allow_renaming_dms: false,
            enable_dms: true,
            allow_signup: true,
            allowed_origins: Vec::new(),
            typing_timeout_seconds: 6,
            session_ttl_seconds: 14 * 24 * 3600,
            login_failure_window_seconds: 900,
            login_max_failures_per_username: 5,
            login_max_failures_per_address: 50,
        }
    }
}

impl Settings {
    pub fn from_env(env: &Env) -> Self {
        Self::from_lookup(|name| env.var(name).ok().map(|v| v.to_string()))
    }

    /// Builds settings from any name → value lookup; missing or unparsable values keep the
    /// default (a typo in wrangler.toml must not take the API down).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let d = Settings::default();
        let num = |name: &str, default: u64, min: u64, max: u64| -> u64 {
            get(name)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|v| v.clamp(min, max))
                .unwrap_or(default)
        };
        let flag = |name: &str, default: bool| -> bool {
            match get(name).map(|v| v.trim().to_ascii_lowercase()) {
                Some(v) if ["true", "1", "yes", "on"].contains(&v.as_str()) => true,
                Some(v) if ["false", "0", "no", "off"].contains(&v.as_str()) => false,
                _ => default,
            }
        };
        Settings {
            messages_per_page: num("MESSAGES_PER_PAGE", d.messages_per_page.into(), 1, 500) as u32,
            chats_per_page: num("CHATS_PER_PAGE", d.chats_per_page.into(), 1, 500) as u32,
            max_message_length: num("MAX_MESSAGE_LENGTH", d.max_message_length as u64, 1, 60_000)
                as usize,
            allow_editing_own_messages: flag(
                "ALLOW_EDITING_OWN_MESSAGES",
                d.allow_editing_own_messages,
            ),
            allow_deleting_own_messages: flag(
                "ALLOW_DELETING_OWN_MESSAGES",
                d.allow_deleting_own_messages,
            ),
            allow_adding_reactions: flag("ALLOW_ADDING_REACTIONS", d.allow_adding_reactions),
            allow_renaming_dms: flag("ALLOW_RENAMING_DMS", d.allow_renaming_dms),
            enable_dms: flag("ENABLE_DMS", d.enable_dms),
            allow_signup: flag("ALLOW_SIGNUP", d.allow_signup),
            allowed_origins: get("ALLOWED_ORIGINS")
                .unwrap_or_default()
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty())
                .collect(),
            typing_timeout_seconds: num(
                "TYPING_TIMEOUT_SECONDS",
                d.typing_timeout_seconds.into(),
                1,
                3600,
            ) as u32,
            session_ttl_seconds: num(
                "SESSION_TTL_SECONDS",
                d.session_ttl_seconds,
                60,
                10 * 365 * 86400,
            ),
            login_failure_window_seconds: num(
                "LOGIN_FAILURE_WINDOW_SECONDS",
                d.login_failure_window_seconds,
                1,
                86400,
            ),
            login_max_failures_per_username: num(
                "LOGIN_MAX_FAILURES_PER_USERNAME",
                d.login_max_failures_per_username.into(),
                1,
                1_000_000,
            ) as u32,
            login_max_failures_per_address: num(
                "LOGIN_MAX_FAILURES_PER_ADDRESS",
                d.login_max_failures_per_address.into(),
                1,
                1_000_000,
            ) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Settings {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn missing_values_take_the_spec_defaults() {
        let s = from(&[]);
        assert_eq!(s.messages_per_page, 50, "MESSAGES_PER_PAGE default");
        assert_eq!(s.chats_per_page, 10, "CHATS_PER_PAGE default");
        assert_eq!(s.max_message_length, 10_000, "MAX_MESSAGE_LENGTH default");
        assert_eq!(
            s.typing_timeout_seconds, 6,
            "TYPING_TIMEOUT_SECONDS default"
        );
        assert!(s.enable_dms && s.allow_signup && !s.allow_renaming_dms);
    }

    #[test]
    fn values_are_parsed_and_bad_ones_ignored() {
        let s = from(&[
            ("CHATS_PER_PAGE", "3"),
            ("ALLOW_SIGNUP", "False"),
            ("MESSAGES_PER_PAGE", "lots"),
            (
                "ALLOWED_ORIGINS",
                " https://a.example/ , https://b.example ",
            ),
        ]);
        assert_eq!(s.chats_per_page, 3);
        assert!(!s.allow_signup, "booleans are case-insensitive");
        assert_eq!(s.messages_per_page, 50, "unparsable keeps the default");
        assert_eq!(
            s.allowed_origins,
            vec!["https://a.example", "https://b.example"],
            "origins trimmed, trailing slash dropped"
        );
    }
}
