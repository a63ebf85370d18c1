//! Settings: wrangler `[vars]` (or `--var`), read in this one place. Each is one line of the
//! table below: its name, default and bounds. A missing or unparsable value keeps the default
//! (a typo in wrangler.toml must not take the API down); numbers are clamped to their bounds.
//!
//! Settings marked `[secret]` hold key material (host-site sign-in, SPEC §3). They are set with
//! `wrangler secret put` in production and `.dev.vars` or `--var` locally, and are never listed
//! in wrangler.toml `[vars]`: a committed value would be a leaked key, and Cloudflare refuses a
//! secret whose name a `[vars]` entry already binds. Their values are `Secret`s, which never
//! print.

use worker::Env;

/// How a setting's text becomes its value.
trait Parse: Sized {
    fn parse(text: &str, bounds: &Bounds) -> Option<Self>;
}

/// Inclusive bounds of a number.
pub struct Bounds(pub u64, pub u64);

macro_rules! num {
    ($($t:ty),*) => {$(
        impl Parse for $t {
            fn parse(text: &str, b: &Bounds) -> Option<Self> {
                let v = text.trim().parse::<u64>().ok()?.clamp(b.0, b.1);
                <$t>::try_from(v).ok()
            }
        }
    )*};
}
num!(u32, u64, usize);

impl Parse for bool {
    fn parse(text: &str, _: &Bounds) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" => Some(false),
            _ => None,
        }
    }
}

/// The web UI's live transport (`TRANSPORT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    WebSocket,
    Polling,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket",
            Transport::Polling => "polling",
        }
    }
}

impl Parse for Transport {
    fn parse(text: &str, _: &Bounds) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "websocket" => Some(Transport::WebSocket),
            "polling" => Some(Transport::Polling),
            _ => None,
        }
    }
}

/// Key material from a secret setting: its text, trimmed (a newline pasted into `wrangler secret
/// put` must not change the key). Empty when unset. `Debug` never shows it, so settings can be
/// logged.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: &str) -> Secret {
        Secret(text.trim().to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_set(&self) -> bool {
        !self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.is_set() {
            true => f.write_str("Secret(<redacted>)"),
            false => f.write_str("Secret(<unset>)"),
        }
    }
}

impl Parse for Secret {
    fn parse(text: &str, _: &Bounds) -> Option<Self> {
        Some(Secret::new(text))
    }
}

/// A plain word (`SSO_AUDIENCE`): trimmed; empty keeps the default.
impl Parse for String {
    fn parse(text: &str, _: &Bounds) -> Option<Self> {
        Some(text.trim().to_string()).filter(|t| !t.is_empty())
    }
}

/// A comma-separated list of origins (`ALLOWED_ORIGINS`), trimmed, without trailing slashes.
impl Parse for Vec<String> {
    fn parse(text: &str, _: &Bounds) -> Option<Self> {
        Some(
            text.split(',')
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty())
                .collect(),
        )
    }
}

