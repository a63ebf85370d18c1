//! Host-site sign-in (SPEC §3): a site that already has users signs a short-lived JWT for the
//! visitor, and `POST /messages/api/auth/sso/ {token}` turns it into our session, answered
//! exactly as a login. The token is checked locally (`jwt`); the user of its `sub` is created
//! or updated from its claims and signed in, in one D1 round trip (`storage::sso`).
//!
//! How claims become the user (README "Sign in with the host site"):
//! - `username` (else `sub`) is the username, characters outside the username rules replaced
//!   by `_`. When another account holds it (also case-insensitively or as a confusable
//!   lookalike), the user gets `<name>-<6 hex characters of SHA-256(sub)>`, the same on every
//!   sign-in; should that be taken too, their current suffixed name is kept, else a random
//!   6-character suffix. A site's user never takes over an account made here.
//! - `name` is the first name, whole (the display name is "first last"); `email` when it looks
//!   like one; `avatar_url` when it is an http(s) URL of at most 1024 characters, shown
//!   instead of the generated avatar. A claim that is missing or fails its check is stored
//!   empty: every sign-in makes the user what the token says.
//! - Such users have no password: password login refuses them like a wrong password.

use std::cell::RefCell;
use std::rc::Rc;

use sha2::{Digest, Sha256};
use worker::Response;

use crate::accounts::{self, NewToken};
use crate::auth::{self, usernames};
use crate::crypto;
use crate::error::{ApiError, ApiResult};
use crate::http::Cx;
use crate::jwt::{self, Claims, KeySet, Rules};
use crate::storage::sso::{self, Candidate, Current, Profile};
use crate::storage::users::search_text;
use crate::time;

/// Longest picture URL kept (it rides in every message event the user's messages make).
pub const MAX_AVATAR_URL: usize = 1024;
/// Longest first name (Django's).
const MAX_NAME: usize = 150;
/// Longest email address (RFC 5321).
const MAX_EMAIL: usize = 254;
/// Characters of the suffixes added to a taken username.
const SUFFIX_LEN: usize = 6;

thread_local! {
    /// The keys of this isolate, read from its settings once (they do not change while it
    /// lives), with what was left out logged then.
    static KEYS: RefCell<Option<Rc<KeySet>>> = const { RefCell::new(None) };
}

fn keys(cx: &Cx) -> Rc<KeySet> {
    KEYS.with(|k| {
        k.borrow_mut()
            .get_or_insert_with(|| {
                let s = &cx.settings;
                let (keys, problems) =
                    KeySet::new(s.sso_secret.expose(), s.sso_jwks.expose(), s.sso_demo);
                for p in problems {
                    worker::console_error!("sso: {p}");
                }
                Rc::new(keys)
            })
            .clone()
    })
}

/// `POST /messages/api/auth/sso/ {token}` — signs in the host site's user the token names
/// (created on first sight, updated from the claims every time): 200 `{user, token}` and the
/// session cookie, as login. When the request's session cookie is already a session of that
/// user with more than half its lifetime left, it goes on (its token is the answer's) instead
/// of a new one: a page that signs in on every load adds no session rows. A token that is
/// refused → 401 naming why; an inactive account → 401; with no key configured the route does
/// not exist (404). Cross-site browser posts are refused (403) as for login.
pub async fn sign_in(cx: &Cx) -> ApiResult<Response> {
    let keys = keys(cx);
    if keys.is_empty() {
        return Err(ApiError::NotFound);
    }
    auth::check_same_site(cx)?;
    let mut input = cx.json()?;
    let token = input.string("token").unwrap_or_default();
    input.finish()?;
    let rules = Rules {
        audience: &cx.settings.sso_audience,
        now: time::now_secs(),
    };
    let claims = jwt::verify(&token, &keys, &rules)
        .await
        .map_err(|r| ApiError::UnauthorizedBecause(r.detail()))?;
    let user = UserClaims::of(&claims, &random_suffix()?);
    let fresh = NewToken::new(cx)?;
    let current = cx.cookie(auth::cookie_name(cx)).filter(|c| !c.is_empty());
    let current_hash = current.as_deref().map(crypto::token_hash);
    // A session with less than half its lifetime left is replaced rather than kept.
    let half_ttl_ms = (cx.settings.session_ttl_seconds as i64) * 500;
    let ends_after = time::iso_from_ms(time::now_ms() + half_ttl_ms);
    let prune_before = time::now_secs() - cx.settings.login_failure_window_seconds as i64;
    let signed = sso::sign_in(
        &cx.db,
        &user.profile(),
        &fresh.session(0),
        current_hash.as_deref().map(|token_hash| Current {
            token_hash,
            ends_after: &ends_after,
        }),
        prune_before,
    )
    .await?
    .ok_or_else(|| ApiError::Internal("sso: no username could be written".into()))?;
    if !signed.is_active {
        return Err(ApiError::UnauthorizedBecause("This account is disabled."));
    }
    match (
        signed.kept_until.as_deref().and_then(time::ms_from_iso),
        current,
    ) {
        (Some(until), Some(token)) => {
            let left = ((until - time::now_ms()) / 1000).max(1) as u64;
            accounts::signed_in_for(cx, 200, &signed.user, &token, left)
        }
        _ => accounts::signed_in(cx, 200, &signed.user, &fresh.token),
    }
}

