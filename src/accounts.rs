//! Accounts: register, login, logout (this session or all of them), me. Sign-in answers are
//! `{user, token}` plus the session cookie, never cached. Logins and registrations refuse
//! cross-site browser posts (login CSRF) and are rate limited (`auth::throttle`).

use serde_json::json;
use worker::Response;

use crate::auth::{self, throttle, usernames};
use crate::crypto::{self, Verified};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, Cx, Input};
use crate::realtime;
use crate::storage::users::{self, NewSession, NewUser, UserRow};
use crate::time;
use crate::views::UserWithEmail;

/// Longest password accepted, in code points (hashing is the expensive part).
const MAX_PASSWORD: usize = 4096;
/// Shortest password accepted.
const MIN_PASSWORD: usize = 8;
/// Longest first or last name.
const MAX_NAME: usize = 150;

/// The `Set-Cookie` value of a session (`max_age` 0 clears it).
pub fn session_cookie(cx: &Cx, token: &str, max_age: u64) -> String {
    let name = auth::cookie_name(cx);
    let secure = if cx.is_https() { "; Secure" } else { "" };
    format!("{name}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

/// `{user, token}` with the session cookie set; never stored by caches.
pub fn signed_in(cx: &Cx, status: u16, user: &UserRow, token: &str) -> ApiResult<Response> {
    signed_in_for(cx, status, user, token, cx.settings.session_ttl_seconds)
}

/// `signed_in` for a session that ends in `max_age` seconds (one that goes on).
pub fn signed_in_for(
    cx: &Cx,
    status: u16,
    user: &UserRow,
    token: &str,
    max_age: u64,
) -> ApiResult<Response> {
    let body = json!({ "user": UserWithEmail::of(user), "token": token });
    let resp = http::json(status, &body)?;
    resp.headers()
        .append("Set-Cookie", &session_cookie(cx, token, max_age))?;
    resp.headers().set("Cache-Control", "no-store")?;
    Ok(resp)
}

/// A session about to start: the token the client gets and what the `sessions` row stores
/// (every way of signing in makes one: password, registration, host-site token).
pub struct NewToken {
    pub token: String,
    pub token_hash: String,
    pub now: String,
    pub expires: String,
}

impl NewToken {
    pub fn new(cx: &Cx) -> ApiResult<NewToken> {
        let token = crypto::new_token()?;
        let now_ms = time::now_ms();
        Ok(NewToken {
            token_hash: crypto::token_hash(&token),
            token,
            now: time::iso_from_ms(now_ms),
            expires: time::iso_from_ms(now_ms + (cx.settings.session_ttl_seconds as i64) * 1000),
        })
    }

    /// The session row for `user_id`.
    pub fn session(&self, user_id: i64) -> NewSession<'_> {
        NewSession {
            user_id,
            token_hash: &self.token_hash,
            now: &self.now,
            expires: &self.expires,
        }
    }
}

/// Validated registration fields.
pub struct Registration {
    pub username: String,
    pub password: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

/// Reads and checks a registration (400 naming every bad field).
pub fn read_registration(mut input: Input) -> ApiResult<Registration> {
    let username = usernames::normalized(&input.string("username").unwrap_or_default());
    let password = input.string("password").unwrap_or_default();
    let email = input.opt_string("email").unwrap_or_default();
    let first_name = input.opt_string("first_name").unwrap_or_default();
    let last_name = input.opt_string("last_name").unwrap_or_default();
    let email = email.trim().to_string();
    let len = |s: &str| s.chars().count();
    if input.has("username") && !usernames::valid(&username) {
        input.error(
            "username",
            format!(
                "Enter a valid username: 1-{} letters, digits and @/./+/-/_ only.",
                usernames::MAX_LEN
            ),
        );
    }
    if input.has("password") && len(&password) < MIN_PASSWORD {
        input.error(
            "password",
            format!(
                "This password is too short. It must contain at least {MIN_PASSWORD} characters."
            ),
        );
    }
    if len(&password) > MAX_PASSWORD {
        input.error(
            "password",
            format!("Ensure this field has no more than {MAX_PASSWORD} characters."),
        );
    }
    if !email.is_empty() && !plausible_email(&email) {
        input.error("email", "Enter a valid email address.");
    }
    for (field, value) in [("first_name", &first_name), ("last_name", &last_name)] {
        if len(value) > MAX_NAME {
            input.error(
                field,
                format!("Ensure this field has no more than {MAX_NAME} characters."),
            );
        }
    }
    input.finish()?;
    Ok(Registration {
        username,
        password,
        email,
        first_name: first_name.trim().to_string(),
        last_name: last_name.trim().to_string(),
    })
}

/// Whether `e` looks like an email address (the check Django's forms make, roughly).
pub fn plausible_email(e: &str) -> bool {
    let Some((local, domain)) = e.rsplit_once('@') else {
        return false;
    };
    e.chars().count() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// 429 when an attempt counted against `limits` went over one of them.
fn throttled(
    limits: &[throttle::Limit],
    counted: &[crate::storage::throttle::Counted],
    now: i64,
    window: i64,
) -> ApiResult<()> {
    match throttle::retry_after(limits, counted, now, window) {
        Some(secs) => Err(ApiError::TooManyRequests {
            retry_after_secs: secs,
        }),
        None => Ok(()),
    }
}

/// Creates an account and its first session: the user and the session's token. 403 when
/// `ALLOW_SIGNUP=false`; 429 over the address's registration limit; 400 when the username,
/// or one confusable with it, is taken.
pub async fn sign_up(cx: &Cx, r: &Registration) -> ApiResult<(UserRow, String)> {
    if !cx.settings.allow_signup {
        return Err(ApiError::ForbiddenBecause(
            "Sign-up is disabled on this server.",
        ));
    }
    let addr = throttle::address(&cx.client_addr());
    let limit = throttle::registration_limit(&cx.settings, &addr);
    let (now, window) = (
        time::now_secs(),
        cx.settings.registration_window_seconds as i64,
    );
    let (counted, unkeyed) = users::registration_lookup(&cx.db, &[&limit.key], now, window).await?;
    throttled(&[limit], &counted, now, window)?;
    let backfill: Vec<(i64, String)> = unkeyed
        .into_iter()
        .map(|(id, name)| (id, usernames::key(&name)))
        .collect();
    let hash = crypto::make_password(&r.password).await?;
    let fresh = NewToken::new(cx)?;
    let key = usernames::key(&r.username);
    let new = NewUser {
        username: &r.username,
        username_key: &key,
        password_hash: &hash,
        email: &r.email,
        first_name: &r.first_name,
        last_name: &r.last_name,
    };
    // User id 0: the new user's; the insert finds it by username.
    let user = users::create_with_session(&cx.db, &new, &backfill, &fresh.session(0))
        .await?
        .ok_or_else(|| ApiError::field("username", "A user with that username already exists."))?;
    Ok((user, fresh.token))
}

/// Registration from a request body, shared by the API and the sign-up page (`pages.rs`):
/// the new user and a session token.
pub async fn create_account(cx: &Cx, input: Input) -> ApiResult<(UserRow, String)> {
    let r = read_registration(input)?;
    sign_up(cx, &r).await
}

/// `POST /messages/api/auth/register/` — creates the account and signs it in (201).
pub async fn register(cx: &Cx) -> ApiResult<Response> {
    auth::check_same_site(cx)?;
    let (user, token) = create_account(cx, cx.form_or_json()?).await?;
    signed_in(cx, 201, &user, &token)
}

fn bad_credentials() -> ApiError {
    ApiError::field(
        "non_field_errors",
        "Unable to log in with provided credentials.",
    )
}

/// Checks a username and password and starts a session: the user and its token. Unknown
/// user, wrong password and an account without a usable password (a host site's user, SPEC §3)
/// are the same 400, in the same time; over a limit → 429 with `Retry-After`, counted before
/// the password is checked.
pub async fn sign_in(cx: &Cx, username: &str, password: &str) -> ApiResult<(UserRow, String)> {
    let lower = usernames::lower(username);
    let addr = throttle::address(&cx.client_addr());
    let limits = throttle::login_limits(&cx.settings, &lower, &addr);
    let keys: Vec<&str> = limits.iter().map(|l| l.key.as_str()).collect();
    let (now, window) = (
        time::now_secs(),
        cx.settings.login_failure_window_seconds as i64,
    );
    let (account, work, counted) = users::login_lookup(&cx.db, &lower, &keys, now, window).await?;
    throttled(&limits, &counted, now, window)?;
    let usable = |a: &users::LoginRow| a.is_active && crypto::parse_hash(&a.password).is_some();
    let verified = match &account {
        Some(a) if usable(a) => crypto::check_password(password, &a.password).await?,
        _ => {
            crypto::dummy_check(password, work).await?;
            Verified::No
        }
    };
    let upgrade = match verified {
        Verified::No => return Err(bad_credentials()),
        Verified::Yes => None,
        Verified::YesUpgrade(h) => Some(h),
    };
    let user = account.expect("verified implies an account").user;
    let fresh = NewToken::new(cx)?;
    let taken_back = (keys[0], &keys[1..]);
    users::start_session(
        &cx.db,
        &fresh.session(user.id),
        upgrade.as_deref(),
        taken_back,
        now - window,
    )
    .await?;
    Ok((user, fresh.token))
}

/// `POST /messages/api/auth/login/` and `POST /login/` (JSON or form) → `{user, token}` and
/// the session cookie.
pub async fn login(cx: &Cx) -> ApiResult<Response> {
    auth::check_same_site(cx)?;
    let mut input = cx.form_or_json()?;
    let username = input.string("username").unwrap_or_default();
    let password = input.string("password").unwrap_or_default();
    input.finish()?;
    let (user, token) = sign_in(cx, &username, &password).await?;
    signed_in(cx, 200, &user, &token)
}

/// Ends this session (`all: false`) or every session of the caller, and closes their sockets
/// at once (shared by the API and the sign-out page).
pub async fn end_session(cx: &Cx, all: bool) -> ApiResult<()> {
    let caller = auth::authenticate(cx).await?;
    let only = (!all).then_some(caller.token_hash.as_str());
    let chats = users::end_sessions(&cx.db, caller.user.id, only).await?;
    realtime::sign_out(cx, caller.user.id, only, &chats).await;
    Ok(())
}

/// `end_session`, then 204 clearing the cookie.
async fn sign_out(cx: &Cx, all: bool) -> ApiResult<Response> {
    end_session(cx, all).await?;
    let resp = http::no_content()?;
    resp.headers()
        .append("Set-Cookie", &session_cookie(cx, "", 0))?;
    Ok(resp)
}

/// `POST /messages/api/auth/logout/` — revokes this session server-side and closes its
/// sockets (204). Other sessions of the same user stay signed in.
pub async fn logout(cx: &Cx) -> ApiResult<Response> {
    sign_out(cx, false).await
}

/// `POST /messages/api/auth/logout-all/` — revokes every session of the caller and closes all
/// their sockets (204).
pub async fn logout_all(cx: &Cx) -> ApiResult<Response> {
    sign_out(cx, true).await
}

/// `GET /messages/api/auth/me/` — the caller: `UserSummary` plus `email`.
pub async fn me(cx: &Cx) -> ApiResult<Response> {
    let caller = auth::authenticate(cx).await?;
    http::ok(&UserWithEmail::of(&caller.user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn reg(v: Value) -> ApiResult<Registration> {
        read_registration(Input::from_json(v.to_string().as_bytes()).unwrap())
    }

    #[test]
    fn usernames_follow_djangos_rules() {
        assert!(reg(json!({"username": "ann.o+x@y-z_1", "password": "12345678"})).is_ok());
        assert!(reg(json!({"username": "Zoë", "password": "12345678"})).is_ok());
        assert!(reg(json!({"username": "has space", "password": "12345678"})).is_err());
        assert!(reg(json!({"username": "", "password": "12345678"})).is_err());
        assert!(reg(json!({"username": "a".repeat(151), "password": "12345678"})).is_err());
    }

    #[test]
    fn usernames_are_kept_in_nfc() {
        let r = reg(json!({"username": "Zoe\u{0301}", "password": "12345678"})).unwrap();
        assert_eq!(r.username, "Zoé");
    }

    #[test]
    fn passwords_need_eight_characters() {
        assert!(reg(json!({"username": "ann", "password": "1234567"})).is_err());
        assert!(
            reg(json!({"username": "ann", "password": "ééééééé1"})).is_ok(),
            "code points"
        );
    }

    #[test]
    fn emails_are_checked_only_when_given() {
        assert!(reg(json!({"username": "a", "password": "12345678", "email": ""})).is_ok());
        assert!(reg(json!({"username": "a", "password": "12345678", "email": "a@b.co"})).is_ok());
        assert!(reg(json!({"username": "a", "password": "12345678", "email": "nope"})).is_err());
    }
}
