//! Public rooms (SPEC §10) through a real local worker: get-or-create by key (also racing),
//! listing and search, idempotent joins and leaves with an exact member count under
//! concurrency, watchers who see counts and nothing else, 403s for non-members and for a
//! disabled setting, renames, and the chat list's settings.

mod common;

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::Duration;

use common::{ws_json, ws_next, ws_send, ws_silent, App, Frame, User, Worker, Ws};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn app() -> App {
    App::new(common::shared("rooms", &[], ""))
}

const WAIT: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(800);
const JOIN_FIRST: &str = "Join the room to see messages.";

/// A room made by `who` (`key` optional); the answer.
async fn create(app: &App, who: &User, key: Option<&str>, title: &str) -> common::Resp {
    let mut body = json!({ "title": title });
    if let Some(k) = key {
        body["key"] = json!(k);
    }
    app.post("/messages/api/rooms/", &who.token, body).await
}

async fn room(app: &App, who: &User, title: &str) -> i64 {
    let r = create(app, who, None, title).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_i64().unwrap()
}

async fn join(app: &App, who: &User, id: i64) -> common::Resp {
    app.post(
        &format!("/messages/api/rooms/{id}/join/"),
        &who.token,
        json!({}),
    )
    .await
}

async fn leave(app: &App, who: &User, id: i64) -> common::Resp {
    app.post(
        &format!("/messages/api/rooms/{id}/leave/"),
        &who.token,
        json!({}),
    )
    .await
}

async fn detail(app: &App, who: &User, id: i64) -> Value {
    let r = app
        .get(&format!("/messages/api/rooms/{id}/"), &who.token)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

fn ids(v: &Value) -> BTreeSet<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().or(u.as_i64()).unwrap())
        .collect()
}

/// The next JSON frame that is not `member_count`... or is: frames of `kind` only.
async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let f = ws_json(ws, WAIT, kind).await;
        if f["type"] == kind {
            return f;
        }
    }
}

#[tokio::test]
async fn get_or_create_by_key_gives_one_room_sequentially_and_to_8_concurrent_creates() {
    let app = app();
    let [a, b] = app.users(["gka", "gkb"]).await;
    let key = common::unique("video:");
    let first = create(&app, &a, Some(&key), "Video").await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let r = &first.body;
    assert_eq!(r["chat_type"], "room");
    assert_eq!(r["key"], key.as_str());
    assert_eq!(r["member_count"], 1);
    assert_eq!(r["is_member"], true);
    assert_eq!(r["admins"], json!([a.id]), "the creator is the admin");
    assert_eq!(r["unread_count"], 0);
    let again = create(&app, &b, Some(&key), "Another title").await;
    assert_eq!(again.status, 200, "the key's room exists: {:?}", again.body);
    assert_eq!(again.body["id"], r["id"], "same key, same room");
    assert_eq!(again.body["title"], "Video", "the existing room, unchanged");
    assert_eq!(again.body["is_member"], false, "getting is not joining");
    assert_eq!(again.body["member_count"], 1);

    // Eight people open the same new page at once.
    let users = app
        .users(["gk0", "gk1", "gk2", "gk3", "gk4", "gk5", "gk6", "gk7"])
        .await;
    let key = common::unique("event:");
    let answers =
        futures_util::future::join_all(users.iter().map(|u| create(&app, u, Some(&key), "Race")))
            .await;
    let created: Vec<&common::Resp> = answers.iter().filter(|r| r.status == 201).collect();
    assert_eq!(created.len(), 1, "exactly one create wins: {answers:?}");
    assert!(answers.iter().all(|r| r.status == 201 || r.status == 200));
    let room_ids: BTreeSet<i64> = answers
        .iter()
        .map(|r| r.body["id"].as_i64().unwrap())
        .collect();
    assert_eq!(room_ids.len(), 1, "all eight agree on one room");
    let id = *room_ids.iter().next().unwrap();
    let winner = &created[0].body;
    let d = detail(&app, &a, id).await;
    assert_eq!(d["member_count"], 1, "only the winner joined");
    assert_eq!(d["admins"], winner["admins"]);

    // Without a key every create is a new room.
    let x = create(&app, &a, None, "Open").await;
    let y = create(&app, &a, None, "Open").await;
    assert_eq!((x.status.as_u16(), y.status.as_u16()), (201, 201));
    assert_ne!(x.body["id"], y.body["id"]);
    assert_eq!(x.body["key"], Value::Null);
}

