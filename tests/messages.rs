//! Messages, reactions and read receipts through a real local worker (SPEC §5).

mod common;

use common::{shared, App, User};
use reqwest::Method;
use serde_json::{json, Value};

fn app() -> App {
    App::new(shared(
        "messages",
        &[("MESSAGES_PER_PAGE", "5"), ("MAX_MESSAGE_LENGTH", "20")],
        "",
    ))
}

/// A group of `owner` and `others`; returns its id.
async fn chat(app: &App, owner: &User, others: &[&User]) -> i64 {
    app.group(owner, "T", others).await["id"].as_i64().unwrap()
}

fn ids(page: &Value) -> Vec<i64> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn sending_returns_the_full_message_and_marks_it_read_for_the_sender() {
    let app = app();
    let [ann, bob] = app.users(["ann", "bob"]).await;
    let c = chat(&app, &ann, &[&bob]).await;
    let m = app.send(&ann, c, "  Hello!  ").await;
    assert_eq!(m["content"], "Hello!", "trimmed");
    assert_eq!(m["chat"], c);
    assert_eq!(m["sender"]["id"], ann.id);
    assert_eq!(m["is_edited"], false);
    assert_eq!(m["is_deleted"], false);
    assert_eq!(m["reactions"], json!([]));
    assert_eq!(m["read_by"], json!([ann.id]), "the sender has read it");
    assert_eq!(m["client_id"], Value::Null);
    assert!(m["seq"].as_i64().unwrap() >= 1);

    let list = app.get("/messages/api/chats/", &bob.token).await;
    let item = &list.body["results"][0];
    assert_eq!(item["id"], c);
    assert_eq!(item["last_message"]["content"], "Hello!");
    assert_eq!(item["unread_count"], 1, "bob has one unread");
    let mine = app.get("/messages/api/chats/", &ann.token).await;
    assert_eq!(
        mine.body["results"][0]["unread_count"], 0,
        "own messages are never unread"
    );

    let detail = app
        .get(&format!("/messages/api/messages/{}/", m["id"]), &bob.token)
        .await;
    assert_eq!(detail.status, 200);
    assert_eq!(detail.body["content"], "Hello!");
}

#[tokio::test]
async fn bad_content_is_refused_and_nothing_is_stored() {
    let app = app();
    let ann = app.user("ann").await;
    let c = chat(&app, &ann, &[]).await;
    let path = format!("/messages/api/chats/{c}/messages/");
    for body in [
        json!({"content": "   "}),
        json!({"content": ""}),
        json!({}),
        json!({"content": 123}),
        json!({"content": "x".repeat(21)}),
        json!({"content": "ok", "client_id": "c".repeat(65)}),
        json!({"content": "ok", "client_id": 5}),
    ] {
        let r = app.post(&path, &ann.token, body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert!(r.body["details"].is_object());
    }
    let ok = app
        .post(&path, &ann.token, json!({"content": "é".repeat(20)}))
        .await;
    assert_eq!(ok.status, 201, "20 code points is the limit, not 20 bytes");
    let list = app.get(&path, &ann.token).await;
    assert_eq!(list.body["count"], 1, "only the valid message was stored");
}

#[tokio::test]
async fn a_repeated_client_id_returns_the_first_message_also_under_concurrency() {
    let app = app();
    let [ann, bob] = app.users(["ann", "bob"]).await;
    let c = chat(&app, &ann, &[&bob]).await;
    let path = format!("/messages/api/chats/{c}/messages/");
    let first = app
        .post(
            &path,
            &ann.token,
            json!({"content": "once", "client_id": "abc-1"}),
        )
        .await;
    assert_eq!(first.status, 201);
    assert_eq!(first.body["client_id"], "abc-1");
    let again = app
        .post(
            &path,
            &ann.token,
            json!({"content": "twice", "client_id": "abc-1"}),
        )
        .await;
    assert_eq!(again.status, 200, "retry is not a new message");
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.body["content"], "once");
    let bobs = app
        .post(
            &path,
            &bob.token,
            json!({"content": "bob", "client_id": "abc-1"}),
        )
        .await;
    assert_eq!(bobs.status, 201, "client ids are per sender");

    let sends = (0..6).map(|_| {
        app.post(
            &path,
            &ann.token,
            json!({"content": "race", "client_id": "race-1"}),
        )
    });
    let results = futures_util::future::join_all(sends).await;
    let created = results.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 1, "exactly one concurrent retry creates");
    let id = &results[0].body["id"];
    assert!(
        results.iter().all(|r| &r.body["id"] == id),
        "all retries return the same message"
    );
    let list = app.get(&path, &ann.token).await;
    assert_eq!(list.body["count"], 3);
}

