//! The demo pages (SPEC §11): a small made-up site at `/messages/demo/` that uses the widgets
//! exactly as any site would — plain HTML, its own stylesheet, one
//! `<script src="/messages/static/embed.js" defer>` and the widgets' data attributes — so a
//! newcomer on `make dev` can try both:
//!
//! - `/messages/demo/`: the people of this server (signed-in visitors only: it is a user
//!   directory) and a few content pages, and a link to the messages page;
//! - `/messages/demo/people/{id}/`: a person's page with the DM widget;
//! - `/messages/demo/rooms/{key}/`: a content page with its own room widget. Any key makes a
//!   page (and, once someone joins, a room), so tests and people can make fresh rooms;
//! - `/messages/demo/site/` and `/messages/demo/site/{person}/`: host-site sign-in (SPEC §3)
//!   with `SSO_DEMO` on. The page plays a site with its own accounts: its "backend" (this
//!   worker, with the published demo key) signs a token for the person picked, and the embed
//!   script's `data-token` exchanges it for a session before the widgets load.

use worker::Response;

use super::html::esc;
use super::{manifest, page};
use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::http::Cx;
use crate::jwt::{self, DEMO_PREFIX};
use crate::storage::users::{self, UserRow};
use crate::time;
use crate::views::UserSummary;

/// How many people the index lists.
const PEOPLE: u32 = 50;
/// Longest room key a demo URL may carry (the API allows 200).
const MAX_KEY: usize = 64;

/// The content pages the index offers: key, title, what kind of page, its text.
const CONTENT: &[(&str, &str, &str, &str)] = &[
    (
        "launch-video",
        "Launch video: Edge Messaging in 90 seconds",
        "Video",
        "A short tour of chats, rooms and the widgets. Discuss it with everyone else watching: \
         the room beside the video has a live member count, and joining takes one click.",
    ),
    (
        "meetup-berlin",
        "Community meetup, Berlin",
        "Event",
        "Thursday, 18:30, at the usual place. Use the room to ask about the venue, share \
         slides, or find people to go with.",
    ),
    (
        "release-notes-1-0",
        "Release notes 1.0",
        "Article",
        "Public rooms, embeddable widgets, a user stream and a polling transport. Questions and \
         feedback welcome in the room below.",
    ),
];

/// The demo site's own accounts (host-site sign-in): slug (their `sub` is `demo:<slug>`), name.
const SITE_PEOPLE: &[(&str, &str)] = &[
    ("ada", "Ada Lovelace"),
    ("grace", "Grace Hopper"),
    ("alan", "Alan Turing"),
];

/// The room the demo site's people meet in.
const SITE_ROOM: (&str, &str) = ("demo-site-lounge", "Site lounge");

/// `GET /messages/demo/...` — `rest` is the path after `/messages/demo/`.
pub async fn route(cx: &Cx, rest: &[&str]) -> ApiResult<Response> {
    match rest {
        [] | [""] => index(cx).await,
        ["people", id] => {
            let id = crate::http::path_id(id).map_err(|_| ApiError::NotFound)?;
            person(cx, id).await
        }
        ["rooms", key] if valid_key(key) => room(cx, key).await,
        ["site"] | ["site", ""] => site(cx, None).await,
        ["site", slug] => match SITE_PEOPLE.iter().find(|(s, _)| s == slug) {
            Some(person) => site(cx, Some(*person)).await,
            None => Err(ApiError::NotFound),
        },
        _ => Err(ApiError::NotFound),
    }
}

/// Letters, digits and `._:-`, at most `MAX_KEY`: a key that is the same in the URL, the
/// HTML attribute and the API.
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))
}

