//! Regressions for what `make fuzz` (Schemathesis against the served schema) found, through a
//! real local worker. The 405/`Allow` and unknown-method findings are covered by
//! tests/schema.rs, which walks every documented path.

mod common;

use common::{shared, App};
use serde_json::json;

fn app() -> App {
    App::new(shared("fuzz-findings", &[], ""))
}

/// D1 refuses LIKE patterns over 50 bytes; searches used LIKE and answered 500 for longer
/// terms. A 150-character term of 2-byte characters is 300 bytes.
#[tokio::test]
async fn long_multibyte_search_terms_are_searched_not_500() {
    let app = app();
    let ann = app.user("ann").await;
    let zoe = app
        .user_with("zoe", json!({"first_name": "é".repeat(60)}))
        .await;
    let long = "é".repeat(150);
    let r = app
        .get(&format!("/messages/api/users/search/?q={long}"), &ann.token)
        .await;
    assert_eq!(r.status, 200, "user search: {:?}", r.body);
    assert_eq!(r.body["results"], json!([]), "nobody's name holds 150 é");

    let sixty = "é".repeat(60);
    let r = app
        .get(
            &format!("/messages/api/users/search/?q={sixty}"),
            &ann.token,
        )
        .await;
    assert_eq!(r.status, 200, "user search: {:?}", r.body);
    let found: Vec<i64> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    assert_eq!(found, vec![zoe.id], "a long term still matches");

    let r = app.try_dm(&ann, &zoe).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    for (q, expected) in [(long.as_str(), 0), (sixty.as_str(), 1)] {
        let r = app
            .get(&format!("/messages/api/chats/?search={q}"), &ann.token)
            .await;
        assert_eq!(r.status, 200, "chat search: {:?}", r.body);
        assert_eq!(
            r.body["count"],
            expected,
            "chats matching {} é",
            q.len() / 2
        );
    }
}

/// Whitespace alone is not JSON: it used to stand for `{}`, so mark-as-read (whose fields are
/// all optional) accepted it.
#[tokio::test]
async fn a_whitespace_only_json_body_is_malformed() {
    let app = app();
    let ann = app.user("ann").await;
    let chat = app
        .post(
            "/messages/api/chats/",
            &ann.token,
            json!({"chat_type": "group", "title": "t", "member_ids": []}),
        )
        .await;
    let url = app.url(&format!(
        "/messages/api/chats/{}/mark-as-read/",
        chat.body["id"]
    ));
    let send = |body: &'static str| {
        app.http
            .post(&url)
            .bearer_auth(&ann.token)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let r = App::read(send("\n").await.unwrap()).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(
        r.body["details"]["non_field_errors"].is_array(),
        "{:?}",
        r.body
    );
    let r = App::read(send("").await.unwrap()).await;
    assert_eq!(r.status, 200, "an empty body is still {{}}: {:?}", r.body);
}

/// Writes travel to the chat's room as JSON; the runtime's own JSON parser refused a chat id
/// of 2^53 (valid in a path, but not a "safe" JS integer), so the room answered 400 and the
/// send 500.
#[tokio::test]
async fn a_send_to_the_largest_chat_id_is_404_not_500() {
    let app = app();
    let ann = app.user("big").await;
    let r = app
        .post(
            &format!("/messages/api/chats/{}/messages/", 1i64 << 53),
            &ann.token,
            json!({"content": "0", "client_id": "0"}),
        )
        .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
}
