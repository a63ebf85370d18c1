//! Security hardening through a real local worker (docs/security.md): sessions whose end
//! closes their sockets, login CSRF, registration limits, no D1 work for made-up credentials,
//! chat ids never reused, bounded sockets and frames.

mod common;

use std::time::Duration;

use common::{shared, ws_json, ws_next, ws_send, App, Frame, Worker};
use reqwest::Method;
use serde_json::json;

/// A member's token for the big chat seeded below (sessions store the token's SHA-256).
const BIG_TOKEN: &str = "security-big-chat-member";
const BIG_CHAT: i64 = 424_242;
const BIG_MESSAGES: i64 = 3_000;

fn seed() -> String {
    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(BIG_TOKEN.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "INSERT INTO users (id, username, username_lower, password, date_joined)
           VALUES (900001, 'bigowner', 'bigowner', '!', '2025-01-01T00:00:00.000Z');
         INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
           VALUES ('{hash}', 900001, '2025-01-01T00:00:00.000Z', '2999-01-01T00:00:00.000Z');
         INSERT INTO chats (id, chat_type, title, created_by, created_at, updated_at, last_activity_at)
           VALUES ({BIG_CHAT}, 'group', 'Big', 900001, '2025-01-01T00:00:00.000Z',
                   '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z');
         INSERT INTO chat_members (chat_id, user_id, is_admin, joined_at)
           VALUES ({BIG_CHAT}, 900001, 1, '2025-01-01T00:00:00.000Z');
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {BIG_MESSAGES})
         INSERT INTO messages (chat_id, seq, sender_id, content, created_at, updated_at)
           SELECT {BIG_CHAT}, i, 900001, 'm' || i, '2025-01-01T00:00:00.000Z',
                  '2025-01-01T00:00:00.000Z' FROM n;"
    )
}

fn app() -> App {
    App::new(shared(
        "security",
        &[
            ("SERVER_TIMING_ALWAYS", "true"),
            ("REGISTRATIONS_PER_ADDRESS", "5"),
            ("MAX_SOCKETS_PER_USER", "3"),
        ],
        &seed(),
    ))
}

const WAIT: Duration = Duration::from_secs(2);

/// `d1rows` of a response's Server-Timing.
fn rows(r: &common::Resp) -> u64 {
    let h = r.header("server-timing").expect("Server-Timing");
    let metric = h
        .split(',')
        .map(str::trim)
        .find(|m| m.starts_with("d1rows;"))
        .unwrap_or_else(|| panic!("d1rows in {h}"));
    metric
        .split_once("desc=\"")
        .and_then(|(_, v)| v.trim_end_matches('"').parse().ok())
        .unwrap_or_else(|| panic!("a number in {metric}"))
}

/// The socket closes with 4403 within `WAIT`, having received nothing before that.
async fn closes_with_nothing_before(ws: &mut common::Ws, why: &str) {
    match ws_next(ws, WAIT).await {
        Frame::Closed(code) => assert_eq!(code, Some(4403), "{why}: close code"),
        other => panic!("{why}: expected the socket to close, got {other:?}"),
    }
}

