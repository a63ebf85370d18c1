//! Reads cost the same in a big chat as in a small one (issue 18): the rows D1 reports read
//! (`Server-Timing`'s `d1read`) for a chat of 20,000 messages stay within 1.5× of a chat of 200,
//! and under 1,000, for the first message page, a `before=` page, `page=N`, the chat list where
//! the big chat is all unread, and marking it read — while `count`, `unread_count`,
//! `marked_count` and the `next`/`previous` links keep their meaning.
//!
//! The chats are built by SQL, in the seed the harness applies to the worker's fresh D1
//! (`wrangler d1 execute` before `wrangler dev` starts; `tests/common/bulk.rs`): one
//! `INSERT ... SELECT` over a recursive CTE per chat, which takes under a second. Every row
//! goes through the insert trigger every send fires, so the chat's count, each message's
//! ordinal and the senders' read pointers are kept by the database as for sends. Sending
//! 20,000 messages through the API would take minutes here (~200 sends/s on 2 shared cores)
//! and exercise nothing more of the reads. What the API writes on top — sends (which number
//! their messages in their own insert), a delete, a leave and return, mark-as-read — is done
//! through the API below, and the counts are checked after each.

mod common;

use common::{bulk, shared, App, Resp};
use serde_json::{json, Value};

const BIG: i64 = 20_000;
const SMALL: i64 = 200;
const PAGE: usize = 50; // MESSAGES_PER_PAGE's default

/// Chat ids, users, tokens.
const BIG_CHAT: i64 = 1;
const SMALL_CHAT: i64 = 2;
/// Readers: member of one of the two chats (and of a filler chat each, so the lists have the
/// same shape); they never send, so everything is unread for them.
const BIG_READER: i64 = 1;
const SMALL_READER: i64 = 2;
/// The senders, members of every chat; `SENDER` is the chats' admin.
const SENDER: i64 = 3;
const OTHER: i64 = 4;
/// A second big chat and its reader, for the test that changes what it holds.
const CHANGED_CHAT: i64 = 5;
const CHANGED_READER: i64 = 5;

fn token(user: i64) -> String {
    format!("bounded-reads-{user}")
}

fn seed() -> String {
    let mut sql = String::new();
    for (id, name) in [
        (BIG_READER, "bigreader"),
        (SMALL_READER, "smallreader"),
        (SENDER, "sender"),
        (OTHER, "other"),
        (CHANGED_READER, "changedreader"),
    ] {
        sql += &bulk::user(id, name, &token(id));
    }
    sql += &bulk::group(BIG_CHAT, "Big", &[SENDER, OTHER, BIG_READER]);
    sql += &bulk::group(SMALL_CHAT, "Small", &[SENDER, OTHER, SMALL_READER]);
    sql += &bulk::messages(BIG_CHAT, &[SENDER, OTHER], BIG);
    sql += &bulk::messages(SMALL_CHAT, &[SENDER, OTHER], SMALL);
    sql += &bulk::group(CHANGED_CHAT, "Changed", &[SENDER, OTHER, CHANGED_READER]);
    sql += &bulk::messages(CHANGED_CHAT, &[SENDER, OTHER], BIG);
    for (chat, reader) in [(3, BIG_READER), (4, SMALL_READER)] {
        sql += &bulk::group(chat, "Filler", &[SENDER, reader]);
        sql += &bulk::messages(chat, &[SENDER], 5);
    }
    sql
}

fn app() -> App {
    // Refusals carry Server-Timing too, so a page past the end shows its cost.
    App::new(shared(
        "bounded-reads",
        &[("SERVER_TIMING_ALWAYS", "true")],
        &seed(),
    ))
}

/// The rows `big` and `small` read are within 1.5× of each other and under 1,000 each.
fn flat(what: &str, big: &Resp, small: &Resp) {
    let (b, s) = (big.d1().read, small.d1().read);
    println!("{what}: {b} rows read ({BIG} messages), {s} ({SMALL} messages)");
    assert!(
        b <= 1000 && s <= 1000,
        "{what}: at most 1,000 rows read: {b} (big chat), {s} (small chat)"
    );
    assert!(
        b * 2 <= s * 3 && s * 2 <= b * 3,
        "{what}: rows read within 1.5× of each other: {b} ({BIG} messages) vs {s} ({SMALL})"
    );
}

fn ids(page: &Resp) -> Vec<i64> {
    page.body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("a page: {:?}", page.body))
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect()
}