#[tokio::test]
async fn creating_refuses_bad_keys_and_titles() {
    let app = app();
    let [a] = app.users(["bad"]).await;
    let cases = [
        (json!({}), "title"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(256)}), "title"),
        (json!({"title": 7}), "title"),
        (json!({"title": "t", "key": ""}), "key"),
        (json!({"title": "t", "key": "two words"}), "key"),
        (json!({"title": "t", "key": "a/b"}), "key"),
        (json!({"title": "t", "key": "k".repeat(201)}), "key"),
        (json!({"title": "t", "key": 42}), "key"),
    ];
    for (body, field) in cases {
        let r = app
            .post("/messages/api/rooms/", &a.token, body.clone())
            .await;
        assert_eq!(r.status, 400, "{body} is refused: {:?}", r.body);
        assert!(
            r.body["details"][field].is_array(),
            "{body} names {field}: {:?}",
            r.body
        );
    }
    let r = create(&app, &a, Some(&"k".repeat(200)), "Longest key").await;
    assert_eq!(r.status, 201, "200 characters is allowed: {:?}", r.body);
    let r = app
        .call(
            reqwest::Method::POST,
            "/messages/api/rooms/",
            None,
            Some(json!({"title": "t"})),
        )
        .await;
    assert_eq!(r.status, 401);
    let r = app
        .post(
            "/messages/api/chats/",
            &a.token,
            json!({"chat_type": "room", "title": "t", "member_ids": []}),
        )
        .await;
    assert_eq!(r.status, 400, "rooms are made at /rooms/: {:?}", r.body);
}

#[tokio::test]
async fn listing_search_detail_and_by_key() {
    let app = app();
    let [a, b] = app.users(["lsa", "lsb"]).await;
    let word = common::unique("zebra");
    let key = format!("{word}:page?#1");
    let keyed = create(&app, &a, Some(&key), &format!("About {word}")).await;
    assert_eq!(keyed.status, 201);
    let keyed_id = keyed.body["id"].as_i64().unwrap();
    let other = room(&app, &a, &format!("{word} two")).await;

    let r = app
        .get(
            &format!("/messages/api/rooms/?search={}", word.to_uppercase()),
            &b.token,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["count"], 2,
        "both rooms match, any case: {:?}",
        r.body
    );
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(results[0]["id"], other, "newest first");
    assert_eq!(results[1]["id"], keyed_id);
    for item in results {
        assert_eq!(item["is_member"], false, "b has joined neither");
        assert_eq!(item["member_count"], 1);
        assert_eq!(item["chat_type"], "room");
    }
    // Search by key, then a page of one.
    let r = app
        .get(
            &format!("/messages/api/rooms/?search={word}:page"),
            &b.token,
        )
        .await;
    assert_eq!(ids(&r.body["results"]), BTreeSet::from([keyed_id]));
    let r = app.get("/messages/api/rooms/", &b.token).await;
    assert!(r.body["count"].as_i64().unwrap() >= 2);
    let r = app.get("/messages/api/rooms/?page=99999", &b.token).await;
    assert_eq!(r.status, 404, "past the end");
    let r = app
        .call(reqwest::Method::GET, "/messages/api/rooms/", None, None)
        .await;
    assert_eq!(r.status, 401);

    let d = detail(&app, &b, keyed_id).await;
    assert_eq!(d["key"], key.as_str());
    assert_eq!(d["is_member"], false);
    let encoded: String = key
        .bytes()
        .map(|c| match c {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (c as char).to_string(),
            _ => format!("%{c:02X}"),
        })
        .collect();
    let r = app
        .get(&format!("/messages/api/rooms/by-key/{encoded}/"), &b.token)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["id"], keyed_id);
    let r = app
        .get(&format!("/messages/api/rooms/by-key/{word}nope/"), &b.token)
        .await;
    assert_eq!(r.status, 404);
    let r = app.get("/messages/api/rooms/by-key/a%2Fb/", &b.token).await;
    assert_eq!(r.status, 404, "an impossible key");
    let group = app.group(&a, "not a room", &[&b]).await["id"]
        .as_i64()
        .unwrap();
    let r = app
        .get(&format!("/messages/api/rooms/{group}/"), &b.token)
        .await;
    assert_eq!(r.status, 404, "a group is not a room");
    let r = app.get("/messages/api/rooms/999999999/", &b.token).await;
    assert_eq!(r.status, 404);
    let r = join(&app, &b, 999999999).await;
    assert_eq!(r.status, 404);
    let r = leave(&app, &b, group).await;
    assert_eq!(r.status, 404, "leave a group through /chats/");
}

