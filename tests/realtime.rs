//! Real time through a real local worker (SPEC §6): the chat socket's refusals, typing (socket
//! and REST) and its expiry, client frames, resume with `since`, revoked sessions.
//!
//! Chats, members, sessions and event-log rows are seeded as SQL before the worker starts:
//! chat `n` (1..=30) has members `user(n, 1..=3)`; `user(n, 4)` exists but is no member.
//! Each test owns its chat, so tests run in parallel on one worker.

mod common;

use std::fmt::Write as _;
use std::time::Duration;

use common::{ws_json, ws_next, ws_send, ws_send_text, ws_silent, App, Frame};
use serde_json::json;
use sha2::{Digest, Sha256};

const CHATS: i64 = 30;
/// Typing expiry used by this worker (SPEC default 6 s, shortened to keep tests quick).
const TYPING_TIMEOUT: u64 = 2;

fn user(chat: i64, k: i64) -> i64 {
    100_000 + chat * 10 + k
}

fn token(user_id: i64) -> String {
    format!("rt-token-{user_id}")
}

fn token_hash(t: &str) -> String {
    Sha256::digest(t.as_bytes())
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Chat 29: events 1..=5 retained. Chat 30: last_seq 5, only 3..=5 retained (1, 2 pruned).
fn seed() -> String {
    let mut sql = String::new();
    let now = "2025-01-01T00:00:00.000Z";
    for chat in 1..=CHATS {
        let _ = writeln!(
            sql,
            "INSERT INTO chats (id, chat_type, title, created_at, updated_at, last_activity_at)
             VALUES ({chat}, 'group', 'rt {chat}', '{now}', '{now}', '{now}');"
        );
        for k in 1..=4 {
            let u = user(chat, k);
            let _ = writeln!(
                sql,
                "INSERT INTO users (id, username, username_lower, password, search_text, date_joined)
                 VALUES ({u}, 'rt{u}', 'rt{u}', 'x', 'rt{u}', '{now}');
                 INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
                 VALUES ('{}', {u}, '{now}', '2999-01-01T00:00:00.000Z');",
                token_hash(&token(u))
            );
            if k <= 3 {
                let _ = writeln!(
                    sql,
                    "INSERT INTO chat_members (chat_id, user_id, is_admin, joined_at)
                     VALUES ({chat}, {u}, {}, '{now}');",
                    (k == 1) as i64
                );
            }
        }
    }
    for (chat, first) in [(29, 1), (30, 3)] {
        let _ = writeln!(sql, "UPDATE chats SET last_seq = 5 WHERE id = {chat};");
        for seq in first..=5 {
            let _ = writeln!(
                sql,
                // As storage/messages.rs::mark_read logs it: the new pointer in message_id.
                "INSERT INTO chat_events (chat_id, seq, type, message_id, user_id, created_at)
                 VALUES ({chat}, {seq}, 'read_receipt', {seq}, {}, '{now}');",
                user(chat, 2)
            );
        }
    }
    sql
}

fn app() -> App {
    static SEED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let seed = SEED.get_or_init(seed);
    App::new(common::shared(
        "realtime",
        &[
            ("TYPING_TIMEOUT_SECONDS", "2"),
            ("ALLOWED_ORIGINS", "https://app.example.com"),
        ],
        seed,
    ))
}

fn ws_path(chat: i64) -> String {
    format!("/messages/api/chats/{chat}/ws/")
}

const SHORT: Duration = Duration::from_millis(700);
const LONG: Duration = Duration::from_secs(5);

#[tokio::test]
async fn anonymous_upgrade_is_401() {
    let app = app();
    let err = app.ws_with(&ws_path(1), &[]).await.expect_err("refused");
    assert_eq!(err.0, 401, "anonymous: {:?}", err.1);
    let bad = app
        .ws_with(&ws_path(1), &[("Authorization", "Bearer nope".into())])
        .await
        .expect_err("refused");
    assert_eq!(bad.0, 401, "unknown token: {:?}", bad.1);
}

#[tokio::test]
async fn non_member_upgrade_is_404_like_a_missing_chat() {
    let app = app();
    let outsider = token(user(2, 4));
    let auth = [("Authorization", format!("Bearer {outsider}"))];
    let err = app.ws_with(&ws_path(2), &auth).await.expect_err("refused");
    assert_eq!(err.0, 404, "non-member: {:?}", err.1);
    let plain = app.get(&ws_path(2), &outsider).await;
    assert_eq!(plain.status, 404, "checked before the upgrade");
    assert_eq!(plain.body, json!({"detail": "Not found."}));
    let missing = app
        .ws_with(&ws_path(999_999), &auth)
        .await
        .expect_err("refused");
    assert_eq!(missing.0, 404, "no such chat");
}

#[tokio::test]
async fn plain_get_on_the_socket_route_is_426() {
    let app = app();
    let r = app.get(&ws_path(3), &token(user(3, 1))).await;
    assert_eq!(r.status, 426, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"detail": "This endpoint expects a WebSocket upgrade."})
    );
}