fn messages_path(chat: i64, query: &str) -> String {
    format!("/messages/api/chats/{chat}/messages/{query}")
}

/// `chat`'s unread count in `user`'s chat list, and the list's answer.
async fn unread(app: &App, user: i64, chat: i64) -> (i64, Resp) {
    let r = app.get("/messages/api/chats/", &token(user)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let n = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == chat)
        .unwrap_or_else(|| panic!("chat {chat} in {user}'s list: {:?}", r.body))["unread_count"]
        .as_i64()
        .unwrap();
    (n, r)
}

/// A page's links: `next` = `before=<oldest shown>`, `previous` = `after=<newest shown>`.
fn link_param(link: &Value, key: &str) -> Option<i64> {
    let url = link.as_str()?;
    let q = url.split_once('?')?.1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .map(|v| v.parse().unwrap())
}

#[tokio::test]
async fn message_pages_read_rows_in_proportion_to_the_page_not_the_chat() {
    let app = app();
    let first = |chat, reader| {
        let app = app.clone();
        async move {
            let r = app.get(&messages_path(chat, ""), &token(reader)).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            r
        }
    };
    let (big, small) = (
        first(BIG_CHAT, BIG_READER).await,
        first(SMALL_CHAT, SMALL_READER).await,
    );
    flat("first page", &big, &small);
    for (page, total) in [(&big, BIG), (&small, SMALL)] {
        assert_eq!(page.body["count"], total, "count is the chat's messages");
        let shown = ids(page);
        assert_eq!(shown.len(), PAGE, "a full page");
        assert!(shown.windows(2).all(|w| w[0] > w[1]), "newest first");
        assert_eq!(
            link_param(&page.body["next"], "before"),
            shown.last().copied()
        );
        assert_eq!(page.body["previous"], Value::Null, "nothing newer");
    }

    // The older page, through `next`.
    let next = |page: &Resp, reader| {
        let app = app.clone();
        let url = page.body["next"].as_str().unwrap().to_string();
        async move { app.get_url(&url, &token(reader)).await }
    };
    let (big2, small2) = (
        next(&big, BIG_READER).await,
        next(&small, SMALL_READER).await,
    );
    flat("before= page", &big2, &small2);
    for (page, older, total) in [(&big2, &big, BIG), (&small2, &small, SMALL)] {
        assert_eq!(page.status, 200);
        assert_eq!(page.body["count"], total);
        let shown = ids(page);
        assert_eq!(shown.len(), PAGE);
        assert!(
            shown[0] < *ids(older).last().unwrap(),
            "older than the page it follows"
        );
        assert_eq!(
            link_param(&page.body["next"], "before"),
            shown.last().copied()
        );
        assert_eq!(link_param(&page.body["previous"], "after"), Some(shown[0]));
    }

    // `page=3`: an offset of two pages, the same in both chats.
    let page3 = |chat, reader| {
        let app = app.clone();
        async move {
            app.get(&messages_path(chat, "?page=3"), &token(reader))
                .await
        }
    };
    let (big3, small3) = (
        page3(BIG_CHAT, BIG_READER).await,
        page3(SMALL_CHAT, SMALL_READER).await,
    );
    flat("page=3", &big3, &small3);
    assert_eq!(ids(&big3).len(), PAGE);
    assert_eq!(
        ids(&big3)[0],
        ids(&big2).last().unwrap() - 1,
        "page 3 follows page 2 (a bulk-built chat's ids are consecutive)"
    );
    assert_eq!(big3.body["count"], BIG);

    // A page past the end of the small chat is 404, and skips nothing (the count bounds it).
    let past = app
        .get(
            &messages_path(SMALL_CHAT, "?page=1000"),
            &token(SMALL_READER),
        )
        .await;
    assert_eq!(past.status, 404);
    println!("page=1000 of {SMALL} messages: {:?}", past.d1());
    assert!(past.d1().read <= 100, "{:?}", past.d1());
}

#[tokio::test]
async fn the_chat_list_counts_unread_without_walking_them() {
    let app = app();
    let (big_unread, big) = unread(&app, BIG_READER, BIG_CHAT).await;
    let (small_unread, small) = unread(&app, SMALL_READER, SMALL_CHAT).await;
    flat("chat list, the chat all unread", &big, &small);
    assert_eq!(big_unread, BIG, "all unread");
    assert_eq!(small_unread, SMALL);
    assert_eq!(big.body["count"], 2);
    assert_eq!(small.body["count"], 2);
    // The chat detail counts the same way.
    let detail = app
        .get(
            &format!("/messages/api/chats/{BIG_CHAT}/"),
            &token(BIG_READER),
        )
        .await;
    assert_eq!(detail.body["unread_count"], BIG);
    assert!(detail.d1().read <= 1000, "{:?}", detail.d1());
}

