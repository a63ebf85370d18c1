//! The OpenAPI schema through a real local worker (issue #6): it is served publicly at
//! `/messages/api/schema/` exactly as kept in the repository, every documented path refuses
//! other methods with an `Allow` that matches the schema, and real answers of every resource
//! validate against the schema's response for their operation and status — with no
//! undocumented properties (which Schemathesis, in `make fuzz`, does not look for) — each
//! within the D1 round-trip budget its `Server-Timing` reports (at most 2; 1 for a GET).

mod common;

use common::{root, shared, App, D1Cost, User};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn app() -> App {
    // Refusals carry Server-Timing too here, so every answer's D1 cost is checked; host-site
    // sign-in is on, so its answers are walked too.
    App::new(shared(
        "schema",
        &[
            ("SERVER_TIMING_ALWAYS", "true"),
            ("SSO_SECRET", common::jwt::SSO_SECRET),
        ],
        "",
    ))
}

fn repo_schema() -> Value {
    let text = std::fs::read_to_string(root().join("openapi.json")).expect("openapi.json");
    serde_json::from_str(&text).expect("openapi.json is JSON")
}

/// Follows `$ref`s (local ones only) to the schema object.
fn resolve<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
    while let Some(r) = v.get("$ref").and_then(Value::as_str) {
        v = doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{r} resolves"));
    }
    v
}

/// Every property name an object schema documents, through `$ref` and `allOf`.
fn documented_properties(doc: &Value, schema: &Value, out: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        out.extend(props.keys().cloned());
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        documented_properties(doc, part, out);
    }
}

/// A small JSON Schema validator for the keywords openapi.json uses. Objects must not carry
/// properties the schema does not document. Errors are collected with their JSON path.
fn validate(doc: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    check_value(doc, schema, v, at, errors, true);
}