#[tokio::test]
async fn join_and_leave_are_idempotent_and_hand_admin_over() {
    let app = app();
    let [a, b, c] = app.users(["jla", "jlb", "jlc"]).await;
    let id = room(&app, &a, "Idempotent").await;
    app.send(&a, id, "history").await;
    let r = join(&app, &b, id).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["is_member"], true);
    assert_eq!(
        r.body["unread_count"], 0,
        "a room's history is not unread to a joiner"
    );
    assert_eq!(r.body["last_message"]["content"], "history");
    assert_eq!(r.body["member_count"], 2);
    assert_eq!(r.body["chat_type"], "room");
    let r = join(&app, &b, id).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["member_count"], 2, "joining twice changes nothing");
    let list = app.get("/messages/api/chats/", &b.token).await;
    assert!(
        ids(&list.body["results"]).contains(&id),
        "a joined room is in the chat list"
    );
    let item = &list.body["results"][0];
    assert_eq!(item["member_count"], 2);

    let r = join(&app, &c, id).await;
    assert_eq!(r.body["member_count"], 3);
    // The admin leaves: the longest-standing member (b) takes over.
    let r = leave(&app, &a, id).await;
    assert_eq!(r.status, 204);
    let d = detail(&app, &b, id).await;
    assert_eq!(d["admins"], json!([b.id]));
    assert_eq!(d["member_count"], 2);
    let r = leave(&app, &a, id).await;
    assert_eq!(r.status, 204, "leaving twice is fine");
    assert_eq!(detail(&app, &a, id).await["member_count"], 2);

    // An emptied room stays, and the next to join is its admin.
    assert_eq!(leave(&app, &b, id).await.status, 204);
    assert_eq!(leave(&app, &c, id).await.status, 204);
    let d = detail(&app, &a, id).await;
    assert_eq!(
        (d["member_count"].clone(), d["admins"].clone()),
        (json!(0), json!([]))
    );
    let r = join(&app, &c, id).await;
    assert_eq!(r.body["admins"], json!([c.id]), "{:?}", r.body);
    assert_eq!(r.body["member_count"], 1);
}

#[tokio::test]
async fn member_count_is_exact_after_50_concurrent_joins_and_leaves() {
    let app = app();
    let [owner] = app.users(["mco"]).await;
    let id = room(&app, &owner, "Busy").await;
    let names: Vec<String> = (0..30).map(|i| format!("mc{i}x")).collect();
    let mut users = Vec::new();
    for n in &names {
        users.push(app.user(n).await);
    }
    // 30 joins and 20 leaves, all at once: user i joins, and for i < 20 leaves again (every
    // third joins twice first).
    let ops = users.iter().enumerate().map(|(i, u)| {
        let app = app.clone();
        async move {
            assert_eq!(join(&app, u, id).await.status, 200);
            if i % 3 == 0 {
                assert_eq!(join(&app, u, id).await.status, 200);
            }
            if i < 20 {
                assert_eq!(leave(&app, u, id).await.status, 204);
            }
        }
    });
    futures_util::future::join_all(ops).await;
    let d = detail(&app, &owner, id).await;
    let expected: BTreeSet<i64> = std::iter::once(owner.id)
        .chain(users[20..].iter().map(|u| u.id))
        .collect();
    // Under 50 members a room lists them all: the rows, counted, against the counter.
    assert_eq!(ids(&d["members"]), expected, "the membership rows");
    assert_eq!(
        d["member_count"].as_i64().unwrap(),
        d["members"].as_array().unwrap().len() as i64,
        "the counter equals the rows"
    );
    assert_eq!(d["member_count"], 11);
}