#[tokio::test]
async fn cross_site_cookie_upgrade_is_403_and_same_site_or_allowed_passes() {
    let app = app();
    let cookie = format!("em_session={}", token(user(4, 1)));
    let from = |origin: &str| vec![("Cookie", cookie.clone()), ("Origin", origin.to_string())];
    let err = app
        .ws_with(&ws_path(4), &from("https://evil.example"))
        .await
        .expect_err("cross-site refused");
    assert_eq!(err.0, 403, "{:?}", err.1);
    // The handshake client drops refusal bodies: read the reason over plain HTTP.
    let r = app
        .http
        .get(app.url(&ws_path(4)))
        .header("Cookie", &cookie)
        .header("Origin", "https://evil.example")
        .header("Upgrade", "websocket")
        .send()
        .await
        .unwrap();
    let r = App::read(r).await;
    assert_eq!(r.status, 403);
    assert!(
        r.body["detail"].as_str().unwrap().contains("CSRF"),
        "the reason is named: {:?}",
        r.body
    );
    assert!(
        app.ws_with(&ws_path(4), &from(&app.base)).await.is_ok(),
        "own origin"
    );
    assert!(
        app.ws_with(&ws_path(4), &from("https://app.example.com"))
            .await
            .is_ok(),
        "ALLOWED_ORIGINS"
    );
    let bearer = [
        ("Authorization", format!("Bearer {}", token(user(4, 1)))),
        ("Origin", "https://evil.example".to_string()),
    ];
    assert!(
        app.ws_with(&ws_path(4), &bearer).await.is_ok(),
        "bearer is not CSRF-prone"
    );
}

#[tokio::test]
async fn typing_reaches_the_others_but_not_the_typist() {
    let app = app();
    let (a, b, c) = (user(5, 1), user(5, 2), user(5, 3));
    let mut wa = app.ws(5, &token(a), "").await;
    let mut wa2 = app.ws(5, &token(a), "").await;
    let mut wb = app.ws(5, &token(b), "").await;
    let mut wc = app.ws(5, &token(c), "").await;
    ws_send(&mut wa, json!({"type": "typing", "is_typing": true})).await;
    for (ws, who) in [(&mut wb, "b"), (&mut wc, "c")] {
        let f = ws_json(ws, LONG, "typing").await;
        assert_eq!(
            f,
            json!({"type": "typing", "user_id": a, "is_typing": true}),
            "{who}"
        );
    }
    ws_silent(&mut wa, SHORT, "the typist's socket").await;
    ws_silent(&mut wa2, SHORT, "the typist's other socket").await;
    ws_send(&mut wa, json!({"type": "typing", "is_typing": false})).await;
    let f = ws_json(&mut wb, LONG, "typing false").await;
    assert_eq!(f["is_typing"], false);
}

