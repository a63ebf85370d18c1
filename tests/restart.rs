//! The write path survives a crash of the runtime (docs/realtime.md): `wrangler dev` is killed
//! and started again on the same state while several people send at once. Every acknowledged
//! message is stored once, in a gap-free order, and a send retried with its `client_id` after
//! the crash stores nothing twice.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{ws_next, App, Frame, User, Worker};
use serde_json::{json, Value};

const SENDERS: usize = 4;
const PER_SENDER: usize = 60;

/// Sends `text` with `client_id` until the worker acknowledges it (201, or 200 for a retry
/// whose first attempt was stored); the message's id.
async fn send_until_acknowledged(app: &App, who: &User, chat: i64, client_id: &str) -> i64 {
    let body = json!({"content": format!("from {client_id}"), "client_id": client_id});
    let path = format!("/messages/api/chats/{chat}/messages/");
    loop {
        let sent = app
            .http
            .post(app.url(&path))
            .bearer_auth(&who.token)
            .json(&body)
            .timeout(Duration::from_secs(20))
            .send()
            .await;
        if let Ok(r) = sent {
            let r = App::read(r).await;
            if r.status == 201 || r.status == 200 {
                return r.body["id"].as_i64().expect("message id");
            }
            assert!(
                r.status.is_server_error(),
                "{client_id}: refused {}: {:?}",
                r.status,
                r.body
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_messages_survive_a_crash_once_each_and_in_order() {
    let worker = Arc::new(Worker::start("restart", &[], ""));
    let app = App::new(&worker);
    let mut users = Vec::new();
    for i in 0..SENDERS {
        users.push(app.user(&format!("crash{i}")).await);
    }
    let others: Vec<&User> = users[1..].iter().collect();
    let chat = app.group(&users[0], "Crash", &others).await["id"]
        .as_i64()
        .unwrap();

    let done = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    for (i, u) in users.iter().cloned().enumerate() {
        let (app, done) = (app.clone(), done.clone());
        senders.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for n in 0..PER_SENDER {
                let client_id = format!("s{i}-{n}");
                let id = send_until_acknowledged(&app, &u, chat, &client_id).await;
                acked.push((client_id, id));
                done.fetch_add(1, Ordering::SeqCst);
            }
            acked
        }));
    }
    // Crash mid-way through the sends.
    while done.load(Ordering::SeqCst) < SENDERS * PER_SENDER / 4 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before_restart_done = done.load(Ordering::SeqCst);
    let w = worker.clone();
    tokio::task::spawn_blocking(move || w.restart())
        .await
        .unwrap();

    let mut acked: HashMap<String, i64> = HashMap::new();
    for s in senders {
        for (client_id, id) in s.await.unwrap() {
            acked.insert(client_id, id);
        }
    }
    assert!(
        before_restart_done < SENDERS * PER_SENDER,
        "the crash came while sends were going on ({before_restart_done} acknowledged)"
    );
    assert_eq!(acked.len(), SENDERS * PER_SENDER);

    // Stored once each: the chat holds exactly the acknowledged messages.
    let mut stored: BTreeMap<i64, Value> = BTreeMap::new();
    let mut path = format!("/messages/api/chats/{chat}/messages/");
    loop {
        let page = app.get(&path, &users[0].token).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        for m in page.body["results"].as_array().unwrap() {
            stored.insert(m["id"].as_i64().unwrap(), m.clone());
        }
        match page.body["next"].as_str() {
            Some(next) => path = next.trim_start_matches(&app.base).to_string(),
            None => break,
        }
    }
    assert_eq!(stored.len(), acked.len(), "nothing lost, nothing twice");
    for (client_id, id) in &acked {
        assert_eq!(stored[id]["client_id"], client_id.as_str(), "message {id}");
    }

    // In a gap-free order: the log replays seq 1, 2, 3, ... with every message once.
    let mut ws = app.ws(chat, &users[1].token, "?since=0").await;
    let mut seqs = Vec::new();
    let mut delivered = Vec::new();
    while let Frame::Json(e) = ws_next(&mut ws, Duration::from_secs(3)).await {
        seqs.push(e["seq"].as_i64().expect("durable events carry seq"));
        if e["type"] == "new_message" {
            delivered.push(e["message"]["id"].as_i64().unwrap());
        }
    }
    let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
    assert_eq!(seqs, expected, "seq 1.. with no gap and no repeat");
    delivered.sort_unstable();
    let mut ids: Vec<i64> = stored.keys().copied().collect();
    ids.sort_unstable();
    assert_eq!(delivered, ids, "one new_message per stored message");
}