#[tokio::test]
async fn a_watcher_sees_counts_change_live_and_receives_no_messages() {
    let app = app();
    let [a, b, w] = app.users(["wca", "wcb", "wcw"]).await;
    let id = room(&app, &a, "Watched").await;
    let mut wa = app.ws(id, &a.token, "").await;
    let mut ww = app.ws(id, &w.token, "").await; // not a member: a watcher

    assert_eq!(join(&app, &b, id).await.status, 200);
    let f = ws_json(&mut ww, WAIT, "member_count").await;
    assert_eq!(
        f,
        json!({"type": "member_count", "count": 2}),
        "only the count"
    );
    let f = next_of(&mut wa, "members_added").await;
    assert_eq!(f["user_ids"], json!([b.id]));
    assert_eq!(f["member_count"], 2, "members' event carries the count");
    assert!(f["seq"].is_i64());
    let f = ws_json(&mut wa, WAIT, "member_count").await;
    assert_eq!(f, json!({"type": "member_count", "count": 2}));

    app.send(&a, id, "members only").await;
    assert_eq!(
        next_of(&mut wa, "new_message").await["message"]["content"],
        "members only"
    );
    ws_send(&mut wa, json!({"type": "typing", "is_typing": true})).await;
    ws_silent(&mut ww, QUIET, "a watcher gets no messages or typing").await;

    assert_eq!(leave(&app, &b, id).await.status, 204);
    let f = ws_json(&mut ww, WAIT, "member_count").await;
    assert_eq!(f, json!({"type": "member_count", "count": 1}));
    let f = next_of(&mut wa, "member_removed").await;
    assert_eq!(
        (f["user_id"].as_i64(), f["member_count"].as_i64()),
        (Some(b.id), Some(1))
    );

    // A watcher may not act as a member.
    ws_send(&mut ww, json!({"type": "typing", "is_typing": true})).await;
    let f = ws_json(&mut ww, WAIT, "error").await;
    assert_eq!(
        (f["type"].as_str(), f["detail"].as_str()),
        (Some("error"), Some(JOIN_FIRST))
    );
    // A group's non-member still cannot connect at all.
    let group = app.group(&a, "private", &[]).await["id"].as_i64().unwrap();
    let r = app
        .ws_with(
            &format!("/messages/api/chats/{group}/ws/"),
            &[("Authorization", format!("Bearer {}", w.token))],
        )
        .await;
    assert_eq!(r.err().map(|e| e.0), Some(404));

    // Joining turns the watcher's socket into a member's: the join's event, then messages.
    assert_eq!(join(&app, &w, id).await.status, 200);
    let f = next_of(&mut ww, "members_added").await;
    assert_eq!(f["user_ids"], json!([w.id]));
    app.send(&a, id, "welcome").await;
    assert_eq!(
        next_of(&mut ww, "new_message").await["message"]["content"],
        "welcome"
    );
}

#[tokio::test]
async fn a_non_member_gets_403_on_the_rooms_messages() {
    let app = app();
    let [a, n] = app.users(["nma", "nmn"]).await;
    let id = room(&app, &a, "Members only").await;
    let m = app.send(&a, id, "inside").await;
    let chat = format!("/messages/api/chats/{id}");
    let refusals = [
        app.get(&format!("{chat}/messages/"), &n.token).await,
        app.post(
            &format!("{chat}/messages/"),
            &n.token,
            json!({"content": "hi"}),
        )
        .await,
        app.post(&format!("{chat}/mark-as-read/"), &n.token, json!({}))
            .await,
        app.post(
            &format!("{chat}/typing/"),
            &n.token,
            json!({"is_typing": true}),
        )
        .await,
        app.get(&format!("{chat}/"), &n.token).await,
    ];
    for r in refusals {
        assert_eq!(r.status, 403, "{:?}", r.body);
        assert_eq!(r.body["detail"], JOIN_FIRST);
    }
    let r = app
        .get(&format!("/messages/api/messages/{}/", m["id"]), &n.token)
        .await;
    assert_eq!(r.status, 404, "a message by id stays private");
    // After joining, the history is readable.
    assert_eq!(join(&app, &n, id).await.status, 200);
    let r = app.get(&format!("{chat}/messages/"), &n.token).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["results"][0]["content"], "inside");
    // A group's non-member still gets 404.
    let group = app.group(&a, "g", &[]).await["id"].as_i64().unwrap();
    let r = app
        .get(&format!("/messages/api/chats/{group}/messages/"), &n.token)
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn leaving_cuts_the_message_events_at_once() {
    let app = app();
    let [a, b, c] = app.users(["lca", "lcb", "lcc"]).await;
    let id = room(&app, &a, "Cut").await;
    assert_eq!(join(&app, &b, id).await.status, 200);
    let mut wb = app.ws(id, &b.token, "").await;
    app.send(&a, id, "before").await;
    assert_eq!(
        next_of(&mut wb, "new_message").await["message"]["content"],
        "before"
    );

    assert_eq!(leave(&app, &b, id).await.status, 204);
    let f = next_of(&mut wb, "member_removed").await;
    assert_eq!(f["user_id"], b.id, "the leaver hears their own leave");
    let f = ws_json(&mut wb, WAIT, "member_count").await;
    assert_eq!(f, json!({"type": "member_count", "count": 1}));
    app.send(&a, id, "after").await;
    let r = app
        .edit(
            &a,
            app.send(&a, id, "edit me").await["id"].as_i64().unwrap(),
            "x",
        )
        .await;
    assert_eq!(r.status, 200);
    // The next thing the former member hears is a count, not the messages.
    assert_eq!(join(&app, &c, id).await.status, 200);
    match ws_next(&mut wb, WAIT).await {
        Frame::Json(f) => assert_eq!(f, json!({"type": "member_count", "count": 2})),
        other => panic!("expected the count, got {other:?}"),
    }
    ws_silent(&mut wb, QUIET, "nothing else").await;
}

