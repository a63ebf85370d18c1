//! The user stream (SPEC §9) through a real local worker: every chat's events for one user,
//! over `GET /messages/api/ws/` and by polling `GET /messages/api/events/`. Each event arrives
//! once, in its chat's seq order, across chats written at once, reconnects and a restart of
//! the runtime; membership changes arrive as `chat_added` / `chat_removed`; non-members hear
//! nothing; polling and the socket tell the same story.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use common::{ws_next, App, Frame, Resp, User, Worker, Ws};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const WAIT: Duration = Duration::from_secs(20);

fn app() -> App {
    App::new(common::shared("user-stream", &[], ""))
}

async fn poll(app: &App, who: &User, after: Option<&str>, chat: Option<i64>) -> Resp {
    let mut q = Vec::new();
    if let Some(a) = after {
        q.push(format!("after={a}"));
    }
    if let Some(c) = chat {
        q.push(format!("chat={c}"));
    }
    app.get(
        &format!("/messages/api/events/?{}", q.join("&")),
        &who.token,
    )
    .await
}

/// The stream's current cursor.
async fn cursor_now(app: &App, who: &User) -> String {
    let r = poll(app, who, None, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["events"], json!([]));
    assert_eq!(r.body["has_more"], false);
    r.body["cursor"].as_str().expect("cursor").to_string()
}

/// Every event after `after`, polling until `has_more` is false; and the last cursor.
async fn poll_all(app: &App, who: &User, after: &str) -> (Vec<Value>, String) {
    let mut cursor = after.to_string();
    let mut out = Vec::new();
    loop {
        let r = poll(app, who, Some(&cursor), None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        out.extend(r.body["events"].as_array().unwrap().iter().cloned());
        cursor = r.body["cursor"].as_str().unwrap().to_string();
        if r.body["has_more"] != true {
            return (out, cursor);
        }
    }
}

async fn stream(app: &App, who: &User, after: Option<&str>) -> Ws {
    let q = after.map_or(String::new(), |a| format!("?after={a}"));
    app.ws_with(
        &format!("/messages/api/ws/{q}"),
        &[("Authorization", format!("Bearer {}", who.token))],
    )
    .await
    .unwrap_or_else(|e| panic!("stream refused: {e:?}"))
}

/// Reads stream events until `done` says the list is complete; panics on silence.
async fn read_until(ws: &mut Ws, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut out = Vec::new();
    while !done(&out) {
        match ws_next(ws, WAIT).await {
            Frame::Json(v) => {
                assert!(
                    v["cursor"].is_string(),
                    "every stream event has a cursor: {v}"
                );
                out.push(v);
            }
            other => panic!("stream ended early after {} events: {other:?}", out.len()),
        }
    }
    out
}

/// Asserts no stream event arrives within `wait`.
async fn silent(ws: &mut Ws, wait: Duration, why: &str) {
    match ws_next(ws, wait).await {
        Frame::Timeout => {}
        other => panic!("expected silence ({why}), got {other:?}"),
    }
}

fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["type"] == kind).count()
}

/// Every chat event once, and each chat's seqs consecutive in arrival order.
fn check_once_in_order(events: &[Value]) {
    let mut seen = HashSet::new();
    let mut last: BTreeMap<i64, i64> = BTreeMap::new();
    for e in events {
        let (Some(chat), Some(seq)) = (e["chat_id"].as_i64(), e["seq"].as_i64()) else {
            continue;
        };
        assert!(seen.insert((chat, seq)), "delivered twice: {e}");
        if let Some(prev) = last.insert(chat, seq) {
            assert_eq!(seq, prev + 1, "chat {chat} out of order or with a gap: {e}");
        }
    }
}

