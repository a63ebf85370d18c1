//! Authentication: register, login, logout, me. Who is asking (credentials, the
//! CSRF rule, authenticating in the handler's round trip) is `session.rs`.

mod session;

use serde_json::json;
use worker::Response;

use crate::crypto::{self, Verified};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, Cx, Input};
use crate::storage::users::{self, NewUser, UserRow};
use crate::time;
use crate::views::UserWithEmail;

pub use session::{
    authenticate, authenticate_with, check_same_site, gated, member, member_with, session, Caller,
    SessionRef, SESSION_COOKIE,
};

/// The `Set-Cookie` value for a session (`max_age` 0 clears it).
pub fn session_cookie(cx: &Cx, token: &str, max_age: u64) -> String {
    let secure = if cx.is_https() { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

/// `{user, token}` with the session cookie set.
fn signed_in(cx: &Cx, status: u16, user: &UserRow, token: &str) -> ApiResult<Response> {
    let body = json!({ "user": UserWithEmail::of(user), "token": token });
    let resp = http::json(status, &body)?;
    resp.headers().append(
        "Set-Cookie",
        &session_cookie(cx, token, cx.settings.session_ttl_seconds),
    )?;
    Ok(resp)
}

fn expiry(cx: &Cx) -> String {
    time::iso_from_ms(time::now_ms() + (cx.settings.session_ttl_seconds as i64) * 1000)
}

/// Validated registration fields.
struct Registration {
    username: String,
    password: String,
    email: String,
    first_name: String,
    last_name: String,
}

fn valid_username_char(c: char) -> bool {
    c.is_alphanumeric() || "@.+-_".contains(c)
}

fn read_registration(mut input: Input) -> ApiResult<Registration> {
    let username = input.string("username").unwrap_or_default();
    let password = input.string("password").unwrap_or_default();
    let email = input.opt_string("email").unwrap_or_default();
    let first_name = input.opt_string("first_name").unwrap_or_default();
    let last_name = input.opt_string("last_name").unwrap_or_default();
    let username = username.trim().to_string();
    let email = email.trim().to_string();
    let len = |s: &str| s.chars().count();
    if input.has("username")
        && (username.is_empty()
            || len(&username) > 150
            || !username.chars().all(valid_username_char))
    {
        input.error(
            "username",
            "Enter a valid username: 1-150 letters, digits and @/./+/-/_ only.",
        );
    }
    if input.has("password") && len(&password) < 8 {
        input.error(
            "password",
            "This password is too short. It must contain at least 8 characters.",
        );
    }
    if len(&password) > 4096 {
        input.error(
            "password",
            "Ensure this field has no more than 4096 characters.",
        );
    }
    if !email.is_empty() && !plausible_email(&email) {
        input.error("email", "Enter a valid email address.");
    }
    for (field, value) in [("first_name", &first_name), ("last_name", &last_name)] {
        if len(value) > 150 {
            input.error(field, "Ensure this field has no more than 150 characters.");
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

fn plausible_email(e: &str) -> bool {
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

/// `POST /messages/api/auth/register/` — creates the account and signs it in (201).
/// 403 when `ALLOW_SIGNUP=false`; 400 when the username is taken (case-insensitively).
pub async fn register(cx: &Cx) -> ApiResult<Response> {
    let (user, token) = create_account(cx, cx.form_or_json()?).await?;
    signed_in(cx, 201, &user, &token)
}

/// Registration itself, shared by the API and the sign-up page (`pages.rs`): the new user
/// and a session token.
pub async fn create_account(cx: &Cx, input: Input) -> ApiResult<(UserRow, String)> {
    if !cx.settings.allow_signup {
        return Err(ApiError::ForbiddenBecause(
            "Sign-up is disabled on this server.",
        ));
    }
    let r = read_registration(input)?;
    let hash = crypto::make_password(&r.password).await?;
    let token = crypto::new_token()?;
    let now = time::now_iso();
    let new = NewUser {
        username: &r.username,
        password_hash: &hash,
        email: &r.email,
        first_name: &r.first_name,
        last_name: &r.last_name,
    };
    let user =
        users::create_with_session(&cx.db, &new, &crypto::token_hash(&token), &now, &expiry(cx))
            .await?
            .ok_or_else(|| {
                ApiError::field("username", "A user with that username already exists.")
            })?;
    Ok((user, token))
}

fn bad_credentials() -> ApiError {
    ApiError::field(
        "non_field_errors",
        "Unable to log in with provided credentials.",
    )
}

/// `POST /messages/api/auth/login/` and `POST /login/` (JSON or form) → `{user, token}` and the
/// session cookie. Unknown user and wrong password get the same 400; too many failures for the
/// username or the client address in the window → 429 with `Retry-After`.
pub async fn login(cx: &Cx) -> ApiResult<Response> {
    let mut input = cx.form_or_json()?;
    let username = input.string("username").unwrap_or_default();
    let password = input.string("password").unwrap_or_default();
    input.finish()?;
    let (user, token) = sign_in(cx, &username, &password).await?;
    signed_in(cx, 200, &user, &token)
}

/// Checking credentials, shared by the API and the sign-in page (`pages.rs`): the user and a
/// new session token; 400 for bad credentials, 429 while throttled.
pub async fn sign_in(cx: &Cx, username: &str, password: &str) -> ApiResult<(UserRow, String)> {
    let lower = username.trim().to_lowercase();
    let user_key = format!("user:{lower}");
    let addr_key = format!("addr:{}", cx.client_addr());
    let now = time::now_secs();
    let window = cx.settings.login_failure_window_seconds as i64;
    let (account, failures) =
        users::login_lookup(&cx.db, &lower, &user_key, &addr_key, now - window).await?;

    // Refuse while either counter is at its limit, until its window ends.
    let retry_after = failures
        .iter()
        .filter(|f| {
            let limit = if f.key == user_key {
                cx.settings.login_max_failures_per_username
            } else {
                cx.settings.login_max_failures_per_address
            };
            f.failures >= limit as i64
        })
        .map(|f| (f.window_start + window - now).max(1))
        .max();
    if let Some(secs) = retry_after {
        return Err(ApiError::TooManyRequests {
            retry_after_secs: secs as u64,
        });
    }

    let verified = match &account {
        Some(a) if a.is_active => crypto::check_password(password, &a.password).await?,
        _ => {
            crypto::dummy_check(password).await?;
            Verified::No
        }
    };
    let upgrade = match verified {
        Verified::No => {
            users::record_login_failure(&cx.db, &[&user_key, &addr_key], now, window).await?;
            return Err(bad_credentials());
        }
        Verified::Yes => None,
        Verified::YesUpgrade(h) => Some(h),
    };
    let account = account.expect("verified implies an account");
    let token = crypto::new_token()?;
    users::start_session(
        &cx.db,
        account.user.id,
        &crypto::token_hash(&token),
        &time::now_iso(),
        &expiry(cx),
        &user_key,
        upgrade.as_deref(),
    )
    .await?;
    Ok((account.user, token))
}

/// `POST /messages/api/auth/logout/` — revokes this session server-side (204) and clears the
/// cookie. Other sessions of the same user stay signed in.
pub async fn logout(cx: &Cx) -> ApiResult<Response> {
    sign_out(cx).await?;
    let resp = http::no_content()?;
    resp.headers()
        .append("Set-Cookie", &session_cookie(cx, "", 0))?;
    Ok(resp)
}

/// Revokes the request's session (401 without one), shared with the `/logout/` page.
pub async fn sign_out(cx: &Cx) -> ApiResult<()> {
    let caller = authenticate(cx).await?;
    users::delete_session(&cx.db, &caller.token_hash).await
}

/// `GET /messages/api/auth/me/` — the caller: `UserSummary` plus `email`.
pub async fn me(cx: &Cx) -> ApiResult<Response> {
    let caller = authenticate(cx).await?;
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