#[tokio::test]
async fn a_rename_by_the_admin_works_and_by_others_is_403() {
    let app = app();
    let [a, b, n] = app.users(["rna", "rnb", "rnn"]).await;
    let id = room(&app, &a, "Old").await;
    assert_eq!(join(&app, &b, id).await.status, 200);
    let mut wb = app.ws(id, &b.token, "").await;
    let r = app.rename(&a, id, "New").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["title"], "New");
    assert_eq!(r.body["chat_type"], "room");
    assert_eq!(
        next_of(&mut wb, "chat_updated").await["chat"]["title"],
        "New"
    );
    let r = app.rename(&b, id, "Mine").await;
    assert_eq!(r.status, 403, "a member who is not an admin");
    let r = app.rename(&n, id, "Mine").await;
    assert_eq!(r.status, 403, "a non-member");
    assert_eq!(detail(&app, &n, id).await["title"], "New");
    // Admins add and remove members through the chat routes, with live counts.
    let r = app.add_members(&a, id, json!([n.id])).await;
    assert_eq!(
        (r.status.as_u16(), r.body["added_count"].as_i64()),
        (200, Some(1))
    );
    assert_eq!(next_of(&mut wb, "members_added").await["member_count"], 3);
    let r = app.remove_member(&b, id, n.id).await;
    assert_eq!(r.status, 403, "only admins remove others");
    let r = app.remove_member(&a, id, n.id).await;
    assert_eq!(r.status, 204);
    assert_eq!(next_of(&mut wb, "member_removed").await["member_count"], 2);
}

// ---- settings ----

const SEED_TOKEN: &str = "rooms-off-seed-token";

/// A worker with rooms off and both list filters off, seeded with a user (signed in with
/// `SEED_TOKEN`) who is the admin of room 900001 (rooms cannot be made through the API here).
fn off() -> &'static Worker {
    static WORKER: OnceLock<Worker> = OnceLock::new();
    WORKER.get_or_init(|| {
        let hash: String = Sha256::digest(SEED_TOKEN.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let t = "2025-01-01T00:00:00.000Z";
        let seed = format!(
            "INSERT INTO users (id, username, username_lower, password, date_joined)
               VALUES (900001, 'seeded', 'seeded', '!', '{t}');
             INSERT INTO sessions VALUES ('{hash}', 900001, '{t}', '2999-01-01T00:00:00.000Z');
             INSERT INTO chats (id, chat_type, title, room_key, created_by, created_at,
                                updated_at, last_activity_at)
               VALUES (900001, 'room', 'Seeded', 'seeded:1', 900001, '{t}', '{t}', '{t}');
             INSERT INTO chat_members (chat_id, user_id, is_admin, joined_at)
               VALUES (900001, 900001, 1, '{t}');"
        );
        Worker::start(
            "rooms-off",
            &[
                ("ENABLE_CHAT_ROOMS", "false"),
                ("ALLOW_RENAMING_CHAT_ROOMS", "false"),
                ("SHOW_CHAT_ROOMS_IN_MESSAGES", "false"),
                ("SHOW_DMS_IN_MESSAGES", "false"),
            ],
            &seed,
        )
    })
}