#[tokio::test]
async fn repeated_typing_true_is_throttled() {
    let app = app();
    let mut wa = app.ws(6, &token(user(6, 1)), "").await;
    let mut wb = app.ws(6, &token(user(6, 2)), "").await;
    for _ in 0..5 {
        ws_send(&mut wa, json!({"type": "typing", "is_typing": true})).await;
    }
    assert_eq!(
        ws_json(&mut wb, LONG, "first typing").await["is_typing"],
        true
    );
    ws_silent(
        &mut wb,
        Duration::from_millis(500),
        "refreshes within a second are not repeated",
    )
    .await;
}

#[tokio::test]
async fn unrefreshed_typing_expires_into_a_server_typing_false() {
    let app = app();
    let a = user(7, 1);
    let mut wa = app.ws(7, &token(a), "").await;
    let mut wb = app.ws(7, &token(user(7, 2)), "").await;
    ws_send(&mut wa, json!({"type": "typing", "is_typing": true})).await;
    assert_eq!(
        ws_json(&mut wb, LONG, "typing true").await["is_typing"],
        true
    );
    let started = std::time::Instant::now();
    let f = ws_json(&mut wb, Duration::from_secs(TYPING_TIMEOUT + 5), "expiry").await;
    assert_eq!(
        f,
        json!({"type": "typing", "user_id": a, "is_typing": false})
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(TYPING_TIMEOUT * 1000 - 300),
        "not before the timeout: {took:?}"
    );
}

#[tokio::test]
async fn rest_typing_is_broadcast_and_validated() {
    let app = app();
    let (a, b) = (user(8, 1), user(8, 2));
    let mut wa = app.ws(8, &token(a), "").await;
    let mut wb = app.ws(8, &token(b), "").await;
    let path = "/messages/api/chats/8/typing/";
    let r = app.post(path, &token(a), json!({"is_typing": true})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"status": "success"}));
    let f = ws_json(&mut wb, LONG, "REST typing").await;
    assert_eq!(
        f,
        json!({"type": "typing", "user_id": a, "is_typing": true})
    );
    ws_silent(&mut wa, SHORT, "not echoed to the typist").await;

    let bad = app.post(path, &token(a), json!({"is_typing": 5})).await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    assert!(
        bad.body["details"]["is_typing"].is_array(),
        "{:?}",
        bad.body
    );
    let missing = app.post(path, &token(a), json!({})).await;
    assert_eq!(missing.status, 400, "{:?}", missing.body);
    let outsider = app
        .post(path, &token(user(8, 4)), json!({"is_typing": true}))
        .await;
    assert_eq!(outsider.status, 404);
    let anon = app
        .call(
            reqwest::Method::POST,
            path,
            None,
            Some(json!({"is_typing": true})),
        )
        .await;
    assert_eq!(anon.status, 401);
}

#[tokio::test]
async fn bad_frames_get_an_error_frame_and_the_socket_stays_open() {
    let app = app();
    let mut ws = app.ws(9, &token(user(9, 1)), "").await;
    for bad in [
        r#"{"type":"dance"}"#,
        "{nope",
        "[1]",
        r#"{"type":"typing","is_typing":"y"}"#,
    ] {
        ws_send_text(&mut ws, bad).await;
        let f = ws_json(&mut ws, LONG, "error frame").await;
        assert_eq!(f["type"], "error", "{bad}: {f}");
        assert!(f["detail"].is_string(), "{bad}: {f}");
    }
    ws_send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(
        ws_json(&mut ws, LONG, "pong").await,
        json!({"type": "pong"})
    );
    ws_send(&mut ws, json!({"type": "mark_read"})).await;
    ws_send(&mut ws, json!({"type": "mark_read", "message_id": 12})).await;
    ws_send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(ws_json(&mut ws, LONG, "still alive").await["type"], "pong");
}

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let app = app();
    let mut ws = app.ws(10, &token(user(10, 1)), "").await;
    ws_send_text(&mut ws, "ping").await;
    match ws_next(&mut ws, LONG).await {
        Frame::Text(t) => assert_eq!(t, "pong"),
        other => panic!("expected pong, got {other:?}"),
    }
}

