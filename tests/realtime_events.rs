//! Real-time events end to end through a real local worker (SPEC §6): every durable event the
//! REST API emits reaches the members' sockets with its payload and a gapless `seq`; removed
//! members are cut off; concurrent writers still yield one order; `since` resumes.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{ws_json, ws_next, ws_send, App, Frame, User, Ws};
use serde_json::{json, Value};

fn app() -> App {
    App::new(common::shared("realtime-events", &[], ""))
}

const WAIT: Duration = Duration::from_secs(10);

async fn group(app: &App, admin: &User, members: &[&User]) -> i64 {
    app.group(admin, "live", members).await["id"]
        .as_i64()
        .expect("chat id")
}

/// Reads durable events until one of type `kind` arrives, checking every seq is `last + 1`.
async fn until(ws: &mut Ws, last: &mut Option<i64>, kind: &str) -> Value {
    loop {
        let f = ws_json(ws, WAIT, kind).await;
        if let Some(seq) = f["seq"].as_i64() {
            if let Some(prev) = *last {
                assert_eq!(seq, prev + 1, "gapless seq before {kind}: {f}");
            }
            *last = Some(seq);
        }
        if f["type"] == kind {
            return f;
        }
    }
}

#[tokio::test]
async fn every_event_reaches_the_members_with_its_payload() {
    let app = app();
    let [a, b, c] = app.users(["eva", "evb", "evc"]).await;
    let chat = group(&app, &a, &[&b]).await;
    let mut wb = app.ws(chat, &b.token, "").await;
    let mut last = None;

    let m = app.send(&a, chat, "hello").await;
    let id = m["id"].as_i64().unwrap();
    let f = until(&mut wb, &mut last, "new_message").await;
    assert_eq!(f["message"]["id"], id);
    assert_eq!(f["message"]["content"], "hello");
    assert_eq!(f["message"]["sender"]["id"], a.id);

    let r = app.edit(&a, id, "hi").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let f = until(&mut wb, &mut last, "message_updated").await;
    assert_eq!(f["message"]["content"], "hi");
    assert_eq!(f["message"]["is_edited"], true);

    let r = app.react(&a, id, "👍").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let f = until(&mut wb, &mut last, "reaction_updated").await;
    assert_eq!(f["message_id"], id);
    assert_eq!(f["reactions"][0]["emoji"], "👍");

    let mut wa = app.ws(chat, &a.token, "").await;
    ws_send(&mut wb, json!({"type": "mark_read"})).await;
    let f = ws_json(&mut wa, WAIT, "read_receipt via socket").await;
    assert_eq!(f["type"], "read_receipt", "{f}");
    assert_eq!(f["user_id"], b.id);
    assert_eq!(f["last_read_message_id"], id);
    let f = until(&mut wb, &mut last, "read_receipt").await;
    assert_eq!(f["user_id"], b.id, "the reader's own sockets get it too");

    let r = app.add_members(&a, chat, json!([c.id])).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let f = until(&mut wb, &mut last, "members_added").await;
    assert_eq!(f["user_ids"], json!([c.id]));

    let r = app.rename(&a, chat, "renamed").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let f = until(&mut wb, &mut last, "chat_updated").await;
    assert_eq!(f["chat"]["title"], "renamed");

    let r = app
        .delete(&format!("/messages/api/messages/{id}/"), &a.token)
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let f = until(&mut wb, &mut last, "message_deleted").await;
    assert_eq!(f["message_id"], id);

    let r = app
        .delete(
            &format!("/messages/api/chats/{chat}/members/{}/remove/", c.id),
            &a.token,
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let f = until(&mut wb, &mut last, "member_removed").await;
    assert_eq!(f["user_id"], c.id);

    let r = app
        .delete(&format!("/messages/api/chats/{chat}/"), &a.token)
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let f = until(&mut wb, &mut last, "chat_deleted").await;
    assert_eq!(f["chat_id"], chat);
    match ws_next(&mut wb, WAIT).await {
        Frame::Closed(code) => assert_eq!(code, Some(4403), "deleted chat closes its sockets"),
        other => panic!("expected close after chat_deleted, got {other:?}"),
    }
}

#[tokio::test]
async fn a_removed_members_socket_is_closed_at_once() {
    let app = app();
    let [a, b] = app.users(["rma", "rmb"]).await;
    let chat = group(&app, &a, &[&b]).await;
    let mut wb = app.ws(chat, &b.token, "").await;
    let mut wa = app.ws(chat, &a.token, "").await;
    let r = app
        .delete(
            &format!("/messages/api/chats/{chat}/members/{}/remove/", b.id),
            &a.token,
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    loop {
        match ws_next(&mut wb, WAIT).await {
            Frame::Json(_) => continue,
            Frame::Closed(code) => {
                assert_eq!(code, Some(4403));
                break;
            }
            other => panic!("expected the removed member's socket closed, got {other:?}"),
        }
    }
    let f = ws_json(&mut wa, WAIT, "member_removed").await;
    assert_eq!(f["type"], "member_removed");
    let again = app
        .ws_with(
            &format!("/messages/api/chats/{chat}/ws/"),
            &[("Authorization", format!("Bearer {}", b.token))],
        )
        .await
        .expect_err("no longer a member");
    assert_eq!(again.0, 404);
}

#[tokio::test]
async fn concurrent_writers_reach_every_listener_in_one_gapless_order() {
    let app = app();
    let mut writers = Vec::new();
    for _ in 0..5 {
        writers.push(app.user("cw").await);
    }
    let admin = app.user("cwadmin").await;
    let listeners = [
        app.user("cl").await,
        app.user("cl").await,
        app.user("cl").await,
    ];
    let mut all: Vec<&User> = writers.iter().collect();
    all.extend(listeners.iter());
    let chat = group(&app, &admin, &all).await;
    let mut sockets = Vec::new();
    for l in &listeners {
        sockets.push(app.ws(chat, &l.token, "").await);
    }

    let mut tasks = Vec::new();
    for (w, writer) in writers.iter().enumerate() {
        let (app, writer) = (app.clone(), writer.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                app.send(&writer, chat, &format!("w{w}-{i}")).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer finished");
    }

    let mut orders = Vec::new();
    for ws in sockets.iter_mut() {
        let mut seqs = Vec::new();
        let mut contents = Vec::new();
        while contents.len() < 100 {
            let f = ws_json(ws, WAIT, "the 100 messages").await;
            let Some(seq) = f["seq"].as_i64() else {
                continue;
            };
            if let Some(prev) = seqs.last() {
                assert_eq!(seq, prev + 1, "no gap, no duplicate: {f}");
            }
            seqs.push(seq);
            if f["type"] == "new_message" {
                contents.push(f["message"]["content"].as_str().unwrap().to_string());
            }
        }
        let distinct: HashSet<&String> = contents.iter().collect();
        assert_eq!(distinct.len(), 100, "every message once");
        for w in 0..5 {
            let mine: Vec<&String> = contents
                .iter()
                .filter(|c| c.starts_with(&format!("w{w}-")))
                .collect();
            let expected: Vec<String> = (0..20).map(|i| format!("w{w}-{i}")).collect();
            assert_eq!(
                mine,
                expected.iter().collect::<Vec<_>>(),
                "a writer's messages keep their order"
            );
        }
        orders.push(contents);
    }
    assert!(
        orders.windows(2).all(|p| p[0] == p[1]),
        "every listener sees the same order"
    );
}

#[tokio::test]
async fn resume_with_since_replays_what_was_missed_then_goes_live() {
    let app = app();
    let [a, b] = app.users(["rsa", "rsb"]).await;
    let chat = group(&app, &a, &[&b]).await;
    let mut wb = app.ws(chat, &b.token, "").await;
    app.send(&a, chat, "one").await;
    let seen = ws_json(&mut wb, WAIT, "first message").await;
    let since = seen["seq"].as_i64().unwrap();
    drop(wb);

    for text in ["two", "three", "four"] {
        app.send(&a, chat, text).await;
    }
    let mut wb = app.ws(chat, &b.token, &format!("?since={since}")).await;
    let mut last = Some(since);
    for text in ["two", "three", "four"] {
        let f = until(&mut wb, &mut last, "new_message").await;
        assert_eq!(f["message"]["content"], text, "{f}");
    }
    app.send(&a, chat, "five").await;
    let f = until(&mut wb, &mut last, "new_message").await;
    assert_eq!(f["message"]["content"], "five", "live after the replay");
}

/// The keys of an object, sorted (replayed events must have the live event's shape).
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

#[tokio::test]
async fn replayed_events_have_the_live_shape_and_the_current_state() {
    let app = app();
    let [a, b, c] = app.users(["rpa", "rpb", "rpc"]).await;
    let chat = group(&app, &a, &[&b]).await;
    let mut wb = app.ws(chat, &b.token, "").await;
    let mut last = None;
    let mut live = Vec::new();

    let m1 = app.send(&a, chat, "hello").await["id"].as_i64().unwrap();
    live.push(until(&mut wb, &mut last, "new_message").await);
    let msg = format!("/messages/api/messages/{m1}/");
    let r = app
        .patch(&msg, &a.token, json!({"content": "edited"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    live.push(until(&mut wb, &mut last, "message_updated").await);
    let r = app
        .post(
            &format!("{msg}reactions/"),
            &b.token,
            json!({"emoji": "🎉"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    live.push(until(&mut wb, &mut last, "reaction_updated").await);
    let r = app.mark_read(&b, chat, json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    live.push(until(&mut wb, &mut last, "read_receipt").await);
    let r = app.add_members(&a, chat, json!([c.id])).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    live.push(until(&mut wb, &mut last, "members_added").await);
    let r = app.rename(&a, chat, "replayed").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    live.push(until(&mut wb, &mut last, "chat_updated").await);
    let m2 = app.send(&a, chat, "bye").await["id"].as_i64().unwrap();
    live.push(until(&mut wb, &mut last, "new_message").await);
    let r = app
        .delete(&format!("/messages/api/messages/{m2}/"), &a.token)
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    live.push(until(&mut wb, &mut last, "message_deleted").await);
    let r = app
        .delete(
            &format!("/messages/api/chats/{chat}/members/{}/remove/", c.id),
            &a.token,
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    live.push(until(&mut wb, &mut last, "member_removed").await);
    drop(wb);

    // More events than the room keeps in memory, so the replay below is read from D1.
    for i in 0..140 {
        app.send(&a, chat, &format!("filler {i}")).await;
    }

    let mut ws = app.ws(chat, &b.token, "?since=0").await;
    let mut seq = Some(0);
    for want in &live {
        let kind = want["type"].as_str().unwrap();
        let got = until(&mut ws, &mut seq, kind).await;
        assert_eq!(got["seq"], want["seq"], "{got}");
        assert_eq!(
            keys(&got),
            keys(want),
            "{kind}: replay {got} vs live {want}"
        );
        match kind {
            "new_message" | "message_updated" => {
                assert_eq!(keys(&got["message"]), keys(&want["message"]), "{kind}");
                let id = want["message"]["id"].as_i64().unwrap();
                let now = app
                    .get(&format!("/messages/api/messages/{id}/"), &a.token)
                    .await;
                assert_eq!(
                    got["message"], now.body,
                    "{kind} carries the message as it is now"
                );
            }
            "reaction_updated" => {
                let now = app.get(&msg, &a.token).await;
                assert_eq!(got["message_id"], m1);
                assert_eq!(got["reactions"], now.body["reactions"], "{got}");
                assert_eq!(
                    got["reactions"], want["reactions"],
                    "no reaction changed since"
                );
            }
            "chat_updated" => {
                let now = app
                    .get(&format!("/messages/api/chats/{chat}/"), &a.token)
                    .await;
                assert_eq!(got["chat"], now.body, "as the renamer sees it now");
                assert_eq!(got["chat"]["title"], "replayed");
            }
            _ => assert_eq!(&got, want, "{kind} replays exactly"),
        }
    }
}

/// The room keeps its sockets in memory between events (src/realtime/sockets.rs): a socket
/// opened after a fan-out, and a second socket of the same user, must get every later message;
/// a closed one must not break the fan-out to the rest.
#[tokio::test]
async fn sockets_opened_and_closed_between_messages_get_exactly_the_live_ones() {
    let app = app();
    let [a, b, c] = app.users(["ska", "skb", "skc"]).await;
    let chat = group(&app, &a, &[&b, &c]).await;
    let mut wa = app.ws(chat, &a.token, "").await;
    app.send(&a, chat, "one").await;
    let f = ws_json(&mut wa, WAIT, "one").await;
    assert_eq!(f["message"]["content"], "one");

    let mut wb = app.ws(chat, &b.token, "").await;
    let mut wb2 = app.ws(chat, &b.token, "").await;
    app.send(&a, chat, "two").await;
    for ws in [&mut wa, &mut wb, &mut wb2] {
        let f = ws_json(ws, WAIT, "two").await;
        assert_eq!(
            f["message"]["content"], "two",
            "every open socket, old and new"
        );
    }

    drop(wa);
    wb2.close(None).await.expect("close frame sent");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut wc = app.ws(chat, &c.token, "").await;
    app.send(&b, chat, "three").await;
    for ws in [&mut wb, &mut wc] {
        let f = ws_json(ws, WAIT, "three").await;
        assert_eq!(
            f["message"]["content"], "three",
            "the remaining and the new socket"
        );
    }
}