/// `SUFFIX_LEN` random lowercase letters and digits.
fn random_suffix() -> ApiResult<String> {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    Ok(crypto::random_bytes(SUFFIX_LEN)?
        .into_iter()
        .map(|b| CHARS[b as usize % CHARS.len()] as char)
        .collect())
}

fn candidate(username: String) -> Candidate {
    Candidate {
        lower: usernames::lower(&username),
        key: usernames::key(&username),
        username,
    }
}

/// What a token's claims make of its user, checked.
#[derive(Debug, PartialEq, Eq)]
pub struct UserClaims {
    pub sub: String,
    pub wanted: Candidate,
    pub stable: Candidate,
    pub random: Candidate,
    pub suffixed_prefix: String,
    pub first_name: String,
    pub email: String,
    pub avatar_url: String,
    /// Lowercased ` first last email`, after the username in the search text.
    pub search_rest: String,
}

impl UserClaims {
    /// `random` is the suffix to use if both the wanted name and the stable one are taken.
    pub fn of(c: &Claims, random: &str) -> UserClaims {
        let wanted = c
            .username
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or(&c.sub);
        let base = usernames::from_text(wanted);
        let digest = Sha256::digest(c.sub.as_bytes());
        let stable: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let stem = usernames::with_suffix(&base, &"0".repeat(SUFFIX_LEN));
        let prefix: String = stem
            .chars()
            .take(stem.chars().count() - SUFFIX_LEN)
            .collect();
        let first_name = c.name.as_deref().map(name).unwrap_or_default();
        let email = c.email.as_deref().and_then(email).unwrap_or_default();
        UserClaims {
            sub: c.sub.clone(),
            stable: candidate(usernames::with_suffix(&base, &stable[..SUFFIX_LEN])),
            random: candidate(usernames::with_suffix(&base, random)),
            wanted: candidate(base),
            suffixed_prefix: usernames::lower(&prefix),
            avatar_url: c
                .avatar_url
                .as_deref()
                .and_then(picture)
                .unwrap_or_default(),
            // The username's part is added in SQL, once it is chosen.
            search_rest: search_text("", &first_name, "", &email),
            first_name,
            email,
        }
    }

    /// The rows' view of it.
    pub fn profile(&self) -> Profile<'_> {
        Profile {
            sub: &self.sub,
            wanted: &self.wanted,
            stable: &self.stable,
            random: &self.random,
            suffixed_prefix: &self.suffixed_prefix,
            email: &self.email,
            first_name: &self.first_name,
            last_name: "",
            avatar_url: &self.avatar_url,
            search_rest: &self.search_rest,
        }
    }
}

/// A display name: trimmed, without control characters, at most `MAX_NAME` characters.
fn name(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(MAX_NAME)
        .collect::<String>()
        .trim_end()
        .to_string()
}

fn email(raw: &str) -> Option<String> {
    let e = raw.trim();
    (e.chars().count() <= MAX_EMAIL && accounts::plausible_email(e)).then(|| e.to_string())
}

