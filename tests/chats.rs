//! Chats, DMs, groups and members through a real local worker (SPEC §4): every endpoint, every
//! role (anonymous, non-member, member, admin), DM dedupe, admin hand-over, paging, search and
//! bad input.

mod common;

use common::{shared, App, User};
use reqwest::Method;
use serde_json::{json, Value};

fn app() -> App {
    App::new(shared("chats", &[("CHATS_PER_PAGE", "3")], ""))
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_i64().unwrap_or_else(|| x.as_i64().unwrap()))
        .collect()
}

#[tokio::test]
async fn creating_a_group_makes_the_creator_a_member_and_admin() {
    let app = app();
    let [ann, bob] = app.users(["ann", "bob"]).await;
    let chat = app.group(&ann, "Project Team", &[&bob]).await;
    assert_eq!(chat["title"], "Project Team");
    assert_eq!(chat["chat_type"], "group");
    let mut members = ids(&chat["members"]);
    members.sort();
    assert_eq!(members, {
        let mut v = vec![ann.id, bob.id];
        v.sort();
        v
    });
    assert_eq!(chat["admins"], json!([ann.id]));
    assert_eq!(chat["last_message"], Value::Null);
    assert_eq!(chat["unread_count"], 0);
    assert!(chat["created_at"].as_str().unwrap().ends_with('Z'));

    let r = app
        .get(&format!("/messages/api/chats/{}/", chat["id"]), &bob.token)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["admins"], json!([ann.id]), "detail has admins");
}

#[tokio::test]
async fn a_dm_is_get_or_create_and_named_after_the_other_person() {
    let app = app();
    let ann = app
        .user_with("ann", json!({"first_name": "Ann", "last_name": "Lee"}))
        .await;
    let bob = app
        .user_with("bob", json!({"first_name": "Bob", "last_name": "Ray"}))
        .await;
    let r = app.try_dm(&ann, &bob).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["title"], "Bob Ray", "Ann sees Bob's name");
    let id = r.body["id"].clone();

    let again = app.try_dm(&bob, &ann).await;
    assert_eq!(again.status, 200, "existing DM returned, not duplicated");
    assert_eq!(again.body["id"], id);
    assert_eq!(again.body["title"], "Ann Lee", "Bob sees Ann's name");

    let both = futures_join(&app, &ann, &bob).await;
    assert!(
        both.iter().all(|v| *v == id),
        "concurrent creates agree: {both:?}"
    );

    let list = app.get("/messages/api/chats/", &ann.token).await;
    let dms: Vec<&Value> = list.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["chat_type"] == "dm")
        .collect();
    assert_eq!(dms.len(), 1, "one DM per pair");
}

async fn futures_join(app: &App, ann: &User, bob: &User) -> Vec<Value> {
    let a = app.post(
        "/messages/api/chats/",
        &ann.token,
        json!({"chat_type": "dm", "member_ids": [bob.id]}),
    );
    let b = app.post(
        "/messages/api/chats/",
        &bob.token,
        json!({"chat_type": "dm", "member_ids": [ann.id]}),
    );
    let (a, b) = tokio::join!(a, b);
    vec![a.body["id"].clone(), b.body["id"].clone()]
}

#[tokio::test]
async fn bad_chat_input_is_400_naming_the_field() {
    let app = app();
    let [ann, bob, cat] = app.users(["ann", "bob", "cat"]).await;
    let cases = [
        (
            json!({"chat_type": "group", "member_ids": [999999]}),
            "member_ids",
        ),
        (
            json!({"chat_type": "group", "member_ids": "x"}),
            "member_ids",
        ),
        (
            json!({"chat_type": "group", "member_ids": [bob.id], "title": 5}),
            "title",
        ),
        (
            json!({"chat_type": "group", "member_ids": [bob.id], "title": "t".repeat(256)}),
            "title",
        ),
        (
            json!({"chat_type": "room", "member_ids": [bob.id]}),
            "chat_type",
        ),
        (json!({"member_ids": [bob.id]}), "chat_type"),
        (json!({"chat_type": "group"}), "member_ids"),
        (
            json!({"chat_type": "dm", "member_ids": [bob.id, cat.id]}),
            "member_ids",
        ),
        (
            json!({"chat_type": "dm", "member_ids": [ann.id]}),
            "member_ids",
        ),
    ];
    for (body, field) in cases {
        let r = app
            .post("/messages/api/chats/", &ann.token, body.clone())
            .await;
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert!(
            r.body["details"][field].is_array(),
            "{body} names {field}: {:?}",
            r.body
        );
    }
    let list = app.get("/messages/api/chats/", &ann.token).await;
    assert_eq!(list.body["count"], 0, "nothing was created by bad input");
    let ok = app
        .post(
            "/messages/api/chats/",
            &ann.token,
            json!({"chat_type": "group", "member_ids": [bob.id], "title": "t".repeat(255)}),
        )
        .await;
    assert_eq!(ok.status, 201, "255 characters is fine");
}