#[tokio::test]
async fn non_members_get_404_and_others_messages_are_403() {
    let app = app();
    let [ann, bob, eve] = app.users(["ann", "bob", "eve"]).await;
    let c = chat(&app, &ann, &[&bob]).await;
    let m = app.send(&ann, c, "mine").await;
    let mid = m["id"].as_i64().unwrap();
    for (method, path, body) in [
        (
            Method::GET,
            format!("/messages/api/chats/{c}/messages/"),
            None,
        ),
        (
            Method::POST,
            format!("/messages/api/chats/{c}/messages/"),
            Some(json!({"content": "hi"})),
        ),
        (Method::GET, format!("/messages/api/messages/{mid}/"), None),
        (
            Method::PATCH,
            format!("/messages/api/messages/{mid}/"),
            Some(json!({"content": "x"})),
        ),
        (
            Method::DELETE,
            format!("/messages/api/messages/{mid}/"),
            None,
        ),
        (
            Method::POST,
            format!("/messages/api/messages/{mid}/reactions/"),
            Some(json!({"emoji": "👍"})),
        ),
        (
            Method::POST,
            format!("/messages/api/chats/{c}/mark-as-read/"),
            Some(json!({})),
        ),
    ] {
        let r = app
            .call(method.clone(), &path, Some(&eve.token), body.clone())
            .await;
        assert_eq!(r.status, 404, "{method} {path} for a non-member");
        let anon = app.call(method.clone(), &path, None, body).await;
        assert_eq!(anon.status, 401, "{method} {path} anonymous");
    }
    let r = app.edit(&bob, mid, "hijack").await;
    assert_eq!(r.status, 403, "editing someone else's message");
    let r = app
        .delete(&format!("/messages/api/messages/{mid}/"), &bob.token)
        .await;
    assert_eq!(r.status, 403, "deleting someone else's message");
    let r = app
        .get(&format!("/messages/api/messages/{mid}/"), &bob.token)
        .await;
    assert_eq!(r.body["content"], "mine", "unchanged");
}

