//! Who is asking (SPEC-level rules in docs/security.md): credentials, the CSRF rule and
//! authenticating in the handler's D1 round trip (`session.rs`), rate limits (`throttle.rs`)
//! and username rules (`usernames.rs`). The endpoints that sign people in and out are in
//! `accounts.rs`.

mod session;
pub mod throttle;
pub mod usernames;

pub use session::{
    authenticate, authenticate_with, check_same_site, cookie_name, gated, member, member_with,
    session, Caller, SessionRef, SESSION_COOKIE, SESSION_COOKIE_HTTPS,
};