macro_rules! settings {
    ($($(#[doc = $doc:literal])* $field:ident: $t:ty = $name:literal $([$kind:ident])?, $default:expr $(, $lo:literal..=$hi:literal)?;)+) => {
        #[derive(Debug, Clone)]
        pub struct Settings {
            $($(#[doc = $doc])* pub $field: $t,)+
        }

        impl Default for Settings {
            fn default() -> Self {
                Settings { $($field: $default,)+ }
            }
        }

        impl Settings {
            /// Builds settings from any name → value lookup.
            pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
                let d = Settings::default();
                Settings {$(
                    $field: get($name)
                        .and_then(|v| <$t as Parse>::parse(&v, &settings!(@bounds $($lo, $hi)?)))
                        .unwrap_or(d.$field),
                )+}
            }

            /// Every setting's name, in the table's order.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// The names of the `[secret]` settings.
            pub const SECRETS: &'static [&'static str] = &[$($(settings!(@$kind $name),)?)+];
        }
    };
    (@secret $name:literal) => { $name };
    (@bounds $lo:literal, $hi:literal) => { Bounds($lo, $hi) };
    (@bounds) => { Bounds(0, u64::MAX) };
}

settings! {
    /// Message list page size.
    messages_per_page: u32 = "MESSAGES_PER_PAGE", 50, 1..=500;
    /// Chat list page size.
    chats_per_page: u32 = "CHATS_PER_PAGE", 10, 1..=500;
    /// Longest message, in code points after trimming.
    max_message_length: usize = "MAX_MESSAGE_LENGTH", 10_000, 1..=60_000;
    allow_editing_own_messages: bool = "ALLOW_EDITING_OWN_MESSAGES", true;
    allow_deleting_own_messages: bool = "ALLOW_DELETING_OWN_MESSAGES", true;
    allow_adding_reactions: bool = "ALLOW_ADDING_REACTIONS", true;
    /// DM members may set a title.
    allow_renaming_dms: bool = "ALLOW_RENAMING_DMS", false;
    enable_dms: bool = "ENABLE_DMS", true;
    allow_signup: bool = "ALLOW_SIGNUP", true;
    /// Extra origins (besides the worker's own) trusted for cookie-authenticated writes and
    /// WebSocket upgrades, e.g. `https://app.example.com`. Comma separated.
    allowed_origins: Vec<String> = "ALLOWED_ORIGINS", Vec::new();
    typing_timeout_seconds: u32 = "TYPING_TIMEOUT_SECONDS", 6, 1..=3600;
    /// Lifetime of a login session (token and cookie). Default two weeks, as Django's.
    session_ttl_seconds: u64 = "SESSION_TTL_SECONDS", 14 * 24 * 3600, 5..=315_360_000;
    /// The window failed logins are counted in.
    login_failure_window_seconds: u64 = "LOGIN_FAILURE_WINDOW_SECONDS", 900, 1..=86_400;
    /// Failed logins per username from one client address (IPv6: one /64) per window.
    login_max_failures_per_username: u32 = "LOGIN_MAX_FAILURES_PER_USERNAME", 5, 1..=1_000_000;
    /// Failed logins per username from all addresses together per window: stops distributed
    /// guessing, high enough that one attacker cannot lock the account.
    login_max_failures_per_account: u32 = "LOGIN_MAX_FAILURES_PER_ACCOUNT", 100, 1..=1_000_000;
    /// Failed logins from one client address (all usernames) per window.
    login_max_failures_per_address: u32 = "LOGIN_MAX_FAILURES_PER_ADDRESS", 50, 1..=1_000_000;
    /// Registrations from one client address per `REGISTRATION_WINDOW_SECONDS`.
    registrations_per_address: u32 = "REGISTRATIONS_PER_ADDRESS", 600, 1..=1_000_000;
    registration_window_seconds: u64 = "REGISTRATION_WINDOW_SECONDS", 60, 1..=86_400;
    /// Open sockets one user may hold on one chat.
    max_sockets_per_user: u32 = "MAX_SOCKETS_PER_USER", 10, 1..=1_000;
    /// `Server-Timing` on every answer, refusals included (off: authenticated answers only).
    server_timing_always: bool = "SERVER_TIMING_ALWAYS", false;
    /// Durable Objects that hold the user streams' sockets, users spread over them by id: a
    /// chat's event reaches its online members in at most this many calls.
    stream_hubs: u32 = "STREAM_HUBS", 16, 1..=4096;
    /// What the web UI and widgets use for live updates: `websocket` or `polling` (SPEC §9).
    transport: Transport = "TRANSPORT", Transport::WebSocket;
    /// How often a polling client asks `GET /events/`, in milliseconds.
    poll_interval_ms: u32 = "POLL_INTERVAL_MS", 3000, 500..=60_000;
    /// Deleted messages stay in the list as "This message was deleted" (off: they vanish).
    show_deleted_message_indicators: bool = "SHOW_DELETED_MESSAGE_INDICATORS", false;
    /// Public rooms (SPEC §10); off → 403 on every room route.
    enable_chat_rooms: bool = "ENABLE_CHAT_ROOMS", true;
    /// Room admins may rename their room.
    allow_renaming_chat_rooms: bool = "ALLOW_RENAMING_CHAT_ROOMS", true;
    /// Joined rooms appear in the chat list.
    show_chat_rooms_in_messages: bool = "SHOW_CHAT_ROOMS_IN_MESSAGES", true;
    /// DMs appear in the chat list.
    show_dms_in_messages: bool = "SHOW_DMS_IN_MESSAGES", true;
    /// Host-site sign-in (SPEC §3, `src/sso.rs`): the HS256 secret the site signs tokens with,
    /// at least 32 bytes. Tokens signed with it carry no `kid`.
    sso_secret: Secret = "SSO_SECRET" [secret], Secret::default();
    /// Host-site sign-in: a JWKS (`{"keys": [...]}`) of RS256, ES256, EdDSA (and HS256 `oct`)
    /// keys, chosen by a token's `kid`; several at once while keys rotate.
    sso_jwks: Secret = "SSO_JWKS" [secret], Secret::default();
    /// The `aud` a host site's token must name.
    sso_audience: String = "SSO_AUDIENCE", "edge-messaging".to_string();
    /// The demo pages' sign-in (never in production): also accept tokens signed with the
    /// published demo secret (`kid: "demo"`), for `demo:` subjects only.
    sso_demo: bool = "SSO_DEMO", false;
}

thread_local! {
    /// The settings of this isolate: its `[vars]` do not change while it lives.
    static CACHED: std::cell::RefCell<Option<Settings>> = const { std::cell::RefCell::new(None) };
}

impl Settings {
    /// The worker's settings, read from its environment once per isolate (reading twenty
    /// variables through the runtime on every request cost more than the request's routing).
    pub fn from_env(env: &Env) -> Self {
        CACHED.with(|c| {
            c.borrow_mut()
                .get_or_insert_with(|| {
                    Self::from_lookup(|name| env.var(name).ok().map(|v| v.to_string()))
                })
                .clone()
        })
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
    fn missing_values_take_the_documented_defaults() {
        let s = from(&[]);
        assert_eq!(s.messages_per_page, 50, "MESSAGES_PER_PAGE default");
        assert_eq!(s.chats_per_page, 10, "CHATS_PER_PAGE default");
        assert_eq!(s.max_message_length, 10_000, "MAX_MESSAGE_LENGTH default");
        assert_eq!(
            s.typing_timeout_seconds, 6,
            "TYPING_TIMEOUT_SECONDS default"
        );
        assert!(s.enable_dms && s.allow_signup && !s.allow_renaming_dms);
        assert!(!s.sso_secret.is_set() && !s.sso_jwks.is_set() && !s.sso_demo);
        assert_eq!(s.sso_audience, "edge-messaging", "SSO_AUDIENCE default");
    }

    #[test]
    fn secrets_are_trimmed_and_never_printed() {
        let s = from(&[
            ("SSO_SECRET", " a-long-secret-value\n"),
            ("SSO_AUDIENCE", "  "),
        ]);
        assert_eq!(s.sso_secret.expose(), "a-long-secret-value");
        let printed = format!("{s:?}");
        assert!(!printed.contains("a-long-secret"), "{printed}");
        assert!(printed.contains("Secret(<redacted>)"));
        assert_eq!(s.sso_audience, "edge-messaging", "blank keeps the default");
        assert_eq!(Settings::SECRETS, &["SSO_SECRET", "SSO_JWKS"]);
    }

    #[test]
    fn values_are_parsed_clamped_and_bad_ones_ignored() {
        let s = from(&[
            ("CHATS_PER_PAGE", "3"),
            ("ALLOW_SIGNUP", "False"),
            ("MESSAGES_PER_PAGE", "lots"),
            ("TYPING_TIMEOUT_SECONDS", "0"),
            (
                "ALLOWED_ORIGINS",
                " https://a.example/ , https://b.example ",
            ),
        ]);
        assert_eq!(s.chats_per_page, 3);
        assert_eq!(
            from(&[("TRANSPORT", " Polling ")]).transport,
            Transport::Polling
        );
        assert_eq!(
            from(&[("TRANSPORT", "carrier-pigeon")]).transport,
            Transport::WebSocket
        );
        assert!(!s.allow_signup, "booleans are case-insensitive");
        assert_eq!(s.messages_per_page, 50, "unparsable keeps the default");
        assert_eq!(s.typing_timeout_seconds, 1, "clamped to the lower bound");
        assert_eq!(
            s.allowed_origins,
            vec!["https://a.example", "https://b.example"],
            "origins trimmed, trailing slash dropped"
        );
    }

    #[test]
    fn every_setting_is_in_wrangler_toml_and_the_readme_and_no_secret_is_committed() {
        let toml = include_str!("../wrangler.toml");
        let readme = include_str!("../README.md");
        assert!(
            !Settings::SECRETS.is_empty(),
            "the secret settings are marked"
        );
        for name in Settings::NAMES {
            let in_toml = toml
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{name} =")));
            if Settings::SECRETS.contains(name) {
                assert!(
                    !in_toml,
                    "{name} is a secret: `wrangler secret put` / .dev.vars, never wrangler.toml"
                );
            } else {
                assert!(in_toml, "{name} in wrangler.toml [vars]");
            }
            assert!(
                readme.contains(&format!("`{name}`")),
                "{name} in the README's settings"
            );
        }
    }
}