#[tokio::test]
async fn logging_out_closes_that_sessions_sockets_at_once() {
    let app = app();
    let [a, b] = app.users(["loa", "lob"]).await;
    let chat = app.group(&a, "Logout", &[&b]).await["id"].as_i64().unwrap();
    let mut wa = app.ws(chat, &a.token, "").await;
    let mut wb = app.ws(chat, &b.token, "").await;
    let r = app
        .call(
            Method::POST,
            "/messages/api/auth/logout/",
            Some(&a.token),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    app.send(&b, chat, "after the logout").await;
    closes_with_nothing_before(&mut wa, "the logged-out socket").await;
    let f = ws_json(&mut wb, WAIT, "b still hears").await;
    assert_eq!(f["type"], "new_message", "other sessions are untouched");
}

#[tokio::test]
async fn logout_all_closes_the_sockets_of_every_session() {
    let app = app();
    let [a, b] = app.users(["laa", "lab"]).await;
    let second = app
        .call(
            Method::POST,
            "/messages/api/auth/login/",
            None,
            Some(json!({"username": a.username, "password": common::PASSWORD})),
        )
        .await;
    assert_eq!(second.status, 200);
    let other_token = second.body["token"].as_str().unwrap().to_string();
    let one = app.group(&a, "One", &[&b]).await["id"].as_i64().unwrap();
    let two = app.group(&a, "Two", &[&b]).await["id"].as_i64().unwrap();
    let mut w1 = app.ws(one, &a.token, "").await;
    let mut w2 = app.ws(two, &other_token, "").await;
    let r = app
        .call(
            Method::POST,
            "/messages/api/auth/logout-all/",
            Some(&a.token),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    app.send(&b, one, "after").await;
    app.send(&b, two, "after").await;
    closes_with_nothing_before(&mut w1, "this session's socket").await;
    closes_with_nothing_before(&mut w2, "the other session's socket").await;
    let me = app.get("/messages/api/auth/me/", &other_token).await;
    assert_eq!(me.status, 401, "every session is revoked");
}

#[tokio::test]
async fn a_session_that_expires_while_its_socket_is_silent_loses_the_socket() {
    let short = Worker::start("security-ttl", &[("SESSION_TTL_SECONDS", "5")], "");
    let app = App::new(&short);
    let [a, b] = app.users(["exa", "exb"]).await;
    let chat = app.group(&a, "Expiring", &[&b]).await["id"]
        .as_i64()
        .unwrap();
    let mut wa = app.ws(chat, &a.token, "").await;
    // The session ends 5 s after registration; the room's alarm closes the socket then.
    match ws_next(&mut wa, Duration::from_secs(9)).await {
        Frame::Closed(code) => assert_eq!(code, Some(4403)),
        other => panic!("expected the expired session's socket to close, got {other:?}"),
    }
}

#[tokio::test]
async fn cross_site_logins_and_registrations_are_refused_without_a_cookie() {
    let app = app();
    let u = app.user("csrf").await;
    let r = app
        .http
        .post(app.url("/login/"))
        .header("Origin", "https://evil.example")
        .form(&[
            ("username", u.username.as_str()),
            ("password", common::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let r = App::read(r).await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("CSRF"));
    assert!(r.header("set-cookie").is_none(), "no session is started");
    let r = app
        .http
        .post(app.url("/messages/api/auth/login/"))
        .header("Sec-Fetch-Site", "cross-site")
        .json(&json!({"username": u.username, "password": common::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "Sec-Fetch-Site: cross-site too");
    let r = app
        .http
        .post(app.url("/messages/api/auth/register/"))
        .header("Origin", "https://evil.example")
        .json(&json!({"username": common::unique("csrfreg"), "password": common::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "and registration");
}

#[tokio::test]
async fn registrations_are_limited_per_address() {
    let app = app();
    let register = |n: usize| {
        let body = json!({"username": common::unique(&format!("burst{n}x")), "password": common::PASSWORD});
        app.http
            .post(app.url("/messages/api/auth/register/"))
            .header("CF-Connecting-IP", "10.250.0.1")
            .json(&body)
            .send()
    };
    for n in 0..5 {
        assert_eq!(register(n).await.unwrap().status(), 201, "registration {n}");
    }
    let r = register(5).await.unwrap();
    assert_eq!(r.status(), 429, "REGISTRATIONS_PER_ADDRESS is 5 here");
    assert!(r.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn a_made_up_credential_reads_nothing_but_its_session_lookup() {
    let app = app();
    let path = format!("/messages/api/chats/{BIG_CHAT}/messages/?page=50");
    let member = app.get(&path, BIG_TOKEN).await;
    assert_eq!(member.status, 200, "{:?}", member.body);
    let fake = app.get(&path, "made-up-token").await;
    assert_eq!(fake.status, 401);
    println!(
        "rows read: member {} (page 50 of a {BIG_MESSAGES}-message chat), made-up token {}",
        rows(&member),
        rows(&fake)
    );
    assert!(rows(&member) >= 50, "the member's page reads its rows");
    // Every statement of the batch looks the session up (a row or none each), and stops there.
    assert!(
        rows(&fake) <= 8,
        "a made-up token reads its session lookups only: {} rows",
        rows(&fake)
    );
    let search = app
        .get("/messages/api/users/search/?q=a", "made-up-token")
        .await;
    assert_eq!(search.status, 401);
    assert!(rows(&search) <= 8, "no user scan: {} rows", rows(&search));
    let plain = app.call(Method::GET, &path, None, None).await;
    assert_eq!(plain.status, 401);
}

#[tokio::test]
async fn refusals_carry_no_server_timing_by_default() {
    let worker = Worker::start("security-timing", &[], "");
    let app = App::new(&worker);
    let r = app
        .get("/messages/api/chats/1/messages/", "made-up-token")
        .await;
    assert_eq!(r.status, 401);
    assert!(
        r.header("server-timing").is_none(),
        "nothing about what exists"
    );
    let u = app.user("timed").await;
    let r = app.get("/messages/api/chats/", &u.token).await;
    assert!(
        r.header("server-timing").is_some(),
        "authenticated answers report their cost"
    );
}

#[tokio::test]
async fn a_deleted_newest_chat_s_id_is_never_reused() {
    let app = app();
    let [a, b] = app.users(["ida", "idb"]).await;
    let first = app.group(&a, "First", &[&b]).await["id"].as_i64().unwrap();
    let r = app
        .delete(&format!("/messages/api/chats/{first}/"), &a.token)
        .await;
    assert_eq!(r.status, 204);
    let second = app.group(&a, "Second", &[&b]).await["id"].as_i64().unwrap();
    assert!(second > first, "{second} after the deleted {first}");
    // The last member leaving deletes the chat too.
    let solo = app.group(&a, "Solo", &[]).await["id"].as_i64().unwrap();
    assert_eq!(app.remove_member(&a, solo, a.id).await.status, 204);
    let third = app.group(&a, "Third", &[&b]).await["id"].as_i64().unwrap();
    assert!(third > solo, "{third} after the deleted {solo}");
}

#[tokio::test]
async fn a_user_holds_a_bounded_number_of_sockets_per_chat() {
    let app = app();
    let [a, b] = app.users(["soa", "sob"]).await;
    let chat = app.group(&a, "Sockets", &[&b]).await["id"]
        .as_i64()
        .unwrap();
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(app.ws(chat, &a.token, "").await);
    }
    let refused = app
        .ws_with(
            &format!("/messages/api/chats/{chat}/ws/"),
            &[("Authorization", format!("Bearer {}", a.token))],
        )
        .await;
    assert_eq!(
        refused.err().map(|e| e.0),
        Some(429),
        "MAX_SOCKETS_PER_USER is 3 here"
    );
    drop(open);
}

#[tokio::test]
async fn a_socket_flooding_typing_frames_is_slowed_down() {
    let app = app();
    let [a, b] = app.users(["fla", "flb"]).await;
    let chat = app.group(&a, "Flood", &[&b]).await["id"].as_i64().unwrap();
    let mut wa = app.ws(chat, &a.token, "").await;
    for i in 0..30 {
        ws_send(&mut wa, json!({"type": "typing", "is_typing": i % 2 == 0})).await;
    }
    let mut refused = 0;
    while let Frame::Json(f) = ws_next(&mut wa, Duration::from_millis(1500)).await {
        if f["type"] == "error" && f["detail"].as_str().unwrap_or("").contains("throttled") {
            refused += 1;
        }
    }
    assert!(
        refused >= 10,
        "a burst of 10, then refusals: {refused} refused of 30"
    );
}
