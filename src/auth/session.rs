//! Who is asking: a request's credentials (bearer token or session cookie), the CSRF rule for
//! cookie-authenticated writes, and authentication in the same D1 round trip as the handler's
//! own reads.

use serde::de::DeserializeOwned;
use worker::Method;

use crate::crypto;
use crate::error::{ApiError, ApiResult, JOIN_THE_ROOM};
use crate::http::Cx;
use crate::storage::chats::{self, MemberChat};
use crate::storage::rooms;
use crate::storage::users::{self, UserRow};
use crate::storage::{Batch, Results, Rows, Viewer};
use crate::time;

/// The session cookie. Not Django's `sessionid`: on an origin shared with a Django site the
/// two must not overwrite each other. Over https it is a `__Host-` cookie (Secure, Path=/, no
/// Domain: no subdomain can set or shadow it).
pub const SESSION_COOKIE: &str = "em_session";
pub const SESSION_COOKIE_HTTPS: &str = "__Host-em_session";

/// The session cookie's name for this request's scheme.
pub fn cookie_name(cx: &Cx) -> &'static str {
    if cx.is_https() {
        SESSION_COOKIE_HTTPS
    } else {
        SESSION_COOKIE
    }
}

/// The authenticated caller.
pub struct Caller {
    pub user: UserRow,
    pub token_hash: String,
    pub via_cookie: bool,
    /// When the session ends (ISO-8601).
    pub expires_at: String,
}

/// Where the credentials of a request came from.
enum Credential {
    Header(String),
    Cookie(String),
}

fn credential(cx: &Cx) -> ApiResult<Option<Credential>> {
    if let Some(value) = cx.header("Authorization") {
        let (scheme, token) = value.trim().split_once(' ').ok_or(ApiError::InvalidToken)?;
        let token = token.trim();
        if !(scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
            || token.is_empty()
        {
            return Err(ApiError::InvalidToken);
        }
        return Ok(Some(Credential::Header(token.to_string())));
    }
    Ok(cx
        .cookie(cookie_name(cx))
        .filter(|c| !c.is_empty())
        .map(Credential::Cookie))
}

/// The request's session token hash and whether it came from the cookie, or 401.
/// Cookie-authenticated writes must pass the CSRF rule first.
pub fn session(cx: &Cx) -> ApiResult<(String, bool)> {
    let (token, via_cookie) = match credential(cx)? {
        None => return Err(ApiError::Unauthenticated),
        Some(Credential::Header(t)) => (t, false),
        Some(Credential::Cookie(t)) => (t, true),
    };
    if via_cookie && is_unsafe(&cx.method) {
        check_same_site(cx)?;
    }
    Ok((crypto::token_hash(&token), via_cookie))
}

fn is_unsafe(m: &Method) -> bool {
    !matches!(m, Method::Get | Method::Head | Method::Options)
}

/// The CSRF rule: a browser request that says it comes from another site is
/// refused. `Origin` decides when present (own origin or `ALLOWED_ORIGINS`); otherwise
/// `Sec-Fetch-Site: cross-site` refuses. Non-browser clients send neither and pass.
pub fn check_same_site(cx: &Cx) -> ApiResult<()> {
    if let Some(origin) = cx.header("Origin") {
        let origin = origin.trim().trim_end_matches('/');
        if origin == cx.own_origin() || cx.settings.allowed_origins.iter().any(|o| o == origin) {
            return Ok(());
        }
        return Err(ApiError::ForbiddenBecause(
            "CSRF Failed: Origin checking failed - the request's Origin is not a trusted origin.",
        ));
    }
    if cx
        .header("Sec-Fetch-Site")
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("cross-site"))
    {
        return Err(ApiError::ForbiddenBecause(
            "CSRF Failed: cross-site request refused.",
        ));
    }
    Ok(())
}

/// The caller's session, for statements that resolve it in SQL.
pub struct SessionRef<'a> {
    pub token_hash: &'a str,
    pub now: &'a str,
}

impl SessionRef<'_> {
    /// The session's holder as the viewer of a page.
    pub fn viewer(&self) -> Viewer {
        Viewer::Session {
            token_hash: self.token_hash.to_string(),
            now: self.now.to_string(),
        }
    }
}

/// The caller, or 401.
pub async fn authenticate(cx: &Cx) -> ApiResult<Caller> {
    Ok(authenticate_with(cx, |_, _| Ok(())).await?.0)
}

/// `authenticate`, with the handler's own reads in the same round trip: `reads` pushes them
/// into the batch (it may resolve the caller in SQL through the session) and returns their
/// handles. They run whoever asks, so they must only read, and the handler may use what they
/// return only once this returned Ok (401 otherwise).
pub async fn authenticate_with<R>(
    cx: &Cx,
    reads: impl FnOnce(&mut Batch, &SessionRef) -> ApiResult<R>,
) -> ApiResult<(Caller, R, Results)> {
    let (token_hash, via_cookie) = session(cx)?;
    let now = time::now_iso();
    let mut b = Batch::new(&cx.db);
    let user = users::by_session(&mut b, &token_hash, &now)?;
    let handles = reads(
        &mut b,
        &SessionRef {
            token_hash: &token_hash,
            now: &now,
        },
    )?;
    let res = b.run().await?;
    let session = res.first(user)?.ok_or(ApiError::InvalidToken)?;
    cx.authenticated.set(true);
    let caller = Caller {
        user: session.user,
        token_hash,
        via_cookie,
        expires_at: session.expires_at,
    };
    Ok((caller, handles, res))
}

/// `authenticate_with` behind a gate: `reads` also returns a statement over the session whose
/// first row the request needs (a membership, an accessible message); none is 404 (no existence
/// leaks).
pub async fn gated<T: DeserializeOwned, R>(
    cx: &Cx,
    reads: impl FnOnce(&mut Batch, &SessionRef) -> ApiResult<(Rows<T>, R)>,
) -> ApiResult<(Caller, T, R, Results)> {
    let (caller, (gate, handles), res) = authenticate_with(cx, reads).await?;
    let gate = res.first(gate)?.ok_or(ApiError::NotFound)?;
    Ok((caller, gate, handles, res))
}

/// The caller and their membership of `chat_id`, in one round trip: 401 without a valid
/// session, 404 when the chat does not exist or the caller is not a member (403 "Join the
/// room to see messages." for a room's non-member).
pub async fn member(cx: &Cx, chat_id: i64) -> ApiResult<(Caller, MemberChat)> {
    let (caller, chat, (), _) = member_with(cx, chat_id, |_, _| Ok(())).await?;
    Ok((caller, chat))
}

/// `member`, with the handler's own reads in the same round trip (see `authenticate_with`).
pub async fn member_with<R>(
    cx: &Cx,
    chat_id: i64,
    reads: impl FnOnce(&mut Batch, &SessionRef) -> ApiResult<R>,
) -> ApiResult<(Caller, MemberChat, R, Results)> {
    let (caller, (gate, room, handles), res) = authenticate_with(cx, |b, s| {
        let gate = chats::membership_by_session(b, chat_id, s.token_hash, s.now)?;
        let room = rooms::is_room(b, chat_id)?;
        Ok((gate, room, reads(b, s)?))
    })
    .await?;
    match res.first(gate)? {
        Some(chat) => Ok((caller, chat, handles, res)),
        // Rooms are public: a non-member is told to join rather than that there is nothing.
        None if res.first(room)?.is_some() => Err(JOIN_THE_ROOM),
        None => Err(ApiError::NotFound),
    }
}