#[tokio::test]
async fn a_disabled_setting_gets_403() {
    let app = App::new(off());
    let seeded = User {
        id: 900001,
        username: "seeded".into(),
        token: SEED_TOKEN.into(),
        password: String::new(),
    };
    let [v] = app.users(["offv"]).await;
    let rid = 900001;
    let refusals = [
        app.get("/messages/api/rooms/", &v.token).await,
        create(&app, &v, Some("k"), "t").await,
        app.get(&format!("/messages/api/rooms/{rid}/"), &v.token)
            .await,
        app.get("/messages/api/rooms/by-key/seeded:1/", &v.token)
            .await,
        join(&app, &v, rid).await,
        leave(&app, &seeded, rid).await,
    ];
    for r in refusals {
        assert_eq!(r.status, 403, "{:?}", r.body);
        assert!(
            r.body["detail"].as_str().unwrap().contains("disabled"),
            "{:?}",
            r.body
        );
    }
    // Watching needs rooms on: a visitor is the non-member of a chat again (404).
    let r = app
        .ws_with(
            &format!("/messages/api/chats/{rid}/ws/"),
            &[("Authorization", format!("Bearer {}", v.token))],
        )
        .await;
    assert_eq!(r.err().map(|e| e.0), Some(404));
    // ALLOW_RENAMING_CHAT_ROOMS=false: not even the admin renames.
    let r = app.rename(&seeded, rid, "Renamed").await;
    assert_eq!(r.status, 403, "{:?}", r.body);

    // SHOW_CHAT_ROOMS_IN_MESSAGES=false and SHOW_DMS_IN_MESSAGES=false: the list has groups.
    let r = app.try_dm(&seeded, &v).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let group = app.group(&seeded, "kept", &[&v]).await["id"]
        .as_i64()
        .unwrap();
    let list = app.get("/messages/api/chats/", &seeded.token).await;
    assert_eq!(ids(&list.body["results"]), BTreeSet::from([group]));
    assert_eq!(list.body["count"], 1);
    // The room is still there for its member, through the chat routes.
    let r = app
        .get(&format!("/messages/api/chats/{rid}/"), &seeded.token)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["chat_type"], "room");
}

#[tokio::test]
async fn typing_and_read_receipts_work_in_rooms_as_in_groups() {
    let app = app();
    let [a, b] = app.users(["tra", "trb"]).await;
    let id = room(&app, &a, "Alive").await;
    assert_eq!(join(&app, &b, id).await.status, 200);
    let mut wa = app.ws(id, &a.token, "").await;
    let mut wb = app.ws(id, &b.token, "").await;
    let m = app.send(&a, id, "read me").await;
    next_of(&mut wb, "new_message").await;
    ws_send(&mut wb, json!({"type": "typing", "is_typing": true})).await;
    let f = next_of(&mut wa, "typing").await;
    assert_eq!(
        (f["user_id"].as_i64(), f["is_typing"].as_bool()),
        (Some(b.id), Some(true))
    );
    let r = app.mark_read(&b, id, json!({"message_id": m["id"]})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let f = next_of(&mut wa, "read_receipt").await;
    assert_eq!(f["user_id"], b.id);
    let r = app.react(&b, m["id"].as_i64().unwrap(), "👍").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        next_of(&mut wa, "reaction_updated").await["message_id"],
        m["id"]
    );
    // Resume: a member reconnecting after the message's seq gets what followed, in order.
    let seq = m["seq"].as_i64().unwrap();
    let mut again = app.ws(id, &b.token, &format!("?since={seq}")).await;
    let f = ws_json(&mut again, WAIT, "replay").await;
    assert_eq!(
        (f["type"].as_str(), f["seq"].as_i64()),
        (Some("read_receipt"), Some(seq + 1))
    );
    let f = ws_json(&mut again, WAIT, "replay").await;
    assert_eq!(
        (f["type"].as_str(), f["seq"].as_i64()),
        (Some("reaction_updated"), Some(seq + 2))
    );
}
