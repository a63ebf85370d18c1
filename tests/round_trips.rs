//! D1 round-trip accounting (issue #6): every endpoint, on its happy path and its refusals,
//! answers with `Server-Timing: d1;desc="N";dur=X` where N, the sequential D1 round trips the
//! request made, is at most 2, and 1 for every GET. Walks the whole route table (src/routes.rs) against a real
//! local worker and prints what each endpoint cost.

mod common;

use common::{App, Resp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The budget of sequential D1 round trips per request.
const MAX_TRIPS: u32 = 2;

/// `(round trips, milliseconds)` from the response's `Server-Timing` header.
fn d1_timing(r: &Resp) -> Option<(u32, f64)> {
    let h = r.header("server-timing")?;
    let metric = h.split(',').map(str::trim).find(|m| m.starts_with("d1;"))?;
    let mut trips = None;
    let mut dur = None;
    for part in metric.split(';').skip(1) {
        match part.trim().split_once('=') {
            Some(("desc", v)) => trips = v.trim_matches('"').parse().ok(),
            Some(("dur", v)) => dur = v.parse().ok(),
            _ => {}
        }
    }
    Some((trips?, dur?))
}

/// Every request made, with what it cost.
struct Walk {
    app: App,
    seen: Vec<(String, StatusCode, u32, f64)>,
}

impl Walk {
    async fn call(
        &mut self,
        label: &str,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        expect: u16,
    ) -> Resp {
        let r = self.app.call(method, path, token, body).await;
        assert_eq!(r.status.as_u16(), expect, "{label}: {:?}", r.body);
        let (trips, ms) = d1_timing(&r)
            .unwrap_or_else(|| panic!("{label}: no d1 Server-Timing: {:?}", r.headers));
        self.seen.push((label.to_string(), r.status, trips, ms));
        r
    }
}

#[tokio::test]
async fn every_endpoint_makes_at_most_two_sequential_d1_round_trips() {
    let app = App::new(common::shared("round-trips", &[], ""));
    let mut w = Walk {
        app: app.clone(),
        seen: Vec::new(),
    };
    use Method as M;
    let api = "/messages/api";
    let (b, c) = (app.user("rtb").await, app.user("rtc").await);

    w.call(
        "GET schema (anonymous, from memory)",
        M::GET,
        &format!("{api}/schema/"),
        None,
        None,
        200,
    )
    .await;
    w.call("GET /healthz", M::GET, "/healthz", None, None, 200)
        .await;
    let name = common::unique("rta");
    let reg = w
        .call(
            "POST auth/register",
            M::POST,
            &format!("{api}/auth/register/"),
            None,
            Some(json!({"username": name, "password": common::PASSWORD})),
            201,
        )
        .await;
    let me_id = reg.body["user"]["id"].as_i64().unwrap();
    let creds = json!({"username": name, "password": common::PASSWORD});
    let login = w
        .call(
            "POST auth/login",
            M::POST,
            &format!("{api}/auth/login/"),
            None,
            Some(creds.clone()),
            200,
        )
        .await;
    let t = login.body["token"].as_str().unwrap().to_string();
    let t = t.as_str();
    w.call("POST /login", M::POST, "/login/", None, Some(creds), 200)
        .await;
    w.call(
        "POST auth/login (wrong password)",
        M::POST,
        &format!("{api}/auth/login/"),
        None,
        Some(json!({"username": name, "password": "nope-nope-1"})),
        400,
    )
    .await;
    w.call(
        "GET auth/me",
        M::GET,
        &format!("{api}/auth/me/"),
        Some(t),
        None,
        200,
    )
    .await;
    w.call(
        "GET auth/me (anonymous)",
        M::GET,
        &format!("{api}/auth/me/"),
        None,
        None,
        401,
    )
    .await;
    w.call(
        "GET users/search",
        M::GET,
        &format!("{api}/users/search/?q=rt"),
        Some(t),
        None,
        200,
    )
    .await;

    let dm = w
        .call(
            "POST chats (dm)",
            M::POST,
            &format!("{api}/chats/"),
            Some(t),
            Some(json!({"chat_type": "dm", "member_ids": [b.id]})),
            201,
        )
        .await;
    w.call(
        "POST chats (existing dm)",
        M::POST,
        &format!("{api}/chats/"),
        Some(t),
        Some(json!({"chat_type": "dm", "member_ids": [b.id]})),
        200,
    )
    .await;
    let dm = dm.body["id"].as_i64().unwrap();
    let group = w
        .call(
            "POST chats (group)",
            M::POST,
            &format!("{api}/chats/"),
            Some(t),
            Some(json!({"chat_type": "group", "title": "trips", "member_ids": [b.id]})),
            201,
        )
        .await;
    let g = group.body["id"].as_i64().unwrap();
    let chat = format!("{api}/chats/{g}/");
    w.call(
        "GET chats",
        M::GET,
        &format!("{api}/chats/"),
        Some(t),
        None,
        200,
    )
    .await;
    w.call("GET chats/{id}", M::GET, &chat, Some(t), None, 200)
        .await;
    w.call(
        "GET chats/{id} (not a member)",
        M::GET,
        &chat,
        Some(&c.token),
        None,
        404,
    )
    .await;
    w.call(
        "PATCH chats/{id}",
        M::PATCH,
        &chat,
        Some(t),
        Some(json!({"title": "t2"})),
        200,
    )
    .await;
    w.call(
        "PUT chats/{id}",
        M::PUT,
        &chat,
        Some(t),
        Some(json!({"title": "t3"})),
        200,
    )
    .await;
    w.call(
        "PATCH chats/{id} (not admin)",
        M::PATCH,
        &chat,
        Some(&b.token),
        Some(json!({"title": "x"})),
        403,
    )
    .await;

    let add = format!("{chat}members/add/");
    w.call(
        "POST members/add",
        M::POST,
        &add,
        Some(t),
        Some(json!({"user_ids": [c.id]})),
        200,
    )
    .await;
    w.call(
        "POST members/add (unknown id)",
        M::POST,
        &add,
        Some(t),
        Some(json!({"user_ids": [1_i64 << 40]})),
        400,
    )
    .await;

    let msgs = format!("{chat}messages/");
    let sent = w
        .call(
            "POST messages",
            M::POST,
            &msgs,
            Some(t),
            Some(json!({"content": "hi"})),
            201,
        )
        .await;
    let id = sent.body["id"].as_i64().unwrap();
    w.call(
        "POST messages (client_id retry)",
        M::POST,
        &msgs,
        Some(t),
        Some(json!({"content": "once", "client_id": "k1"})),
        201,
    )
    .await;
    w.call(
        "POST messages (client_id retry)",
        M::POST,
        &msgs,
        Some(t),
        Some(json!({"content": "once", "client_id": "k1"})),
        200,
    )
    .await;
    w.call("GET messages", M::GET, &msgs, Some(t), None, 200)
        .await;
    w.call(
        "GET messages?before",
        M::GET,
        &format!("{msgs}?before={}", id + 1),
        Some(t),
        None,
        200,
    )
    .await;
    let msg = format!("{api}/messages/{id}/");
    w.call("GET messages/{id}", M::GET, &msg, Some(t), None, 200)
        .await;
    w.call(
        "GET messages/{id} (not a member)",
        M::GET,
        &format!("{api}/messages/{}/", id),
        Some(&app.user("rtd").await.token),
        None,
        404,
    )
    .await;
    w.call(
        "PATCH messages/{id}",
        M::PATCH,
        &msg,
        Some(t),
        Some(json!({"content": "edited"})),
        200,
    )
    .await;
    w.call(
        "PUT messages/{id}",
        M::PUT,
        &msg,
        Some(t),
        Some(json!({"content": "again"})),
        200,
    )
    .await;
    w.call(
        "PATCH messages/{id} (not the sender)",
        M::PATCH,
        &msg,
        Some(&b.token),
        Some(json!({"content": "x"})),
        403,
    )
    .await;
    let react = format!("{msg}reactions/");
    w.call(
        "POST reactions (add)",
        M::POST,
        &react,
        Some(&b.token),
        Some(json!({"emoji": "👍"})),
        200,
    )
    .await;
    w.call(
        "POST reactions (remove)",
        M::POST,
        &react,
        Some(&b.token),
        Some(json!({"emoji": "👍"})),
        200,
    )
    .await;
    w.call(
        "POST mark-as-read",
        M::POST,
        &format!("{chat}mark-as-read/"),
        Some(&b.token),
        Some(json!({})),
        200,
    )
    .await;
    w.call(
        "POST typing",
        M::POST,
        &format!("{chat}typing/"),
        Some(t),
        Some(json!({"is_typing": true})),
        200,
    )
    .await;
    w.call(
        "GET ws (not an upgrade)",
        M::GET,
        &format!("{chat}ws/"),
        Some(t),
        None,
        426,
    )
    .await;
    w.call("DELETE messages/{id}", M::DELETE, &msg, Some(t), None, 204)
        .await;
    w.call(
        "DELETE members/{id}/remove",
        M::DELETE,
        &format!("{chat}members/{}/remove/", c.id),
        Some(t),
        None,
        204,
    )
    .await;
    w.call(
        "DELETE members/{id}/remove (leave)",
        M::DELETE,
        &format!("{chat}members/{me_id}/remove/"),
        Some(t),
        None,
        204,
    )
    .await;
    w.call(
        "DELETE chats/{id}",
        M::DELETE,
        &format!("{api}/chats/{dm}/"),
        Some(t),
        None,
        204,
    )
    .await;
    w.call(
        "POST auth/logout",
        M::POST,
        &format!("{api}/auth/logout/"),
        Some(t),
        None,
        204,
    )
    .await;

    println!(
        "{:<40} {:>6} {:>6} {:>8}",
        "request", "status", "trips", "d1 ms"
    );
    for (label, status, trips, ms) in &w.seen {
        println!("{label:<40} {:>6} {trips:>6} {ms:>8.1}", status.as_u16());
    }
    let over: Vec<_> = w.seen.iter().filter(|s| s.2 > MAX_TRIPS).collect();
    assert!(
        over.is_empty(),
        "over {MAX_TRIPS} sequential D1 round trips: {over:?}"
    );
    // Reads go further: what they show is read in the round trip that authenticates.
    let reads: Vec<_> = w
        .seen
        .iter()
        .filter(|s| s.0.starts_with("GET ") && s.2 > 1)
        .collect();
    assert!(reads.is_empty(), "reads above one round trip: {reads:?}");
    // The count is real: whatever reads a session or the schema went to D1 at least once.
    let free: Vec<_> = w
        .seen
        .iter()
        .filter(|s| s.2 == 0 && !s.0.contains("anonymous"))
        .collect();
    assert!(free.is_empty(), "requests that claim no D1 work: {free:?}");
}