/// (chat, seq, type) of each event, for comparing transports.
fn story(events: &[Value]) -> Vec<(i64, Option<i64>, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["chat_id"].as_i64().unwrap(),
                e["seq"].as_i64(),
                e["type"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The same events in each chat's order (chats interleave differently on a live socket).
fn by_chat(events: &[Value]) -> BTreeMap<i64, Vec<(Option<i64>, String)>> {
    let mut out: BTreeMap<i64, Vec<(Option<i64>, String)>> = BTreeMap::new();
    for (chat, seq, kind) in story(events) {
        out.entry(chat).or_default().push((seq, kind));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_chats_written_at_once_reach_a_members_stream_once_each_in_order() {
    let app = app();
    let [reader, outsider] = app.users(["sreader", "soutsider"]).await;
    let writers = app.users(["sw1", "sw2", "sw3"]).await;
    let mut chats = Vec::new();
    for i in 0..4 {
        let members = [&writers[1], &writers[2], &reader];
        let chat = app.group(&writers[0], &format!("busy {i}"), &members).await;
        chats.push(chat["id"].as_i64().unwrap());
    }
    let start = cursor_now(&app, &reader).await;
    let mut ws = stream(&app, &reader, Some(&start)).await;
    let mut outsider_ws = stream(&app, &outsider, None).await;

    const PER: usize = 12;
    let mut tasks = Vec::new();
    for (wi, w) in writers.iter().enumerate() {
        for &chat in &chats {
            let (app, w) = (App::new(common::shared("user-stream", &[], "")), w.clone());
            tasks.push(tokio::spawn(async move {
                for n in 0..PER {
                    app.send(&w, chat, &format!("w{wi} n{n}")).await;
                }
            }));
        }
    }
    let total = writers.len() * chats.len() * PER;
    let live = read_until(&mut ws, |e| count(e, "new_message") >= total).await;
    for t in tasks {
        t.await.unwrap();
    }
    check_once_in_order(&live);
    assert_eq!(
        count(&live, "new_message"),
        total,
        "every message exactly once"
    );
    silent(&mut ws, Duration::from_secs(1), "nothing more").await;
    silent(
        &mut outsider_ws,
        Duration::from_millis(500),
        "a non-member hears nothing",
    )
    .await;

    // Polling from the same cursor tells the same story, in the same per-chat order.
    let (polled, _) = poll_all(&app, &reader, &start).await;
    check_once_in_order(&polled);
    assert_eq!(by_chat(&polled), by_chat(&live));
    let (outsider_polled, _) = poll_all(&app, &outsider, "0").await;
    assert!(
        outsider_polled
            .iter()
            .all(|e| !chats.contains(&e["chat_id"].as_i64().unwrap())),
        "a non-member polls none of these chats' events"
    );
}

/// A polling client beside the socket: polls after each step, keeping its cursor.
struct Poller {
    cursor: String,
    events: Vec<Value>,
}

impl Poller {
    async fn step(&mut self, app: &App, who: &User) {
        let (more, cursor) = poll_all(app, who, &self.cursor).await;
        self.events.extend(more);
        self.cursor = cursor;
    }
}

fn kinds(events: &[Value]) -> Vec<(String, i64)> {
    events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["chat_id"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn membership_changes_arrive_as_chat_added_and_chat_removed() {
    let app = app();
    let [a, b, c] = app.users(["sma", "smb", "smc"]).await;
    let start = cursor_now(&app, &a).await;
    let mut ws = stream(&app, &a, Some(&start)).await;
    let mut poller = Poller {
        cursor: start.clone(),
        events: Vec::new(),
    };
    let mut live = Vec::new();

    // Created with a: chat_added carries the chat as a sees it.
    let g = app.group(&b, "Plans", &[&a]).await["id"].as_i64().unwrap();
    let e = read_until(&mut ws, |e| !e.is_empty()).await.remove(0);
    assert_eq!(e["type"], "chat_added", "{e}");
    assert_eq!(e["chat_id"], g);
    assert_eq!(e["chat"]["id"], g);
    assert_eq!(e["chat"]["title"], "Plans");
    live.push(e);
    app.send(&b, g, "hello").await;
    let e = read_until(&mut ws, |e| !e.is_empty()).await.remove(0);
    assert_eq!(e["message"]["content"], "hello");
    live.push(e);
    // Renamed: chat_updated carries the chat as it is now.
    assert_eq!(app.rename(&b, g, "Plans v2").await.status, 200);
    let e = read_until(&mut ws, |e| !e.is_empty()).await.remove(0);
    assert_eq!(e["type"], "chat_updated", "{e}");
    assert_eq!(e["chat"]["title"], "Plans v2", "{e}");
    live.push(e);
    poller.step(&app, &a).await;
    let renamed = poller.events.last().unwrap();
    assert_eq!(renamed["chat"]["title"], "Plans v2", "polled: {renamed}");

    // Added to an existing chat: chat_added, then its events; never the events before.
    let h = app.group(&b, "Later", &[&c]).await["id"].as_i64().unwrap();
    app.send(&b, h, "before you came").await;
    assert_eq!(app.add_members(&b, h, json!([a.id])).await.status, 200);
    app.send(&c, h, "welcome").await;
    let got = read_until(&mut ws, |e| e.len() >= 2).await;
    assert_eq!(got[1]["message"]["content"], "welcome");
    live.extend(got);
    poller.step(&app, &a).await;

    // Removed: chat_removed, and nothing of that chat after it.
    assert_eq!(app.remove_member(&b, g, a.id).await.status, 204);
    live.extend(read_until(&mut ws, |e| !e.is_empty()).await);
    app.send(&b, g, "after you left").await;
    silent(
        &mut ws,
        Duration::from_millis(800),
        "a removed member hears nothing more",
    )
    .await;
    poller.step(&app, &a).await;

    // The chat deleted: chat_removed.
    let path = format!("/messages/api/chats/{h}/");
    assert_eq!(app.delete(&path, &b.token).await.status, 204);
    live.extend(read_until(&mut ws, |e| !e.is_empty()).await);
    poller.step(&app, &a).await;

    // Leaving a chat: chat_removed too.
    let own = app.group(&a, "Mine", &[&b]).await["id"].as_i64().unwrap();
    live.extend(read_until(&mut ws, |e| !e.is_empty()).await);
    assert_eq!(app.remove_member(&a, own, a.id).await.status, 204);
    live.extend(read_until(&mut ws, |e| !e.is_empty()).await);
    poller.step(&app, &a).await;

    let want: Vec<(String, i64)> = [
        ("chat_added", g),
        ("new_message", g),
        ("chat_updated", g),
        ("chat_added", h),
        ("new_message", h),
        ("chat_removed", g),
        ("chat_removed", h),
        ("chat_added", own),
        ("chat_removed", own),
    ]
    .iter()
    .map(|(k, c)| (k.to_string(), *c))
    .collect();
    assert_eq!(kinds(&live), want, "the socket");
    assert_eq!(kinds(&poller.events), want, "a client polling alongside");

    // A client that polls only now, from the start, gets the membership changes of the chats
    // left since, not their messages (docs/realtime.md: a chat's events are served to its
    // members); the chat of such a chat_added reads as null.
    let (late, _) = poll_all(&app, &a, &start).await;
    let want_late: Vec<(String, i64)> = want
        .iter()
        .filter(|(k, _)| k != "new_message" && k != "chat_updated")
        .cloned()
        .collect();
    assert_eq!(kinds(&late), want_late);
    assert_eq!(late[0]["chat"], Value::Null, "a left it: {}", late[0]);
}

#[tokio::test]
async fn resuming_from_the_last_cursor_loses_nothing_and_repeats_nothing() {
    let app = app();
    let [a, b] = app.users(["sra", "srb"]).await;
    let c1 = app.group(&b, "one", &[&a]).await["id"].as_i64().unwrap();
    let c2 = app.group(&b, "two", &[&a]).await["id"].as_i64().unwrap();
    let start = cursor_now(&app, &a).await;
    let mut ws = stream(&app, &a, Some(&start)).await;
    app.send(&b, c1, "first").await;
    app.send(&b, c2, "second").await;
    let got = read_until(&mut ws, |e| e.len() >= 2).await;
    let last = got[1]["cursor"].as_str().unwrap().to_string();
    drop(ws);

    // While away: messages in both chats, an edit, a reaction.
    let m = app.send(&b, c1, "third").await;
    app.send(&b, c2, "fourth").await;
    assert_eq!(
        app.edit(&b, m["id"].as_i64().unwrap(), "third!")
            .await
            .status,
        200
    );
    assert_eq!(
        app.react(&a, m["id"].as_i64().unwrap(), "👍").await.status,
        200
    );

    let mut ws = stream(&app, &a, Some(&last)).await;
    let got = read_until(&mut ws, |e| e.len() >= 4).await;
    let texts: Vec<String> = got
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["type"].as_str().unwrap(),
                e["message"]["content"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        texts,
        [
            "new_message third!",
            "new_message fourth",
            "message_updated third!",
            "reaction_updated "
        ],
        "exactly what happened while away, replayed with the messages' current state"
    );
    let reaction = json!([{"emoji": "👍", "count": 1, "users": [a.id]}]);
    assert_eq!(got[0]["message"]["reactions"], reaction, "{:?}", got[0]);
    assert_eq!(got[3]["reactions"], reaction, "{:?}", got[3]);
    // And then live, no duplicate at the seam.
    app.send(&b, c2, "fifth").await;
    let got = read_until(&mut ws, |e| !e.is_empty()).await;
    assert_eq!(got[0]["message"]["content"], "fifth");
    silent(&mut ws, Duration::from_millis(800), "nothing twice").await;

    // A cursor from the middle of the socket's story resumes from there.
    let mid = texts.len();
    assert_eq!(mid, 4);
    let (polled, _) = poll_all(&app, &a, &last).await;
    assert_eq!(polled.len(), 5, "{polled:?}");
}

#[tokio::test]
async fn polling_refuses_what_it_cannot_serve_cleanly() {
    let app = app();
    let [a, b] = app.users(["spa", "spb"]).await;
    let chat = app.group(&b, "mine", &[]).await["id"].as_i64().unwrap();
    let anon = app.get("/messages/api/events/", "").await;
    assert_eq!(anon.status, 401);
    for bad in ["x", "-1", "1.0-3", "1.2-", "99999999999999999", "1.2-3.2-4"] {
        let r = poll(&app, &a, Some(bad), None).await;
        assert_eq!(r.status, 400, "after={bad}: {:?}", r.body);
        assert!(r.body["details"]["after"].is_array(), "{:?}", r.body);
    }
    let r = poll(&app, &a, None, Some(chat)).await;
    assert_eq!(r.status, 404, "typing of a chat one is not in");
    let r = app.get("/messages/api/events/?chat=abc", &a.token).await;
    assert_eq!(r.status, 400);
    // A member's poll naming the open chat carries who types there.
    let r = poll(&app, &b, None, Some(chat)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["typing"], json!([]));
    // A cursor from the future is simply caught up with.
    let r = poll(&app, &a, Some("9007199254740992"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["events"], json!([]));

    // The socket's own refusals.
    let path = "/messages/api/ws/";
    let refused = |r: Result<Ws, (u16, Value)>| r.err().map(|e| e.0);
    assert_eq!(refused(app.ws_with(path, &[]).await), Some(401));
    let bearer = ("Authorization", format!("Bearer {}", a.token));
    let r = app
        .ws_with(
            "/messages/api/ws/?after=junk",
            std::slice::from_ref(&bearer),
        )
        .await;
    assert_eq!(refused(r), Some(400));
    let cookie = ("Cookie", format!("em_session={}", a.token));
    let evil = ("Origin", "https://evil.example".to_string());
    assert_eq!(refused(app.ws_with(path, &[cookie, evil]).await), Some(403));
    assert_eq!(app.get(path, &a.token).await.status, 426);
}

/// The hex SHA-256 of a session token, as the sessions table stores it.
fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn a_cursor_older_than_the_kept_log_gets_a_resync_not_an_error() {
    // A member of a chat whose log was pruned (1,100 events written by SQL: the retention
    // trigger keeps the newest 1,000+). The session is seeded too, with a known token.
    let token = "stale-cursor-token-0123456789";
    let seed = format!(
        "INSERT INTO users (id, username, username_lower, password, date_joined)
           VALUES (900001, 'staler', 'staler', '!', '2026-01-01T00:00:00.000Z');
         INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
           VALUES ('{}', 900001, '2026-01-01T00:00:00.000Z', '2999-01-01T00:00:00.000Z');
         INSERT INTO chats (id, chat_type, title, created_at, updated_at, last_activity_at, last_seq)
           VALUES (900001, 'group', 'old', '2026-01-01T00:00:00.000Z',
                   '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 1100);
         INSERT INTO chat_members (chat_id, user_id, is_admin, joined_at, since_gid)
           VALUES (900001, 900001, 1, '2026-01-01T00:00:00.000Z', 0);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1100)
         INSERT INTO chat_events (chat_id, seq, type, user_id, message_id, created_at)
           SELECT 900001, i, 'read_receipt', 900001, 0, '2026-01-01T00:00:00.000Z' FROM n;",
        token_hash(token)
    );
    let worker = Worker::start("stream-stale", &[], &seed);
    let app = App::new(&worker);
    let me = User {
        id: 900001,
        username: "staler".into(),
        token: token.into(),
        password: String::new(),
    };
    let r = poll(&app, &me, Some("0"), None).await;
    assert_eq!(r.status, 410, "{:?}", r.body);
    assert_eq!(r.body["type"], "resync_required");
    // A cursor past the pruned part is served.
    let r = poll(&app, &me, Some("1050"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["events"].as_array().unwrap().len(), 50);
    assert_eq!(r.body["events"][0]["type"], "read_receipt");
    // A cursor over 1,000 gids behind the head but not pruned (the last prune, at seq 1088,
    // took seqs up to 88) is read by probing the viewer's chats: a page of 100, in order.
    let r = poll(&app, &me, Some("95"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let seqs: Vec<i64> = r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (96..196).collect::<Vec<i64>>());
    assert_eq!(r.body["has_more"], true);
    // The socket answers a stale cursor with resync_required and a fresh cursor, then goes on.
    let mut ws = stream(&app, &me, Some("0")).await;
    let e = read_until(&mut ws, |e| !e.is_empty()).await.remove(0);
    assert_eq!(e["type"], "resync_required");
    let fresh = e["cursor"].as_str().unwrap().to_string();
    let r = poll(&app, &me, Some(&fresh), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["events"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resuming_after_a_restart_of_the_runtime_loses_nothing() {
    let worker = Worker::start("stream-restart", &[], "");
    let app = App::new(&worker);
    let [a, b] = app.users(["sxa", "sxb"]).await;
    let c1 = app.group(&b, "one", &[&a]).await["id"].as_i64().unwrap();
    let c2 = app.group(&b, "two", &[&a]).await["id"].as_i64().unwrap();
    let start = cursor_now(&app, &a).await;
    let mut ws = stream(&app, &a, Some(&start)).await;
    for i in 0..3 {
        app.send(&b, c1, &format!("a{i}")).await;
        app.send(&b, c2, &format!("b{i}")).await;
    }
    let before = read_until(&mut ws, |e| e.len() >= 6).await;
    let last = before[5]["cursor"].as_str().unwrap().to_string();
    for i in 3..5 {
        app.send(&b, c1, &format!("a{i}")).await;
    }
    worker.restart();
    for i in 3..5 {
        app.send(&b, c2, &format!("b{i}")).await;
    }
    let mut ws = stream(&app, &a, Some(&last)).await;
    let after = read_until(&mut ws, |e| e.len() >= 4).await;
    silent(&mut ws, Duration::from_millis(800), "nothing twice").await;
    let mut all = before.clone();
    all.extend(after);
    check_once_in_order(&all);
    let mut texts: Vec<&str> = all
        .iter()
        .filter_map(|e| e["message"]["content"].as_str())
        .collect();
    texts.sort_unstable();
    assert_eq!(
        texts,
        ["a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2", "b3", "b4"]
    );
}

#[tokio::test]
async fn signing_out_closes_the_sessions_stream_sockets() {
    let app = app();
    let [a] = app.users(["sso"]).await;
    let mut ws = stream(&app, &a, None).await;
    let r = app
        .post("/messages/api/auth/logout/", &a.token, json!({}))
        .await;
    assert_eq!(r.status, 204);
    match ws_next(&mut ws, WAIT).await {
        Frame::Closed(code) => assert_eq!(code, Some(4403), "closed as gone"),
        other => panic!("the socket should close at logout: {other:?}"),
    }
}

#[tokio::test]
async fn rooms_joined_and_left_arrive_as_chat_added_and_chat_removed() {
    let app = app();
    let [a, b] = app.users(["sra1", "srb1"]).await;
    let start = cursor_now(&app, &a).await;
    let mut ws = stream(&app, &a, Some(&start)).await;
    let key = common::unique("stream-room");
    let r = app
        .post(
            "/messages/api/rooms/",
            &b.token,
            json!({"key": key, "title": "Talk"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let room = r.body["id"].as_i64().unwrap();
    app.send(&b, room, "before a joined").await;
    let join = format!("/messages/api/rooms/{room}/join/");
    assert_eq!(app.post(&join, &a.token, json!({})).await.status, 200);
    app.send(&b, room, "welcome").await;
    let got = read_until(&mut ws, |e| e.len() >= 2).await;
    assert_eq!(got[0]["type"], "chat_added", "{}", got[0]);
    assert_eq!(got[0]["chat"]["chat_type"], "room");
    assert_eq!(got[1]["message"]["content"], "welcome");
    let leave = format!("/messages/api/rooms/{room}/leave/");
    assert_eq!(app.post(&leave, &a.token, json!({})).await.status, 204);
    let e = read_until(&mut ws, |e| !e.is_empty()).await.remove(0);
    assert_eq!(e["type"], "chat_removed");
    app.send(&b, room, "after a left").await;
    silent(&mut ws, Duration::from_millis(800), "nothing after leaving").await;
    // The creator's own stream had the room added at its creation.
    let (created, _) = poll_all(&app, &b, &start).await;
    assert_eq!(created[0]["type"], "chat_added");
    assert_eq!(created[0]["chat_id"], room);
}

#[tokio::test]
async fn an_empty_poll_reads_the_same_rows_for_3_chats_as_for_300() {
    // Polling every few seconds mostly finds nothing: that must not walk the caller's chats.
    let (few, many) = (800_001, 800_002);
    let mut seed = common::bulk::user(few, "fewchats", "poll-rows-few")
        + &common::bulk::user(many, "manychats", "poll-rows-many");
    for (user, chats, first) in [(few, 3, 810_000), (many, 300, 820_000)] {
        for id in first..first + chats {
            seed += &common::bulk::group(id, "quiet", &[user]);
        }
    }
    let worker = Worker::start("stream-poll-rows", &[], &seed);
    let app = App::new(&worker);
    let mut read = Vec::new();
    for (id, token) in [(few, "poll-rows-few"), (many, "poll-rows-many")] {
        let me = User {
            id,
            username: String::new(),
            token: token.into(),
            password: String::new(),
        };
        let head = poll(&app, &me, None, None).await;
        let cursor = head.body["cursor"].as_str().unwrap().to_string();
        let r = poll(&app, &me, Some(&cursor), None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["events"], json!([]));
        read.push(r.d1().read);
    }
    println!(
        "an empty poll read {} rows with 3 chats, {} with 300",
        read[0], read[1]
    );
    assert!(
        read[1] <= read[0] + read[0] / 2 && read[1] < 100,
        "rows read: 3 chats {}, 300 chats {}",
        read[0],
        read[1]
    );
}
