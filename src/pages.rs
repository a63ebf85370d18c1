//! The web UI's pages (SPEC §11): the messages page, sign-in, sign-up and sign-out, served by
//! the worker with the API's session cookie and CSRF rule. The page's scripts and styles are
//! Workers static assets built by `make web` (web/build.mjs); the worker reads their hashed
//! names from the build's manifest through the `ASSETS` binding. HTML is written in `html`.

mod demo;
mod html;

use serde::Deserialize;
use worker::{Headers, Method, Response};

use crate::error::{ApiError, ApiResult};
use crate::http::{Cx, Input};
use crate::{accounts, auth};

/// Where signing in leads when `next` is missing or not on this site.
const DEFAULT_NEXT: &str = "/messages/";

/// Pages at paths the API does not own: `/messages/`, the demo site under `/messages/demo/`
/// (demo.rs), `/signup/`, `/logout/` (with or without the trailing slash); anything else is
/// 404.
pub async fn route(cx: &Cx, path: &str) -> ApiResult<Response> {
    let method = (cx.method_known, &cx.method);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (segments.as_slice(), method) {
        (["messages"], (true, Method::Get | Method::Head)) => messages(cx).await,
        (["messages", "demo", rest @ ..], (true, Method::Get | Method::Head)) => {
            demo::route(cx, rest).await
        }
        (["messages", "demo", ..], _) => Err(not_allowed("GET, HEAD")),
        (["signup"], (true, Method::Get)) => signup_form(cx).await,
        (["signup"], (true, Method::Post)) => signup(cx).await,
        (["logout"], (true, Method::Post)) => logout(cx).await,
        (["messages"], _) => Err(not_allowed("GET, HEAD")),
        (["signup"], _) if cx.settings.allow_signup => Err(not_allowed("GET, POST")),
        (["logout"], _) => Err(not_allowed("POST")),
        _ => Err(ApiError::NotFound),
    }
}

fn not_allowed(allow: &str) -> ApiError {
    ApiError::MethodNotAllowed {
        allow: allow.to_string(),
    }
}

/// `GET /messages/` — the messages page for a signed-in user; anyone else is sent to
/// `/login/?next=<this page>` (302).
async fn messages(cx: &Cx) -> ApiResult<Response> {
    match auth::authenticate(cx).await {
        Ok(_) => {}
        Err(ApiError::Unauthenticated | ApiError::InvalidToken) => {
            let here = match cx.url.query() {
                Some(q) => format!("{}?{q}", cx.url.path()),
                None => cx.url.path().to_string(),
            };
            return redirect(
                cx,
                302,
                &format!("/login/?next={}", query_encode(&here)),
                None,
            );
        }
        Err(e) => return Err(e),
    }
    let assets = match manifest(cx).await {
        Some(m) => m,
        None => return page(cx, 503, &html::not_built()),
    };
    page(cx, 200, &html::messages(&assets))
}

/// `GET /login/` — the sign-in form. A visitor who is already signed in goes on to `next`.
pub async fn login_form(cx: &Cx) -> ApiResult<Response> {
    let next = safe_next(cx.query("next").as_deref());
    if cx.cookie(auth::cookie_name(cx)).is_some() && auth::authenticate(cx).await.is_ok() {
        return redirect(cx, 302, &next, None);
    }
    let css = manifest(cx).await.map(|m| m.css);
    let form = html::LoginForm {
        next: &next,
        username: "",
        error: None,
        signup: cx.settings.allow_signup,
    };
    page(cx, 200, &html::login(css.as_deref(), &form))
}

/// `POST /login/` — a browser's form post (a form body, `Accept: text/html`) signs in and goes
/// to a same-site `next` (303), or shows the form again with the reason. Anything else is the
/// API's login alias (JSON answers, SPEC §3), unchanged.
pub async fn login(cx: &Cx) -> ApiResult<Response> {
    if !is_browser_form(cx) {
        return accounts::login(cx).await;
    }
    let mut input = Input::from_form(&cx.body);
    let username = input.opt_string("username").unwrap_or_default();
    let password = input.opt_string("password").unwrap_or_default();
    let next = safe_next(input.opt_string("next").as_deref());
    let css = manifest(cx).await.map(|m| m.css);
    let again = |status: u16, error: &str| {
        let form = html::LoginForm {
            next: &next,
            username: &username,
            error: Some(error),
            signup: cx.settings.allow_signup,
        };
        page(cx, status, &html::login(css.as_deref(), &form))
    };
    if let Err(ApiError::ForbiddenBecause(why)) = auth::check_same_site(cx) {
        return again(403, why);
    }
    if username.trim().is_empty() || password.is_empty() {
        return again(400, "Enter your username and password.");
    }
    match accounts::sign_in(cx, &username, &password).await {
        Ok((_, token)) => redirect(cx, 303, &next, Some(&token)),
        Err(ApiError::TooManyRequests { retry_after_secs }) => {
            let resp = again(
                429,
                &format!(
                    "Too many failed attempts. Try again in {}.",
                    wait_text(retry_after_secs)
                ),
            )?;
            resp.headers()
                .set("Retry-After", &retry_after_secs.to_string())?;
            Ok(resp)
        }
        Err(ApiError::Invalid(_)) => again(
            400,
            "Please enter a correct username and password. Both may be case-sensitive.",
        ),
        Err(e) => Err(e),
    }
}