/// The signed-in visitor and the rows `read` asked for, or None for anonymous visitors.
async fn visitor<R>(
    cx: &Cx,
    read: impl FnOnce(&mut crate::storage::Batch, &auth::SessionRef) -> ApiResult<R>,
) -> ApiResult<Option<(UserRow, R, crate::storage::Results)>> {
    if cx.cookie(auth::cookie_name(cx)).is_none() && cx.header("Authorization").is_none() {
        return Ok(None);
    }
    match auth::authenticate_with(cx, read).await {
        Ok((caller, r, res)) => Ok(Some((caller.user, r, res))),
        Err(ApiError::Unauthenticated | ApiError::InvalidToken) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `GET /messages/demo/` — people and content pages.
async fn index(cx: &Cx) -> ApiResult<Response> {
    let v = visitor(cx, |b, s| users::newest(b, &s.viewer(), PEOPLE)).await?;
    let (me, people) = match v {
        Some((me, rows, res)) => {
            let people = res.all(rows)?;
            (Some(me), people)
        }
        None => (None, Vec::new()),
    };
    let people_html = match &me {
        None => format!(
            r#"<p class="note">Sign in to see who is here: the people list is for members. <a href="{}">Sign in</a></p>"#,
            esc(&login_href("/messages/demo/"))
        ),
        Some(me) => {
            let mut li = String::new();
            for u in &people {
                let s = UserSummary::of(u);
                let you = if u.id == me.id {
                    r#" <span class="tag">you</span>"#
                } else {
                    ""
                };
                li.push_str(&format!(
                    r#"<li class="person-card"><a href="/messages/demo/people/{id}/"><img src="{avatar}" alt="" width="40" height="40"><span><strong>{name}{you}</strong><small>@{username}</small></span></a></li>"#,
                    id = s.id,
                    avatar = esc(&s.avatar_url),
                    name = esc(&s.display_name),
                    username = esc(&s.username),
                ));
            }
            format!(r#"<ul class="people">{li}</ul>"#)
        }
    };
    let mut pages = String::new();
    for (key, title, kind, text) in CONTENT {
        pages.push_str(&format!(
            r#"<li class="content-card"><a href="/messages/demo/rooms/{key}/"><span class="kind">{kind}</span><strong>{title}</strong><small>{text}</small></a></li>"#,
            key = esc(key),
            kind = esc(kind),
            title = esc(title),
            text = esc(text),
        ));
    }
    let body = format!(
        r#"<section class="hero">
<h1>A site with messaging built in</h1>
<p>These pages are a made-up site. Each uses the widgets exactly as your site would: one script tag and a <code>data-</code> attribute. Open a person to message them, or a page to talk in its room. Everything also shows up in <a href="/messages/">your messages</a>.</p>
</section>
<section>
<h2>People</h2>
{people_html}
</section>
<section id="pages">
<h2>Pages with a discussion room</h2>
<ul class="contents">{pages}</ul>
<p class="note">Any address of the form <code>/messages/demo/rooms/&lt;key&gt;/</code> is a page with its own room.</p>
</section>
<section id="site">
<h2>A site with its own accounts</h2>
<p>Sites that already have users sign them in with a token their backend signs: no second account. <a href="/messages/demo/site/">Try it as one of the demo site's people</a>.</p>
</section>"#
    );
    demo_page(cx, "Demo site", me.as_ref(), "/messages/demo/", &body).await
}

/// `GET /messages/demo/people/{id}/` — a profile page with the DM widget.
async fn person(cx: &Cx, id: i64) -> ApiResult<Response> {
    let here = format!("/messages/demo/people/{id}/");
    let v = visitor(cx, |b, s| users::by_id(b, id, &s.viewer())).await?;
    let body = match &v {
        // Anonymous visitors see no name: the widget offers to sign in.
        None => r#"<article class="profile">
<div class="profile-head"><span class="avatar-blank" aria-hidden="true"></span><div><h1>A member of this site</h1><p class="muted">Sign in to see who this is and to message them.</p></div></div>
</article>"#
            .to_string(),
        Some((me, rows, res)) => {
            let found = res.all(*rows)?;
            let Some(u) = found.first() else {
                return Err(ApiError::NotFound);
            };
            let s = UserSummary::of(u);
            let note = if u.id == me.id {
                r#"<p class="note">This is you. The message button shows on other people's pages.</p>"#
            } else {
                ""
            };
            format!(
                r#"<article class="profile">
<div class="profile-head"><img src="{avatar}" alt="" width="72" height="72"><div><h1>{name}</h1><p class="muted">@{username}</p></div></div>
<p>{name} is a member of this site. The button in the corner opens a conversation with them, without leaving this page; it shows up in both your messages too.</p>
{note}
</article>"#,
                avatar = esc(&s.avatar_url),
                name = esc(&s.display_name),
                username = esc(&s.username),
            )
        }
    };
    let widget = format!(r#"<div data-messaging-dm="{id}"></div>"#);
    let me = v.map(|(me, _, _)| me);
    demo_page(
        cx,
        "A person",
        me.as_ref(),
        &here,
        &format!("{body}\n{widget}"),
    )
    .await
}

/// `GET /messages/demo/rooms/{key}/` — a content page with its room.
async fn room(cx: &Cx, key: &str) -> ApiResult<Response> {
    let here = format!("/messages/demo/rooms/{key}/");
    let v = visitor(cx, |_, _| Ok(())).await?;
    let me = v.map(|(me, _, _)| me);
    let (title, kind, text) = CONTENT
        .iter()
        .find(|(k, ..)| *k == key)
        .map(|(_, t, k, x)| (t.to_string(), *k, *x))
        .unwrap_or_else(|| {
            (
                format!("Page “{key}”"),
                "Page",
                "Any key makes a page with its own room: share the address to talk about it.",
            )
        });
    let body = format!(
        r#"<div class="content-layout">
<article class="content">
<span class="kind">{kind}</span>
<h1>{title}</h1>
<div class="media" aria-hidden="true"><span>▶</span></div>
<p>{text}</p>
<p class="muted">Room key: <code>{key}</code></p>
</article>
<aside class="discussion">
<div data-messaging-room="{key}" data-title="{title}"></div>
</aside>
</div>"#,
        kind = esc(kind),
        title = esc(&title),
        text = esc(text),
        key = esc(key),
    );
    demo_page(cx, &title, me.as_ref(), &here, &body).await
}

fn login_href(next: &str) -> String {
    let q: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    format!("/login/?next={q}")
}

/// The site's frame: its header (who is signed in), the body, and the embed script.
async fn demo_page(
    cx: &Cx,
    title: &str,
    me: Option<&UserRow>,
    here: &str,
    body: &str,
) -> ApiResult<Response> {
    let css = manifest(cx).await.and_then(|m| m.demo_css);
    let who = match me {
        Some(me) => {
            let s = UserSummary::of(me);
            format!(
                r#"<span class="who">Signed in as <strong>{}</strong></span><form method="post" action="/logout/"><button type="submit" class="link">Sign out</button></form>"#,
                esc(&s.display_name)
            )
        }
        None => format!(
            r#"<a class="button" href="{}">Sign in</a>"#,
            esc(&login_href(here))
        ),
    };
    page(cx, 200, &layout(title, css.as_deref(), &who, body, None))
}

/// `GET /messages/demo/site/` (who to be) and `/messages/demo/site/{slug}/` (signed in to the
/// site as them): host-site sign-in with the published demo key, when `SSO_DEMO` is on.
async fn site(cx: &Cx, person: Option<(&str, &str)>) -> ApiResult<Response> {
    let css = manifest(cx).await.and_then(|m| m.demo_css);
    let title = "A site with its own accounts";
    let pick: String = SITE_PEOPLE
        .iter()
        .map(|(slug, name)| {
            format!(r#"<li><a class="button" href="/messages/demo/site/{slug}/">Sign in to the site as {name}</a></li>"#)
        })
        .collect();
    let warning = r#"<p class="note warning"><strong>Demo key.</strong> This page plays a site's backend with the <em>published</em> demo key (<code>SSO_DEMO</code>; it signs in <code>demo:</code> people only). Never turn it on in production: a real site signs with its own secret, which never reaches a browser.</p>"#;
    if !cx.settings.sso_demo {
        let body = format!(
            r#"<section class="hero"><h1>{title}</h1>
<p>This demo needs the demo key, which is off: start the worker with <code>VARS="SSO_DEMO:true" make dev</code> (<code>make dev</code> turns it on by default).</p>{warning}</section>"#
        );
        return page(cx, 200, &layout(title, css.as_deref(), "", &body, None));
    }
    let Some((slug, name)) = person else {
        let body = format!(
            r#"<section class="hero"><h1>{title}</h1>
<p>Here the site's own sign-in decides who you are. Pick one of its people: the page its backend renders carries a token for them (<code>data-token</code> on the script tag), and the widgets sign in with it before anything else.</p>{warning}</section>
<section><h2>The site's people</h2><ul class="site-people">{pick}</ul></section>"#
        );
        return page(cx, 200, &layout(title, css.as_deref(), "", &body, None));
    };
    let token = jwt::demo_token(slug, name, &cx.settings.sso_audience, time::now_secs());
    let others: Vec<String> = SITE_PEOPLE
        .iter()
        .filter(|(s, _)| *s != slug)
        .map(|(s, _)| format!("{DEMO_PREFIX}{s}"))
        .collect();
    let known = users::by_subjects(&cx.db, &others).await?;
    let mut people = String::new();
    for (s, n) in SITE_PEOPLE.iter().filter(|(s, _)| *s != slug) {
        let sub = format!("{DEMO_PREFIX}{s}");
        people.push_str(&match known.iter().find(|u| u.sso_subject == sub) {
            Some(u) => format!(
                r#"<li class="person-card"><a href="/messages/demo/people/{id}/"><span><strong>{n}</strong><small>Message {n}</small></span></a></li>"#,
                id = u.id
            ),
            None => format!(
                r#"<li class="person-card"><span><strong>{n}</strong><small>Has not visited yet: open <a href="/messages/demo/site/{s}/">their page</a> in another browser.</small></span></li>"#
            ),
        });
    }
    let (key, room_title) = SITE_ROOM;
    let body = format!(
        r#"<div class="content-layout">
<article class="content">
<span class="kind">Host-site sign-in</span>
<h1>Signed in to the site as {name}</h1>
<p>The site's backend signed a token for <code>demo:{slug}</code> ({name}) and put it on the embed script's <code>data-token</code>. The widgets exchanged it at <code>POST /messages/api/auth/sso/</code> for a session before loading: the room beside this text, the message buttons and <a href="/messages/">the messages page</a> all know you as {name}, with no second account.</p>
{warning}
<h2>The site's other people</h2>
<ul class="people">{people}</ul>
<p><a href="/messages/demo/site/">Switch person</a></p>
</article>
<aside class="discussion">
<div data-messaging-room="{key}" data-title="{room_title}"></div>
</aside>
</div>"#
    );
    let who = format!(r#"<span class="who">Site account: <strong>{name}</strong></span>"#);
    let mut res = page(
        cx,
        200,
        &layout(title, css.as_deref(), &who, &body, Some(&token)),
    )?;
    // The page holds a credential: never kept, not even by this browser.
    res.headers_mut().set("Cache-Control", "no-store")?;
    Ok(res)
}

/// A whole demo page: the stylesheet, the embed script (the only script: no inline one) with
/// a host site's sign-in `token`, the header with `session`, and `body`.
fn layout(
    title: &str,
    css: Option<&str>,
    session: &str,
    body: &str,
    token: Option<&str>,
) -> String {
    let css = css
        .map(|href| format!(r#"<link rel="stylesheet" href="{}">"#, esc(href)))
        .unwrap_or_default();
    let token = token
        .map(|t| format!(r#" data-token="{}""#, esc(t)))
        .unwrap_or_default();
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>{title} · Demo site</title>
{css}
<script src="/messages/static/embed.js"{token} defer></script>
</head>
<body>
<header class="site-header">
<a class="brand" href="/messages/demo/">Demo site</a>
<nav><a href="/messages/demo/">People</a><a href="/messages/demo/#pages">Pages</a><a href="/messages/">Messages</a></nav>
<div class="session">{session}</div>
</header>
<main class="site-main">
{body}
</main>
<footer class="site-footer">A demo of Edge Messaging's widgets: <code>&lt;script src="/messages/static/embed.js" defer&gt;</code> plus <code>data-messaging-dm</code> or <code>data-messaging-room</code>.</footer>
</body>
</html>
"#,
        title = esc(title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_demo_page_has_the_embed_script_and_no_other() {
        let html = layout(
            "<b>x</b>",
            Some("/messages/static/demo-1.css"),
            "",
            r#"<div data-messaging-room="k"></div>"#,
            None,
        );
        assert_eq!(html.matches("<script").count(), 1, "{html}");
        assert!(html.contains(r#"<script src="/messages/static/embed.js" defer></script>"#));
        assert!(
            html.contains("&lt;b&gt;x&lt;/b&gt; · Demo site"),
            "titles are text"
        );
        assert!(html.contains(r#"<link rel="stylesheet" href="/messages/static/demo-1.css">"#));
    }

    #[test]
    fn a_host_sites_token_rides_on_the_embed_script() {
        let html = layout("t", None, "", "", Some("a.b\"c"));
        assert!(
            html.contains(
                r#"<script src="/messages/static/embed.js" data-token="a.b&quot;c" defer></script>"#
            ),
            "{html}"
        );
    }

    #[test]
    fn room_keys_are_plain_and_short() {
        for ok in ["launch-video", "video:42", "a", "A.b_c-9", &"k".repeat(64)] {
            assert!(valid_key(ok), "{ok}");
        }
        for bad in ["", "a b", "a/b", "<x>", "%3Cx%3E", "é", &"k".repeat(65)] {
            assert!(!valid_key(bad), "{bad}");
        }
    }
}