/// Sends, a delete, a leave and return, and marking read, through the API, on a big chat:
/// every count after each is what its definition says (SPEC §5: unread = messages from others,
/// not deleted, after the pointer), and marking 10,000 messages read costs a few rows.
#[tokio::test]
async fn counts_stay_exact_through_sends_deletes_returns_and_marking_read() {
    let app = app();
    // A chat of its own, so that the other tests' figures do not move.
    const BIG_CHAT: i64 = CHANGED_CHAT;
    const BIG_READER: i64 = CHANGED_READER;
    let (sender, other, reader) = (token(SENDER), token(OTHER), token(BIG_READER));
    let page = app.get(&messages_path(BIG_CHAT, ""), &sender).await;
    let newest = ids(&page)[0];
    let (before, _) = unread(&app, BIG_READER, BIG_CHAT).await;
    assert_eq!(before, BIG);

    // `other` sends 3, then deletes one of them: the reader's unread grows by 2.
    let mut sent = Vec::new();
    for k in 0..3 {
        let r = app
            .post(
                &messages_path(BIG_CHAT, ""),
                &other,
                json!({"content": format!("late {k}")}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        assert!(r.d1().read <= 1000, "a send reads few rows: {:?}", r.d1());
        sent.push(r.body["id"].as_i64().unwrap());
    }
    let r = app
        .delete(&format!("/messages/api/messages/{}/", sent[1]), &other)
        .await;
    assert_eq!(r.status, 204);
    let (n, _) = unread(&app, BIG_READER, BIG_CHAT).await;
    assert_eq!(n, BIG + 2, "3 sent, 1 of them deleted");
    let page = app.get(&messages_path(BIG_CHAT, ""), &reader).await;
    assert_eq!(page.body["count"], BIG + 3, "tombstones count");
    assert_eq!(ids(&page)[..4], [sent[2], sent[1], sent[0], newest]);

    // The sender's own messages are never unread for them.
    let (n, _) = unread(&app, OTHER, BIG_CHAT).await;
    assert_eq!(n, 0, "`other` sent last");

    // `other` leaves and is added back: what they had read is still read (their own 10,000
    // messages among it), and what came meanwhile is unread.
    let r = app
        .remove_member(
            &common::User {
                id: OTHER,
                username: "other".into(),
                token: other.clone(),
                password: String::new(),
            },
            BIG_CHAT,
            OTHER,
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = app
        .post(
            &messages_path(BIG_CHAT, ""),
            &sender,
            json!({"content": "while you were away"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = app
        .post(
            &format!("/messages/api/chats/{BIG_CHAT}/members/add/"),
            &sender,
            json!({"user_ids": [OTHER]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (n, _) = unread(&app, OTHER, BIG_CHAT).await;
    assert_eq!(n, 1, "only the message sent while away");

    // The reader marks up to the 10,000th message read: 10,000 marked, in a few rows.
    let page = app
        .get(
            &messages_path(BIG_CHAT, &format!("?before={}", newest - 9_999)),
            &reader,
        )
        .await;
    let ten_thousandth = newest - 10_000;
    assert_eq!(ids(&page)[0], ten_thousandth);
    let r = app
        .post(
            &format!("/messages/api/chats/{BIG_CHAT}/mark-as-read/"),
            &reader,
            json!({"message_id": ten_thousandth}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["marked_count"], 10_000, "{:?}", r.body);
    println!("mark-as-read of 10,000 messages: {:?}", r.d1());
    assert!(r.d1().read <= 1000, "{:?}", r.d1());
    let (n, _) = unread(&app, BIG_READER, BIG_CHAT).await;
    assert_eq!(
        n,
        BIG + 2 + 1 - 10_000,
        "the rest, and the message sent while away"
    );
    // Then all of it.
    let r = app
        .post(
            &format!("/messages/api/chats/{BIG_CHAT}/mark-as-read/"),
            &reader,
            json!({}),
        )
        .await;
    assert_eq!(r.body["marked_count"], BIG + 2 + 1 - 10_000, "{:?}", r.body);
    let (n, _) = unread(&app, BIG_READER, BIG_CHAT).await;
    assert_eq!(n, 0);
}