#[tokio::test]
async fn anonymous_callers_get_401_and_non_members_404_for_everything() {
    let app = app();
    let [ann, bob, eve] = app.users(["ann", "bob", "eve"]).await;
    let chat = app.group(&ann, "Secret", &[&bob]).await;
    let id = chat["id"].as_i64().unwrap();
    let r = app
        .call(Method::GET, "/messages/api/chats/", None, None)
        .await;
    assert_eq!(r.status, 401);
    let r = app
        .call(
            Method::GET,
            &format!("/messages/api/chats/{id}/"),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 401);

    let paths = [
        (Method::GET, format!("/messages/api/chats/{id}/"), None),
        (
            Method::PATCH,
            format!("/messages/api/chats/{id}/"),
            Some(json!({"title": "x"})),
        ),
        (
            Method::PUT,
            format!("/messages/api/chats/{id}/"),
            Some(json!({"title": "x"})),
        ),
        (Method::DELETE, format!("/messages/api/chats/{id}/"), None),
        (
            Method::POST,
            format!("/messages/api/chats/{id}/members/add/"),
            Some(json!({"user_ids": [eve.id]})),
        ),
        (
            Method::DELETE,
            format!("/messages/api/chats/{id}/members/{}/remove/", bob.id),
            None,
        ),
        (
            Method::GET,
            "/messages/api/chats/99999999/".to_string(),
            None,
        ),
    ];
    for (m, p, body) in paths {
        let r = app.call(m.clone(), &p, Some(&eve.token), body).await;
        assert_eq!(r.status, 404, "{m} {p} for a non-member");
        assert_eq!(r.body, json!({"detail": "Not found."}));
    }
    let list = app.get("/messages/api/chats/", &eve.token).await;
    assert_eq!(
        list.body["count"], 0,
        "non-members do not see the chat in lists"
    );
    let search = app
        .get("/messages/api/chats/?search=Secret", &eve.token)
        .await;
    assert_eq!(search.body["count"], 0);
}