#[tokio::test]
async fn editing_sets_is_edited_and_deleting_leaves_a_tombstone() {
    let app = app();
    let [ann, bob] = app.users(["ann", "bob"]).await;
    let c = chat(&app, &ann, &[&bob]).await;
    let first = app.send(&ann, c, "first").await;
    let m = app.send(&ann, c, "typo").await;
    let path = format!("/messages/api/messages/{}/", m["id"]);
    let r = app
        .put(&path, &ann.token, json!({"content": "fixed"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["content"], "fixed");
    assert_eq!(r.body["is_edited"], true);
    let r = app.patch(&path, &ann.token, json!({"content": ""})).await;
    assert_eq!(r.status, 400);

    let like = app
        .post(
            &format!("{path}reactions/"),
            &bob.token,
            json!({"emoji": "👍"}),
        )
        .await;
    assert_eq!(like.status, 200);
    assert_eq!(app.delete(&path, &ann.token).await.status, 204);
    let list = app
        .get(&format!("/messages/api/chats/{c}/messages/"), &bob.token)
        .await;
    let tomb = &list.body["results"][0];
    assert_eq!(tomb["id"], m["id"], "the tombstone stays in the list");
    assert_eq!(tomb["is_deleted"], true);
    assert_eq!(tomb["content"], "");
    assert_eq!(tomb["reactions"], json!([]), "reactions dropped");
    let r = app
        .patch(&path, &ann.token, json!({"content": "back"}))
        .await;
    assert_eq!(r.status, 400, "deleted messages cannot be edited");
    let r = app
        .post(
            &format!("{path}reactions/"),
            &bob.token,
            json!({"emoji": "👍"}),
        )
        .await;
    assert_eq!(r.status, 400, "no reactions on deleted messages");
    assert_eq!(
        app.delete(&path, &ann.token).await.status,
        204,
        "deleting twice is harmless"
    );

    let chats = app.get("/messages/api/chats/", &bob.token).await;
    assert_eq!(
        chats.body["results"][0]["last_message"]["id"], first["id"],
        "last_message skips deleted"
    );
}

#[tokio::test]
async fn reactions_toggle_in_order_of_first_use_and_only_real_emoji() {
    let app = app();
    let [ann, bob] = app.users(["ann", "bob"]).await;
    let c = chat(&app, &ann, &[&bob]).await;
    let m = app.send(&ann, c, "react").await;
    let path = format!("/messages/api/messages/{}/reactions/", m["id"]);
    let r = app.post(&path, &bob.token, json!({"emoji": "🎉"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["action"], "added");
    assert_eq!(r.body["message_id"], m["id"]);
    app.post(&path, &ann.token, json!({"emoji": "👍"})).await;
    app.post(&path, &ann.token, json!({"emoji": "🎉"})).await;
    let detail = app
        .get(&format!("/messages/api/messages/{}/", m["id"]), &ann.token)
        .await;
    assert_eq!(
        detail.body["reactions"],
        json!([{"emoji": "🎉", "count": 2, "users": [bob.id, ann.id]}, {"emoji": "👍", "count": 1, "users": [ann.id]}])
    );
    let r = app.post(&path, &bob.token, json!({"emoji": "🎉"})).await;
    assert_eq!(r.body["action"], "removed", "second toggle removes");

    for bad in [
        json!({"emoji": "lol"}),
        json!({"emoji": "👍👍"}),
        json!({"emoji": 1}),
        json!({}),
    ] {
        let r = app.post(&path, &bob.token, bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn the_twenty_first_distinct_emoji_is_refused() {
    let app = app();
    let ann = app.user("ann").await;
    let c = chat(&app, &ann, &[]).await;
    let m = app.send(&ann, c, "many").await;
    let path = format!("/messages/api/messages/{}/reactions/", m["id"]);
    let emoji: Vec<String> = (0..21)
        .map(|i| char::from_u32(0x1F600 + i).unwrap().to_string())
        .collect();
    for e in &emoji[..20] {
        let r = app.post(&path, &ann.token, json!({"emoji": e})).await;
        assert_eq!(r.status, 200, "{e}: {:?}", r.body);
    }
    let r = app
        .post(&path, &ann.token, json!({"emoji": emoji[20]}))
        .await;
    assert_eq!(r.status, 400, "21st distinct emoji");
    let r = app
        .post(&path, &ann.token, json!({"emoji": emoji[0]}))
        .await;
    assert_eq!(r.body["action"], "removed", "existing ones still toggle");
}

#[tokio::test]
async fn read_pointers_move_forward_only_and_count_what_became_read() {
    let app = app();
    let [ann, bob] = app.users(["ann", "bob"]).await;
    let c = chat(&app, &ann, &[&bob]).await;
    let mut sent = vec![];
    for i in 0..4 {
        sent.push(
            app.send(&ann, c, &format!("m{i}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let mark = format!("/messages/api/chats/{c}/mark-as-read/");
    let r = app
        .post(&mark, &bob.token, json!({"message_id": sent[1]}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "success");
    assert_eq!(r.body["marked_count"], 2);
    let r = app
        .post(&mark, &bob.token, json!({"message_id": sent[0]}))
        .await;
    assert_eq!(r.body["marked_count"], 0, "backwards does nothing");
    let list = app.get("/messages/api/chats/", &bob.token).await;
    assert_eq!(
        list.body["results"][0]["unread_count"], 2,
        "pointer stayed at m1"
    );
    let page = app
        .get(&format!("/messages/api/chats/{c}/messages/"), &ann.token)
        .await;
    let read_by: Vec<Value> = page.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["read_by"].clone())
        .collect();
    let mut both = vec![ann.id, bob.id];
    both.sort();
    assert_eq!(
        read_by,
        vec![json!([ann.id]), json!([ann.id]), json!(both), json!(both)]
    );

    let r = app.call(Method::POST, &mark, Some(&bob.token), None).await;
    assert_eq!(r.body["marked_count"], 2, "no body marks everything");
    let r = app
        .post(&mark, &bob.token, json!({"message_id": 99999999}))
        .await;
    assert_eq!(r.status, 400, "a message of another chat");
    let r = app
        .post(&mark, &bob.token, json!({"message_id": "x"}))
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn keyset_paging_stays_correct_while_messages_arrive() {
    let app = app();
    let ann = app.user("ann").await;
    let c = chat(&app, &ann, &[]).await;
    let path = format!("/messages/api/chats/{c}/messages/");
    let mut sent = vec![];
    for i in 0..12 {
        sent.push(
            app.send(&ann, c, &format!("m{i}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let newest_first: Vec<i64> = sent.iter().rev().copied().collect();
    let p1 = app.get(&path, &ann.token).await;
    assert_eq!(
        ids(&p1.body),
        newest_first[..5].to_vec(),
        "newest first, 5 per page"
    );
    assert_eq!(p1.body["count"], 12);
    assert_eq!(p1.body["previous"], Value::Null);

    for i in 0..3 {
        app.send(&ann, c, &format!("late{i}")).await; // arrive while paging
    }
    let next = p1.body["next"].as_str().unwrap().to_string();
    let p2 = app.get_url(&next, &ann.token).await;
    assert_eq!(
        ids(&p2.body),
        newest_first[5..10].to_vec(),
        "no duplicate, no skip"
    );
    let next = p2.body["next"].as_str().unwrap().to_string();
    let p3 = app.get_url(&next, &ann.token).await;
    assert_eq!(ids(&p3.body), newest_first[10..].to_vec());
    assert_eq!(p3.body["next"], Value::Null, "the oldest page has no next");

    let newer = App::read(
        app.http
            .get(
                p1.body["results"][0]["id"]
                    .as_i64()
                    .map(|id| format!("{}?after={id}", app.url(&path)))
                    .unwrap(),
            )
            .bearer_auth(&ann.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        newer.body["results"].as_array().unwrap().len(),
        3,
        "after= gives what arrived"
    );
    let before = app
        .get(&format!("{path}?before={}", sent[3]), &ann.token)
        .await;
    assert_eq!(ids(&before.body), vec![sent[2], sent[1], sent[0]]);
    let page2 = app.get(&format!("{path}?page=2"), &ann.token).await;
    assert_eq!(
        page2.body["results"].as_array().unwrap().len(),
        5,
        "page=N works too"
    );
    assert_eq!(
        app.get(&format!("{path}?before=abc"), &ann.token)
            .await
            .status,
        400
    );
    assert_eq!(
        app.get(&format!("{path}?page=99"), &ann.token).await.status,
        404
    );
}