#[tokio::test]
async fn oversize_frames_close_the_socket_with_1009() {
    let app = app();
    let mut ws = app.ws(11, &token(user(11, 1)), "").await;
    let big = format!(
        "{{\"type\":\"typing\",\"is_typing\":true,\"pad\":\"{}\"}}",
        "x".repeat(70 * 1024)
    );
    ws_send_text(&mut ws, &big).await;
    match ws_next(&mut ws, LONG).await {
        Frame::Closed(code) => assert_eq!(code, Some(1009)),
        other => panic!("expected close 1009, got {other:?}"),
    }
}

#[tokio::test]
async fn a_logged_out_session_has_its_socket_closed_when_it_speaks() {
    let app = app();
    let t = token(user(12, 1));
    let mut ws = app.ws(12, &t, "").await;
    let mut other = app.ws(12, &token(user(12, 2)), "").await;
    let out = app
        .call(
            reqwest::Method::POST,
            "/messages/api/auth/logout/",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(out.status, 204);
    ws_send(&mut ws, json!({"type": "typing", "is_typing": true})).await;
    match ws_next(&mut ws, LONG).await {
        Frame::Closed(code) => assert_eq!(code, Some(4403)),
        other => panic!("expected the socket closed, got {other:?}"),
    }
    ws_silent(
        &mut other,
        SHORT,
        "a revoked session's typing is not broadcast",
    )
    .await;
}

#[tokio::test]
async fn resume_with_since_replays_the_missed_events_in_order() {
    let app = app();
    let mut ws = app.ws(29, &token(user(29, 1)), "?since=2").await;
    for seq in 3..=5 {
        let f = ws_json(&mut ws, LONG, "replayed event").await;
        assert_eq!(f["seq"], seq, "{f}");
        assert_eq!(f["type"], "read_receipt", "{f}");
        assert_eq!(f["user_id"], user(29, 2), "{f}");
        assert_eq!(f["last_read_message_id"], seq, "{f}");
    }
    ws_silent(&mut ws, SHORT, "nothing after the last event").await;
    let mut live = app.ws(29, &token(user(29, 2)), "?since=5").await;
    ws_silent(&mut live, SHORT, "caught up: nothing to replay").await;
    let mut fresh = app.ws(29, &token(user(29, 3)), "").await;
    ws_silent(&mut fresh, SHORT, "no since: live only").await;
}

#[tokio::test]
async fn resume_beyond_the_retained_window_asks_for_a_resync() {
    let app = app();
    let mut ws = app.ws(30, &token(user(30, 1)), "?since=0").await;
    assert_eq!(
        ws_json(&mut ws, LONG, "resync").await,
        json!({"type": "resync_required"})
    );
    ws_silent(&mut ws, SHORT, "then live").await;
    let mut ok = app.ws(30, &token(user(30, 2)), "?since=2").await;
    assert_eq!(
        ws_json(&mut ok, LONG, "seq 3").await["seq"],
        3,
        "since=2 is inside the window"
    );
    let bad = app
        .ws_with(
            &format!("{}?since=abc", ws_path(30)),
            &[("Authorization", format!("Bearer {}", token(user(30, 1))))],
        )
        .await
        .expect_err("refused");
    assert_eq!(bad.0, 400, "{:?}", bad.1);
}

#[tokio::test]
async fn a_typist_leaving_ends_their_typing_at_once() {
    let app = app();
    let a = user(13, 1);
    let mut wa = app.ws(13, &token(a), "").await;
    let mut wb = app.ws(13, &token(user(13, 2)), "").await;
    ws_send(&mut wa, json!({"type": "typing", "is_typing": true})).await;
    assert_eq!(
        ws_json(&mut wb, LONG, "typing true").await["is_typing"],
        true
    );
    drop(wa);
    let f = ws_json(
        &mut wb,
        Duration::from_millis(1500),
        "typing false on leave",
    )
    .await;
    assert_eq!(
        f,
        json!({"type": "typing", "user_id": a, "is_typing": false})
    );
}