/// `GET /signup/` (when `ALLOW_SIGNUP`) — the sign-up form.
async fn signup_form(cx: &Cx) -> ApiResult<Response> {
    if !cx.settings.allow_signup {
        return Err(ApiError::NotFound);
    }
    let next = safe_next(cx.query("next").as_deref());
    let css = manifest(cx).await.map(|m| m.css);
    page(
        cx,
        200,
        &html::signup(css.as_deref(), &html::SignupForm::empty(&next)),
    )
}

/// `POST /signup/` — creates the account as `POST /messages/api/auth/register/` does, signs it
/// in and goes to `next` (303); on a refusal the form comes back with each field's message.
async fn signup(cx: &Cx) -> ApiResult<Response> {
    if !cx.settings.allow_signup {
        return Err(ApiError::NotFound);
    }
    let value = |name: &str| -> String {
        url::form_urlencoded::parse(&cx.body)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let next = safe_next(Some(&value("next")));
    let mut form = html::SignupForm::empty(&next);
    form.username = value("username");
    form.email = value("email");
    form.first_name = value("first_name");
    form.last_name = value("last_name");
    let css = manifest(cx).await.map(|m| m.css);
    if let Err(ApiError::ForbiddenBecause(why)) = auth::check_same_site(cx) {
        form.error = Some(why.to_string());
        return page(cx, 403, &html::signup(css.as_deref(), &form));
    }
    if cx.media_type().as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(ApiError::UnsupportedMediaType);
    }
    match accounts::create_account(cx, Input::from_form(&cx.body)).await {
        Ok((_, token)) => redirect(cx, 303, &next, Some(&token)),
        Err(ApiError::Invalid(details)) => {
            form.errors = details;
            page(cx, 400, &html::signup(css.as_deref(), &form))
        }
        Err(e) => Err(e),
    }
}

/// `POST /logout/` — ends this browser's session and goes to `/login/` (303). Signing out
/// twice is not an error; a cross-site post is refused (403), as for every cookie write.
async fn logout(cx: &Cx) -> ApiResult<Response> {
    match accounts::end_session(cx, false).await {
        Ok(()) | Err(ApiError::Unauthenticated | ApiError::InvalidToken) => {}
        Err(e) => return Err(e),
    }
    let resp = redirect(cx, 303, "/login/", None)?;
    resp.headers()
        .append("Set-Cookie", &accounts::session_cookie(cx, "", 0))?;
    Ok(resp)
}

/// A browser submitting an HTML form (as opposed to an API client posting a form).
fn is_browser_form(cx: &Cx) -> bool {
    cx.media_type().as_deref() == Some("application/x-www-form-urlencoded")
        && cx
            .header("Accept")
            .is_some_and(|a| a.to_ascii_lowercase().contains("text/html"))
}

/// `next` when it is a path on this site, else `/messages/`. Refused: other origins, scheme-
/// relative `//host`, backslashes (browsers read `/\host` as `//host`), control characters.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(next) = next.map(str::trim).filter(|n| !n.is_empty()) else {
        return DEFAULT_NEXT.to_string();
    };
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace())
        && next.len() <= 2000;
    if ok {
        next.to_string()
    } else {
        DEFAULT_NEXT.to_string()
    }
}

/// Percent-encodes a path for a query value, keeping `/` readable (as Django's
/// `redirect_to_login` does).
fn query_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn wait_text(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} seconds"),
        60..=119 => "a minute".to_string(),
        _ => format!("{} minutes", secs.div_ceil(60)),
    }
}

/// The hashed file names of the build (web/dist/messages/static/manifest.json).
#[derive(Deserialize)]
pub struct Manifest {
    pub js: String,
    pub css: String,
    #[serde(default)]
    pub preload: Vec<String>,
    /// The demo pages' stylesheet (their made-up site's, not the messages page's).
    #[serde(default)]
    pub demo_css: Option<String>,
}