/// `strict`: report undocumented properties here. Off for the parts of an `allOf`, whose
/// properties are only complete together (the `allOf` owner checks their union).
fn check_value(
    doc: &Value,
    schema: &Value,
    v: &Value,
    at: &str,
    errors: &mut Vec<String>,
    strict: bool,
) {
    let schema = resolve(doc, schema);
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        for part in parts {
            check_value(doc, part, v, at, errors, false);
        }
    }
    if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
        let passing = branches
            .iter()
            .filter(|b| {
                let mut e = Vec::new();
                validate(doc, b, v, at, &mut e);
                e.is_empty()
            })
            .count();
        if passing != 1 {
            errors.push(format!("{at}: {passing} oneOf branches match {v}"));
        }
    }
    if let Some(c) = schema.get("const") {
        if c != v {
            errors.push(format!("{at}: {v} is not {c}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(v) {
            errors.push(format!("{at}: {v} not in {options:?}"));
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !types.is_empty() {
        let actual = match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let ok = types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
        if !ok {
            errors.push(format!("{at}: {v} is {actual}, schema says {types:?}"));
            return;
        }
    }
    if let Some(n) = v.as_f64() {
        if schema["minimum"].as_f64().is_some_and(|m| n < m) {
            errors.push(format!("{at}: {n} below minimum"));
        }
        if schema["maximum"].as_f64().is_some_and(|m| n > m) {
            errors.push(format!("{at}: {n} above maximum"));
        }
    }
    if let Some(s) = v.as_str() {
        let len = s.chars().count() as u64;
        if schema["minLength"].as_u64().is_some_and(|m| len < m) {
            errors.push(format!("{at}: shorter than minLength"));
        }
        if schema["maxLength"].as_u64().is_some_and(|m| len > m) {
            errors.push(format!("{at}: longer than maxLength"));
        }
    }
    if let Some(items) = v.as_array() {
        if schema["minItems"]
            .as_u64()
            .is_some_and(|m| (items.len() as u64) < m)
        {
            errors.push(format!("{at}: fewer than minItems"));
        }
        if schema["maxItems"]
            .as_u64()
            .is_some_and(|m| (items.len() as u64) > m)
        {
            errors.push(format!("{at}: more than maxItems"));
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                validate(doc, item_schema, item, &format!("{at}[{i}]"), errors);
            }
        }
    }
    if let Some(obj) = v.as_object() {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap();
            if !obj.contains_key(name) {
                errors.push(format!("{at}: required `{name}` is missing"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (key, value) in obj {
            let at = format!("{at}.{key}");
            if let Some(p) = props.and_then(|p| p.get(key)) {
                validate(doc, p, value, &at, errors);
            } else if let Some(extra) = schema.get("additionalProperties") {
                validate(doc, extra, value, &at, errors);
            }
        }
        // Undocumented properties: only where the object is described by properties.
        let mut known = Vec::new();
        documented_properties(doc, schema, &mut known);
        if strict && !known.is_empty() && schema.get("additionalProperties").is_none() {
            for key in obj.keys().filter(|k| !known.contains(k)) {
                errors.push(format!("{at}: `{key}` is not documented"));
            }
        }
    }
}

/// Asserts that `body` with `status` is what the schema documents for `method path`.
fn conforms(doc: &Value, method: &str, path: &str, status: StatusCode, body: &Value) {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is documented");
    let response = resolve(doc, &op["responses"][status.as_str()]);
    assert!(
        response.is_object(),
        "{method} {path}: status {status} is documented (body {body})"
    );
    match response.pointer("/content/application~1json/schema") {
        None => assert!(
            body.is_null(),
            "{method} {path} {status}: no body documented"
        ),
        Some(schema) => {
            let mut errors = Vec::new();
            validate(doc, schema, body, "$", &mut errors);
            assert!(
                errors.is_empty(),
                "{method} {path} {status} does not match the schema:\n{}\nbody: {body}",
                errors.join("\n")
            );
        }
    }
}

#[tokio::test]
async fn the_schema_is_served_publicly_exactly_as_kept_in_the_repository() {
    let app = app();
    for path in ["/messages/api/schema/", "/messages/api/schema"] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path} needs no credentials");
        let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(
            content_type.starts_with("application/json"),
            "content type {content_type}"
        );
        let served: Value = r.json().await.expect("JSON");
        assert_eq!(served, repo_schema(), "{path} serves openapi.json");
        assert!(served["openapi"].as_str().unwrap().starts_with("3.1."));
    }
}

/// Every documented path, called with a method it does not list, is 405 with an `Allow` that
/// names exactly the documented methods; so is a method worker-rs does not know (QUERY).
#[tokio::test]
async fn undocumented_methods_are_405_with_the_documented_methods_in_allow() {
    let app = app();
    let doc = repo_schema();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 18, "paths: {}", paths.len());
    for (path, item) in paths {
        let mut documented: Vec<String> = item
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "parameters")
            .map(|k| k.to_uppercase())
            .collect();
        documented.sort();
        let url = app.url(
            &path
                .replace("{chat_id}", "1")
                .replace("{message_id}", "1")
                .replace("{user_id}", "1")
                .replace("{room_id}", "1")
                .replace("{key}", "k"),
        );
        for method in [Method::OPTIONS, Method::from_bytes(b"QUERY").unwrap()] {
            let r = app.http.request(method.clone(), &url).send().await.unwrap();
            assert_eq!(r.status(), 405, "{method} {path}");
            let mut allow: Vec<String> = r.headers()["allow"]
                .to_str()
                .unwrap()
                .split(',')
                .map(|m| m.trim().to_string())
                .collect();
            allow.sort();
            assert_eq!(allow, documented, "Allow of {method} {path}");
        }
    }
}

async fn group(app: &App, owner: &User, members: &[&User]) -> (StatusCode, Value) {
    let r = app.try_group(owner, "Schema", members).await;
    (r.status, r.body)
}

fn d1_timing(r: &common::Resp) -> Option<D1Cost> {
    common::d1_cost(&r.header("server-timing")?)
}

/// The D1 budget (issue #6): sequential round trips per request, at most 2; a GET reads what
/// it shows in the round trip that authenticates, so 1.
fn budget(method: &str) -> u32 {
    if method == "get" {
        1
    } else {
        2
    }
}

/// One real answer of every documented operation (success and the usual refusals), each
/// validated against the schema's response for its status, and each within the D1 round-trip
/// budget its `Server-Timing` reports. Prints what every request cost.
#[tokio::test]
async fn real_answers_match_the_documented_responses_within_the_d1_budget() {
    let app = app();
    let doc = repo_schema();
    let seen = std::cell::RefCell::new(Vec::new());
    let check = |method: &str, path: &str, r: &common::Resp| {
        conforms(&doc, method, path, r.status, &r.body);
        let cost = d1_timing(r).unwrap_or_else(|| {
            panic!("{method} {path} {}: no complete d1 Server-Timing", r.status)
        });
        seen.borrow_mut().push((
            method.to_string(),
            path.to_string(),
            r.status.as_u16(),
            cost.trips,
            cost.ms,
            cost.read,
            cost.written,
        ));
    };
    let none: Option<&str> = None;

    // Auth and users.
    let name = common::unique("ann");
    let r = app
        .call(
            Method::POST,
            "/messages/api/auth/register/",
            None,
            Some(json!({"username": name, "password": common::PASSWORD, "first_name": "Ann"})),
        )
        .await;
    assert_eq!(r.status, 201);
    check("post", "/messages/api/auth/register/", &r);
    let ann = User {
        id: r.body["user"]["id"].as_i64().unwrap(),
        username: name.clone(),
        token: r.body["token"].as_str().unwrap().to_string(),
        password: common::PASSWORD.to_string(),
    };
    let [bob, cy] = app.users(["bob", "cy"]).await;
    let r = app
        .call(
            Method::POST,
            "/messages/api/auth/register/",
            none,
            Some(json!({"username": "has space", "password": "x"})),
        )
        .await;
    assert_eq!(r.status, 400);
    check("post", "/messages/api/auth/register/", &r);
    let r = app
        .call(
            Method::POST,
            "/messages/api/auth/login/",
            none,
            Some(json!({"username": name, "password": common::PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200);
    check("post", "/messages/api/auth/login/", &r);
    // Host-site sign-in: a site's token (SPEC §3), a refused one, and no token.
    let site_user = common::jwt::claims(&common::unique("site-"));
    for (body, status) in [
        (json!({"token": common::jwt::hs256(&site_user)}), 200),
        (json!({"token": "not-a-token"}), 401),
        (json!({}), 400),
    ] {
        let r = app
            .call(Method::POST, "/messages/api/auth/sso/", none, Some(body))
            .await;
        assert_eq!(r.status, status, "{}", r.body);
        check("post", "/messages/api/auth/sso/", &r);
    }
    let login_form = app
        .http
        .post(app.url("/login/"))
        .form(&[("username", name.as_str()), ("password", "wrong-password")])
        .send()
        .await
        .unwrap();
    let r = App::read(login_form).await;
    assert_eq!(r.status, 400);
    check("post", "/login/", &r);
    // The sign-in page (SPEC §11) is HTML; without a session cookie it reads nothing.
    let r = app
        .call(Method::GET, "/login/?next=/messages/", None, None)
        .await;
    assert_eq!(r.status, 200);
    check("get", "/login/", &r);
    let r = app.get("/messages/api/auth/me/", &ann.token).await;
    check("get", "/messages/api/auth/me/", &r);
    let r = app
        .call(Method::GET, "/messages/api/auth/me/", None, None)
        .await;
    assert_eq!(r.status, 401);
    check("get", "/messages/api/auth/me/", &r);
    let r = app
        .get(
            &format!("/messages/api/users/search/?q={}", bob.username),
            &ann.token,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["results"].as_array().unwrap().len(), 1);
    check("get", "/messages/api/users/search/", &r);
    let r = app.get("/messages/api/users/search/", &ann.token).await;
    assert_eq!(r.status, 400);
    check("get", "/messages/api/users/search/", &r);
    let user_path = "/messages/api/users/{user_id}/";
    let r = app
        .get(&format!("/messages/api/users/{}/", bob.id), &ann.token)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["username"], bob.username.as_str());
    check("get", user_path, &r);
    let r = app
        .get(
            &format!("/messages/api/users/{}/", bob.id + 1_000_000),
            &ann.token,
        )
        .await;
    assert_eq!(r.status, 404);
    check("get", user_path, &r);
    let r = app
        .call(
            Method::GET,
            &format!("/messages/api/users/{}/", bob.id),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 401);
    check("get", user_path, &r);

    // Chats and members.
    let (status, chat) = group(&app, &ann, &[&bob]).await;
    assert_eq!(status, 201);
    conforms(&doc, "post", "/messages/api/chats/", status, &chat);
    let chat_id = chat["id"].as_i64().unwrap();
    let dm = json!({"chat_type": "dm", "member_ids": [bob.id]});
    let r = app
        .post("/messages/api/chats/", &ann.token, dm.clone())
        .await;
    assert_eq!(r.status, 201);
    check("post", "/messages/api/chats/", &r);
    let dm_back = json!({"chat_type": "dm", "member_ids": [ann.id]});
    let r = app.post("/messages/api/chats/", &bob.token, dm_back).await;
    assert_eq!(r.status, 200, "the existing DM");
    check("post", "/messages/api/chats/", &r);
    let chat_path = "/messages/api/chats/{chat_id}/";
    let r = app
        .get(&format!("/messages/api/chats/{chat_id}/"), &ann.token)
        .await;
    check("get", chat_path, &r);
    let r = app
        .get(&format!("/messages/api/chats/{chat_id}/"), &cy.token)
        .await;
    assert_eq!(r.status, 404, "non-member");
    check("get", chat_path, &r);
    let r = app.rename(&ann, chat_id, "Renamed").await;
    assert_eq!(r.status, 200);
    check("patch", chat_path, &r);
    let r = app
        .put(
            &format!("/messages/api/chats/{chat_id}/"),
            &bob.token,
            json!({"title": "Mine now"}),
        )
        .await;
    assert_eq!(r.status, 403, "not an admin");
    check("put", chat_path, &r);
    let r = app.add_members(&ann, chat_id, json!([cy.id])).await;
    assert_eq!(r.status, 200);
    check("post", "/messages/api/chats/{chat_id}/members/add/", &r);
    let r = app
        .post(
            &format!("/messages/api/chats/{chat_id}/members/add/"),
            &ann.token,
            json!({"user_ids": "x"}),
        )
        .await;
    assert_eq!(r.status, 400);
    check("post", "/messages/api/chats/{chat_id}/members/add/", &r);

    // Messages, reactions, read receipts, typing.
    let send = format!("/messages/api/chats/{chat_id}/messages/");
    let r = app
        .post(
            &send,
            &bob.token,
            json!({"content": "hello", "client_id": "c1"}),
        )
        .await;
    assert_eq!(r.status, 201);
    check("post", "/messages/api/chats/{chat_id}/messages/", &r);
    let message_id = r.body["id"].as_i64().unwrap();
    let r = app
        .post(
            &send,
            &bob.token,
            json!({"content": "hello", "client_id": "c1"}),
        )
        .await;
    assert_eq!(r.status, 200, "a repeated client_id");
    check("post", "/messages/api/chats/{chat_id}/messages/", &r);
    let r = app.post(&send, &ann.token, json!({"content": 123})).await;
    assert_eq!(r.status, 400);
    check("post", "/messages/api/chats/{chat_id}/messages/", &r);
    let message_path = "/messages/api/messages/{message_id}/";
    let r = app.react(&ann, message_id, "👍").await;
    assert_eq!(r.status, 200);
    check("post", "/messages/api/messages/{message_id}/reactions/", &r);
    let r = app
        .get(&format!("/messages/api/messages/{message_id}/"), &ann.token)
        .await;
    assert_eq!(r.body["reactions"][0]["count"], 1);
    check("get", message_path, &r);
    let r = app.edit(&bob, message_id, "edited").await;
    assert_eq!(r.status, 200);
    check("patch", message_path, &r);
    let r = app
        .put(
            &format!("/messages/api/messages/{message_id}/"),
            &ann.token,
            json!({"content": "not mine"}),
        )
        .await;
    assert_eq!(r.status, 403);
    check("put", message_path, &r);
    let r = app.mark_read(&ann, chat_id, json!({})).await;
    assert_eq!(r.status, 200);
    check("post", "/messages/api/chats/{chat_id}/mark-as-read/", &r);
    let r = app
        .post(
            &format!("/messages/api/chats/{chat_id}/typing/"),
            &ann.token,
            json!({"is_typing": true}),
        )
        .await;
    assert_eq!(r.status, 200);
    check("post", "/messages/api/chats/{chat_id}/typing/", &r);
    let r = app
        .get(&format!("/messages/api/chats/{chat_id}/ws/"), &ann.token)
        .await;
    assert_eq!(r.status, 426);
    check("get", "/messages/api/chats/{chat_id}/ws/", &r);
    // The user stream: a cursor, the events after one (with typing in the open chat), and
    // the refusals.
    let r = app.get("/messages/api/events/", &ann.token).await;
    assert_eq!(r.status, 200);
    check("get", "/messages/api/events/", &r);
    let r = app
        .get(
            &format!("/messages/api/events/?after=0&chat={chat_id}"),
            &ann.token,
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(
        !r.body["events"].as_array().unwrap().is_empty(),
        "{:?}",
        r.body
    );
    check("get", "/messages/api/events/", &r);
    for (query, status) in [("?after=nope", 400), ("?chat=999999", 404)] {
        let r = app
            .get(&format!("/messages/api/events/{query}"), &ann.token)
            .await;
        assert_eq!(r.status, status, "{query}");
        check("get", "/messages/api/events/", &r);
    }
    let r = app.get("/messages/api/events/", "").await;
    assert_eq!(r.status, 401);
    check("get", "/messages/api/events/", &r);
    let r = app.get("/messages/api/ws/", &ann.token).await;
    assert_eq!(r.status, 426);
    check("get", "/messages/api/ws/", &r);
    let r = app.get("/messages/api/chats/", &bob.token).await;
    assert_eq!(r.status, 200);
    assert!(
        r.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["last_message"].is_object()),
        "a chat with a last message is validated too"
    );
    check("get", "/messages/api/chats/", &r);
    let r = app
        .get(
            &format!("/messages/api/chats/{chat_id}/messages/"),
            &cy.token,
        )
        .await;
    assert_eq!(r.status, 200);
    check("get", "/messages/api/chats/{chat_id}/messages/", &r);

    // Deletions last.
    let r = app
        .delete(&format!("/messages/api/messages/{message_id}/"), &bob.token)
        .await;
    assert_eq!(r.status, 204);
    check("delete", message_path, &r);
    let r = app
        .delete(
            &format!("/messages/api/chats/{chat_id}/members/{}/remove/", cy.id),
            &ann.token,
        )
        .await;
    assert_eq!(r.status, 204);
    check(
        "delete",
        "/messages/api/chats/{chat_id}/members/{user_id}/remove/",
        &r,
    );
    // Rooms (SPEC §10).
    let rooms = "/messages/api/rooms/";
    let key = common::unique("page:");
    let r = app
        .post(rooms, &ann.token, json!({"title": "Room", "key": key}))
        .await;
    assert_eq!(r.status, 201);
    check("post", rooms, &r);
    let room_id = r.body["id"].as_i64().unwrap();
    let r = app
        .post(rooms, &bob.token, json!({"title": "Room", "key": key}))
        .await;
    assert_eq!(r.status, 200, "the key's room");
    check("post", rooms, &r);
    let r = app.post(rooms, &bob.token, json!({"title": " "})).await;
    assert_eq!(r.status, 400);
    check("post", rooms, &r);
    let r = app.get(&format!("{rooms}?search=room"), &bob.token).await;
    assert_eq!(r.status, 200);
    check("get", rooms, &r);
    let room_path = "/messages/api/rooms/{room_id}/";
    let r = app.get(&format!("{rooms}{room_id}/"), &cy.token).await;
    assert_eq!(r.status, 200);
    check("get", room_path, &r);
    let r = app.get(&format!("{rooms}{chat_id}/"), &cy.token).await;
    assert_eq!(r.status, 404, "a group is no room");
    check("get", room_path, &r);
    let by_key = "/messages/api/rooms/by-key/{key}/";
    let r = app.get(&format!("{rooms}by-key/{key}/"), &cy.token).await;
    assert_eq!(r.status, 200);
    check("get", by_key, &r);
    let r = app
        .get(&format!("{rooms}by-key/nope{key}/"), &cy.token)
        .await;
    assert_eq!(r.status, 404);
    check("get", by_key, &r);
    let r = app
        .get(
            &format!("/messages/api/chats/{room_id}/messages/"),
            &cy.token,
        )
        .await;
    assert_eq!(r.status, 403, "join first");
    check("get", "/messages/api/chats/{chat_id}/messages/", &r);
    let join = "/messages/api/rooms/{room_id}/join/";
    let r = app
        .post(&format!("{rooms}{room_id}/join/"), &cy.token, json!({}))
        .await;
    assert_eq!(r.status, 200);
    check("post", join, &r);
    let r = app
        .post(&format!("{rooms}{room_id}/join/"), &cy.token, json!({}))
        .await;
    assert_eq!(r.status, 200, "joined already");
    check("post", join, &r);
    let leave = "/messages/api/rooms/{room_id}/leave/";
    let r = app
        .post(&format!("{rooms}{room_id}/leave/"), &cy.token, json!({}))
        .await;
    assert_eq!(r.status, 204);
    check("post", leave, &r);
    let r = app
        .post(&format!("{rooms}{room_id}/leave/"), &cy.token, json!({}))
        .await;
    assert_eq!(r.status, 204, "not a member");
    check("post", leave, &r);
    let r = app
        .post(&format!("{rooms}999999999/leave/"), &cy.token, json!({}))
        .await;
    assert_eq!(r.status, 404);
    check("post", leave, &r);
    let r = app
        .delete(&format!("/messages/api/chats/{chat_id}/"), &ann.token)
        .await;
    assert_eq!(r.status, 204);
    check("delete", chat_path, &r);
    let r = app
        .call(
            Method::POST,
            "/messages/api/auth/logout/",
            Some(&ann.token),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    check("post", "/messages/api/auth/logout/", &r);
    let r = app
        .call(
            Method::POST,
            "/messages/api/auth/logout-all/",
            Some(&bob.token),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    check("post", "/messages/api/auth/logout-all/", &r);
    let r = app
        .call(Method::POST, "/messages/api/auth/logout-all/", None, None)
        .await;
    assert_eq!(r.status, 401);
    check("post", "/messages/api/auth/logout-all/", &r);
    let r = app.get("/healthz", "").await;
    check("get", "/healthz", &r);
    let r = app.call(Method::HEAD, "/healthz", None, None).await;
    assert_eq!(r.status, 200);
    check("head", "/healthz", &r);
    let r = app
        .call(Method::GET, "/messages/api/schema/", None, None)
        .await;
    assert_eq!(r.status, 200);
    check("get", "/messages/api/schema/", &r);
    let r = app.get("/messages/api/config/", "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["transport"], "websocket", "TRANSPORT's default");
    assert_eq!(r.body["poll_interval_ms"], 3000);
    check("get", "/messages/api/config/", &r);

    let seen = seen.into_inner();
    println!(
        "{:<7} {:<58} {:>6} {:>6} {:>7} {:>9} {:>8}",
        "method", "path", "status", "trips", "d1 ms", "rows read", "written"
    );
    for (method, path, status, trips, ms, read, written) in &seen {
        println!("{method:<7} {path:<58} {status:>6} {trips:>6} {ms:>7.1} {read:>9} {written:>8}");
    }
    let over: Vec<_> = seen.iter().filter(|s| s.3 > budget(&s.0)).collect();
    assert!(over.is_empty(), "over the D1 round-trip budget: {over:?}");
    // The count is real: every success but the schema's and the config's (served from memory)
    // and the sign-in page's (no session cookie sent) went to D1.
    let free: Vec<_> = seen
        .iter()
        .filter(|s| {
            s.3 == 0
                && s.2 < 300
                && !["/messages/api/schema/", "/messages/api/config/", "/login/"]
                    .contains(&s.1.as_str())
        })
        .collect();
    assert!(free.is_empty(), "requests that claim no D1 work: {free:?}");
    // Every documented operation was walked.
    let mut missing = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let methods = ["get", "put", "post", "delete", "patch", "head", "options"];
        for method in ops.as_object().unwrap().keys() {
            if !methods.contains(&method.as_str()) {
                continue; // `parameters`, shared by the path's operations
            }
            if !seen.iter().any(|s| &s.0 == method && &s.1 == path) {
                missing.push(format!("{method} {path}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "operations the walk skipped: {missing:?}"
    );
}

/// The validator itself catches what it is there to catch.
#[test]
fn the_validator_rejects_missing_extra_and_mistyped_properties() {
    let doc = repo_schema();
    let user = json!({"$ref": "#/components/schemas/UserWithEmail"});
    let good = json!({"id": 1, "username": "a", "display_name": "a",
                      "avatar_url": "data:x", "email": ""});
    let mut errors = Vec::new();
    validate(&doc, &user, &good, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    for bad in [
        json!({"id": 1, "username": "a", "display_name": "a", "avatar_url": "x"}),
        json!({"id": 1, "username": "a", "display_name": "a", "avatar_url": "x", "email": "",
               "extra": 1}),
        json!({"id": "1", "username": "a", "display_name": "a", "avatar_url": "x",
               "email": ""}),
    ] {
        let mut errors = Vec::new();
        validate(&doc, &user, &bad, "$", &mut errors);
        assert!(!errors.is_empty(), "{bad} is refused");
    }
}