/// A picture URL worth showing: http or https, with a host, no credentials in it, at most
/// `MAX_AVATAR_URL` characters once normalised (`url` percent-encodes what needs it).
pub fn picture(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.len() > MAX_AVATAR_URL {
        return None;
    }
    let url = url::Url::parse(raw).ok()?;
    let fine = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.username().is_empty()
        && url.password().is_none();
    let url = String::from(url);
    (fine && url.len() <= MAX_AVATAR_URL).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sub: &str, username: Option<&str>) -> Claims {
        Claims {
            sub: sub.into(),
            name: Some("  Ann\u{7} Example ".into()),
            username: username.map(Into::into),
            email: Some("ann@example.com".into()),
            avatar_url: Some("https://cdn.example.com/a b.png".into()),
        }
    }

    #[test]
    fn the_claimed_username_comes_first_then_stable_then_random_suffixes() {
        let u = UserClaims::of(&claims("site-42", Some("Ann")), "r4nd0m");
        assert_eq!(u.wanted.username, "Ann");
        assert_eq!(u.wanted.lower, "ann");
        let digest = Sha256::digest(b"site-42");
        let stable = format!("Ann-{:02x}{:02x}{:02x}", digest[0], digest[1], digest[2]);
        assert_eq!(
            u.stable.username, stable,
            "6 hex characters of SHA-256(sub)"
        );
        assert_eq!(u.random.username, "Ann-r4nd0m");
        assert_eq!(u.suffixed_prefix, "ann-");
        let again = UserClaims::of(&claims("site-42", Some("Ann")), "other1");
        assert_eq!(again.stable, u.stable, "the same sub, the same stable name");
    }

    #[test]
    fn without_a_usable_username_claim_the_sub_is_the_name() {
        let u = UserClaims::of(&claims("auth0|5f7c", None), "r4nd0m");
        assert_eq!(u.wanted.username, "auth0_5f7c");
        let blank = UserClaims::of(&claims("auth0|5f7c", Some("  ")), "r4nd0m");
        assert_eq!(blank.wanted.username, "auth0_5f7c");
        let spaced = UserClaims::of(&claims("x", Some("Ann Smith")), "r4nd0m");
        assert_eq!(spaced.wanted.username, "Ann_Smith");
        for u in [&u.wanted, &u.stable, &u.random] {
            assert!(usernames::valid(&u.username), "{u:?}");
        }
    }

    #[test]
    fn long_names_keep_their_suffix_within_the_limit() {
        let long = "é".repeat(200);
        let u = UserClaims::of(&claims("s", Some(&long)), "r4nd0m");
        assert_eq!(u.wanted.username.chars().count(), usernames::MAX_LEN);
        assert_eq!(u.random.username.chars().count(), usernames::MAX_LEN);
        assert!(u.random.lower.starts_with(&u.suffixed_prefix));
        assert!(u.stable.lower.starts_with(&u.suffixed_prefix));
    }

    #[test]
    fn name_email_and_picture_are_checked() {
        let u = UserClaims::of(&claims("s", Some("ann")), "r4nd0m");
        assert_eq!(
            u.first_name, "Ann Example",
            "trimmed, control characters dropped"
        );
        assert_eq!(u.email, "ann@example.com");
        assert_eq!(
            u.avatar_url, "https://cdn.example.com/a%20b.png",
            "normalised"
        );
        assert_eq!(u.search_rest, " ann example  ann@example.com");
        let mut c = claims("s", None);
        c.email = Some("not an email".into());
        c.avatar_url = Some("javascript:alert(1)".into());
        c.name = Some("x".repeat(400));
        let u = UserClaims::of(&c, "r4nd0m");
        assert_eq!((u.email.as_str(), u.avatar_url.as_str()), ("", ""));
        assert_eq!(u.first_name.chars().count(), MAX_NAME);
    }

    #[test]
    fn only_plain_web_pictures_are_kept() {
        assert!(picture("http://example.com/a.png").is_some());
        assert!(picture("https://example.com/a.png?s=64").is_some());
        for bad in [
            "data:image/svg+xml,<svg/>",
            "javascript:alert(1)",
            "ftp://example.com/a.png",
            "https://user:pw@example.com/a.png",
            "/relative.png",
            "https://",
            "",
        ] {
            assert_eq!(picture(bad), None, "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_AVATAR_URL));
        assert_eq!(picture(&long), None, "too long");
    }
}