/// Read through the `ASSETS` binding on every page view: tiny, served locally, and always the
/// build the assets are from. None when the UI was not built (or assets are not configured).
async fn manifest(cx: &Cx) -> Option<Manifest> {
    let assets = cx.env.assets("ASSETS").ok()?;
    let url = format!("{}/messages/static/manifest.json", cx.own_origin());
    let mut resp = assets.fetch(url, None).await.ok()?;
    if resp.status_code() != 200 {
        return None;
    }
    let m: Manifest = resp.json().await.ok()?;
    let ours = |p: &str| p.starts_with("/messages/static/") && !p.contains(['"', '<', '>', '\'']);
    (ours(&m.js)
        && ours(&m.css)
        && m.preload.iter().all(|p| ours(p))
        && m.demo_css.as_deref().is_none_or(ours))
    .then_some(m)
}

/// The Content-Security-Policy of every page: scripts only from this origin (no inline
/// script, no eval), framing only by this site and `ALLOWED_ORIGINS`. Inline styles are
/// allowed for the emoji picker, which styles its shadow DOM with a `<style>` element.
pub fn content_security_policy(own_origin: &str, allowed_origins: &[String]) -> String {
    let ws_origin = own_origin.replacen("http", "ws", 1);
    let mut ancestors = String::from("'self'");
    for o in allowed_origins {
        if !o.contains([';', ',', ' ', '\'', '"']) {
            ancestors.push(' ');
            ancestors.push_str(o);
        }
    }
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: https:; connect-src 'self' {ws_origin}; font-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
    )
}

fn security_headers(cx: &Cx, headers: &Headers) -> ApiResult<()> {
    headers.set(
        "Content-Security-Policy",
        &content_security_policy(&cx.own_origin(), &cx.settings.allowed_origins),
    )?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    headers.set("Referrer-Policy", "same-origin")?;
    // Pages depend on who is signed in: never shared, always revalidated (the scripts and
    // styles they name are cached for a year under hashed names).
    headers.set("Cache-Control", "private, no-cache")?;
    Ok(())
}

fn page(cx: &Cx, status: u16, body: &str) -> ApiResult<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", "text/html; charset=utf-8")?;
    security_headers(cx, &headers)?;
    let body = if cx.method == Method::Head {
        String::new()
    } else {
        body.to_string()
    };
    Ok(Response::ok(body)?
        .with_status(status)
        .with_headers(headers))
}

/// A redirect to a path on this site, optionally signing the browser in.
fn redirect(cx: &Cx, status: u16, location: &str, token: Option<&str>) -> ApiResult<Response> {
    let headers = Headers::new();
    headers.set("Location", location)?;
    security_headers(cx, &headers)?;
    if let Some(token) = token {
        headers.append(
            "Set-Cookie",
            &accounts::session_cookie(cx, token, cx.settings.session_ttl_seconds),
        )?;
    }
    Ok(Response::empty()?.with_status(status).with_headers(headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_must_be_a_path_on_this_site() {
        assert_eq!(safe_next(Some("/messages/?chat=4")), "/messages/?chat=4");
        assert_eq!(safe_next(Some("/x")), "/x");
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "evil.example",
            "/a\nLocation: x",
            "/\tevil",
            " //evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/messages/", "{bad:?} is refused");
        }
        assert_eq!(safe_next(None), "/messages/");
    }

    #[test]
    fn the_login_redirect_keeps_the_page_and_its_query() {
        assert_eq!(query_encode("/messages/"), "/messages/");
        assert_eq!(
            query_encode("/messages/?chat=5&x=a b"),
            "/messages/%3Fchat%3D5%26x%3Da%20b"
        );
    }

    #[test]
    fn the_policy_allows_no_inline_script_and_frames_only_by_allowed_origins() {
        let csp = content_security_policy(
            "https://chat.example",
            &["https://app.example".into(), "bad; script-src *".into()],
        );
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(!csp.contains("unsafe-eval"), "{csp}");
        assert!(
            csp.ends_with("frame-ancestors 'self' https://app.example"),
            "{csp}"
        );
        assert!(
            csp.contains("connect-src 'self' wss://chat.example"),
            "{csp}"
        );
    }

    #[test]
    fn waits_read_as_a_person_would_say_them() {
        assert_eq!(wait_text(30), "30 seconds");
        assert_eq!(wait_text(60), "a minute");
        assert_eq!(wait_text(900), "15 minutes");
    }
}