#[tokio::test]
async fn only_admins_rename_groups_and_dms_are_not_renamed_by_default() {
    let app = app();
    let [ann, bob] = app.users(["ann", "bob"]).await;
    let chat = app.group(&ann, "Old", &[&bob]).await;
    let path = format!("/messages/api/chats/{}/", chat["id"]);
    let r = app
        .patch(&path, &bob.token, json!({"title": "Bob's"}))
        .await;
    assert_eq!(r.status, 403, "members are not admins");
    assert_eq!(
        r.body,
        json!({"detail": "You do not have permission to perform this action."})
    );
    let r = app
        .put(&path, &ann.token, json!({"title": "  New  "}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["title"], "New");
    let r = app
        .patch(&path, &ann.token, json!({"title": "x".repeat(256)}))
        .await;
    assert_eq!(r.status, 400);
    let r = app.patch(&path, &ann.token, json!({"title": ["x"]})).await;
    assert_eq!(r.status, 400);
    let r = app.get(&path, &bob.token).await;
    assert_eq!(r.body["title"], "New", "bad updates changed nothing");

    let dm = app.try_dm(&ann, &bob).await;
    let r = app
        .patch(
            &format!("/messages/api/chats/{}/", dm.body["id"]),
            &ann.token,
            json!({"title": "Us"}),
        )
        .await;
    assert_eq!(r.status, 403, "ALLOW_RENAMING_DMS is false by default");
}

#[tokio::test]
async fn deleting_a_chat_is_for_group_admins_and_dm_members() {
    let app = app();
    let [ann, bob] = app.users(["ann", "bob"]).await;
    let chat = app.group(&ann, "Doomed", &[&bob]).await;
    let path = format!("/messages/api/chats/{}/", chat["id"]);
    assert_eq!(app.delete(&path, &bob.token).await.status, 403);
    assert_eq!(app.delete(&path, &ann.token).await.status, 204);
    assert_eq!(app.get(&path, &ann.token).await.status, 404, "gone");
    assert_eq!(app.get(&path, &bob.token).await.status, 404);

    let dm = app.try_dm(&ann, &bob).await;
    let r = app
        .delete(
            &format!("/messages/api/chats/{}/", dm.body["id"]),
            &bob.token,
        )
        .await;
    assert_eq!(r.status, 204, "either DM member deletes");
}

#[tokio::test]
async fn admins_add_members_and_added_count_counts_only_new_ones() {
    let app = app();
    let [ann, bob, cat, dan] = app.users(["ann", "bob", "cat", "dan"]).await;
    let chat = app.group(&ann, "Team", &[&bob]).await;
    let add = format!("/messages/api/chats/{}/members/add/", chat["id"]);
    let r = app
        .post(
            &add,
            &ann.token,
            json!({"user_ids": [bob.id, cat.id, cat.id]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"status": "success", "added_count": 1}));
    let r = app
        .post(&add, &ann.token, json!({"user_ids": [cat.id]}))
        .await;
    assert_eq!(r.body["added_count"], 0, "already a member");
    let r = app
        .post(&add, &bob.token, json!({"user_ids": [dan.id]}))
        .await;
    assert_eq!(r.status, 403, "members are not admins");
    let r = app
        .post(&add, &ann.token, json!({"user_ids": [dan.id, 99999999]}))
        .await;
    assert_eq!(r.status, 400, "unknown ids");
    assert!(r.body["details"]["user_ids"].is_array());
    let r = app.post(&add, &ann.token, json!({"user_ids": "dan"})).await;
    assert_eq!(r.status, 400, "wrong type");
    let detail = app
        .get(&format!("/messages/api/chats/{}/", chat["id"]), &cat.token)
        .await;
    assert_eq!(detail.status, 200, "cat was added");
    assert_eq!(
        detail.body["members"].as_array().unwrap().len(),
        3,
        "dan was not added by the bad request"
    );

    let dm = app.try_dm(&ann, &bob).await;
    let r = app
        .post(
            &format!("/messages/api/chats/{}/members/add/", dm.body["id"]),
            &ann.token,
            json!({"user_ids": [cat.id]}),
        )
        .await;
    assert_eq!(r.status, 400, "adding to a DM is a 400");
}

#[tokio::test]
async fn removing_members_leaving_and_admin_hand_over() {
    let app = app();
    let [ann, bob, cat] = app.users(["ann", "bob", "cat"]).await;
    let chat = app.group(&ann, "Team", &[&bob, &cat]).await;
    let id = chat["id"].as_i64().unwrap();
    let remove = |u: i64| format!("/messages/api/chats/{id}/members/{u}/remove/");

    assert_eq!(
        app.delete(&remove(cat.id), &bob.token).await.status,
        403,
        "members cannot remove others"
    );
    assert_eq!(
        app.delete(&remove(999999), &ann.token).await.status,
        404,
        "not a member"
    );
    assert_eq!(
        app.delete(&remove(cat.id), &ann.token).await.status,
        204,
        "admin removes"
    );
    assert_eq!(
        app.get(&format!("/messages/api/chats/{id}/"), &cat.token)
            .await
            .status,
        404,
        "cat is out"
    );

    // The last admin leaves: the longest-standing remaining member (bob) becomes admin.
    assert_eq!(
        app.delete(&remove(ann.id), &ann.token).await.status,
        204,
        "anyone may leave"
    );
    let detail = app
        .get(&format!("/messages/api/chats/{id}/"), &bob.token)
        .await;
    assert_eq!(detail.body["admins"], json!([bob.id]), "{:?}", detail.body);

    // The last member leaves: the chat is deleted.
    assert_eq!(app.delete(&remove(bob.id), &bob.token).await.status, 204);
    let r = app
        .post(
            "/messages/api/chats/",
            &ann.token,
            json!({"chat_type": "group", "member_ids": [bob.id]}),
        )
        .await;
    assert_ne!(r.body["id"], json!(id));
    assert_eq!(
        app.get(&format!("/messages/api/chats/{id}/"), &ann.token)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn the_list_pages_by_recent_activity_and_searches_titles_and_names() {
    let app = app();
    let me = app.user("lister").await;
    let zed = app.user_with("zed", json!({"first_name": "Zebulon"})).await;
    let mut created = vec![];
    for i in 0..4 {
        created.push(
            app.group(&me, &format!("Room {i}"), &[]).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let dm = app.try_dm(&me, &zed).await;
    created.push(dm.body["id"].as_i64().unwrap());

    let p1 = app.get("/messages/api/chats/", &me.token).await;
    assert_eq!(p1.status, 200);
    assert_eq!(p1.body["count"], 5);
    let first: Vec<i64> = ids(&p1.body["results"]);
    let newest_first: Vec<i64> = created.iter().rev().copied().collect();
    assert_eq!(
        first,
        newest_first[..3].to_vec(),
        "most recent first, CHATS_PER_PAGE=3"
    );
    assert_eq!(p1.body["previous"], Value::Null);
    let next = p1.body["next"].as_str().expect("a next link").to_string();
    assert!(next.contains("page=2"), "{next}");
    let p2 = app.get_url(&next, &me.token).await;
    assert_eq!(ids(&p2.body["results"]), newest_first[3..].to_vec());
    assert_eq!(p2.body["next"], Value::Null);
    assert!(p2.body["previous"].as_str().unwrap().contains("page=1"));
    assert_eq!(
        app.get("/messages/api/chats/?page=3", &me.token)
            .await
            .status,
        404
    );
    assert_eq!(
        app.get("/messages/api/chats/?page=zero", &me.token)
            .await
            .status,
        404
    );

    let s = app
        .get("/messages/api/chats/?search=room%202", &me.token)
        .await;
    assert_eq!(ids(&s.body["results"]), vec![created[2]], "title search");
    let s = app.get("/messages/api/chats/?search=zebu", &me.token).await;
    assert_eq!(
        ids(&s.body["results"]),
        vec![created[4]],
        "member-name search"
    );
    let s = app
        .get("/messages/api/chats/?search=lister", &me.token)
        .await;
    assert_eq!(s.body["count"], 0, "the caller's own name matches nothing");
}
