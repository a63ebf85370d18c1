//! Migrations upgrade a deployed database to exactly what `schema.sql` makes (issue 18).
//!
//! A database is made with the schema of commit 34ffa96 (`tests/fixtures/schema-34ffa96.sql`,
//! byte for byte `git show 34ffa96:schema.sql`: version 1, before any migration) and seeded by
//! SQL with data that the migrations must backfill; then every file in `migrations/` is
//! applied with `wrangler d1 migrations apply DB --local`, as a deployment is upgraded
//! (wrangler's own bookkeeping in `d1_migrations`). Beside it, a fresh database is made from
//! `schema.sql`. The upgraded one must then
//! - have the same tables (columns and constraints), indexes and triggers, compared from
//!   `sqlite_master` with comments, spacing, quoting and `IF NOT EXISTS` normalised away (a
//!   column added by `ALTER TABLE` comes last: column order is reported, not compared);
//! - have the same `schema_meta` version — the newest migration's number — and the same
//!   migrations recorded as applied;
//! - hold what the schema promises of its data (invariants checked over every row) and the
//!   values expected for the seeded rows;
//! - be served right: a worker started on (a copy of) it answers unread counts, pages, sends,
//!   rejoins and mark-as-read as on a fresh database.
//!
//! A new migration is compared without any change here; add a check of what it backfills.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{d1_execute, d1_queries, root, wrangler, App, Worker};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Every file of `migrations/`, in order, with its number.
fn migration_files() -> Vec<(u32, String)> {
    let mut out: Vec<(u32, String)> = std::fs::read_dir(root().join("migrations"))
        .expect("migrations/")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let number = name.strip_suffix(".sql")?.split('_').next()?.parse().ok()?;
            Some((number, name))
        })
        .collect();
    out.sort();
    out
}

/// The newest migration's number: the version a database is at once it has them all.
fn newest() -> u32 {
    migration_files().last().map_or(1, |m| m.0)
}

/// The token of seeded user `name` (sessions store its SHA-256).
fn token(name: &str) -> String {
    format!("migrated-{name}")
}

fn token_hash(name: &str) -> String {
    Sha256::digest(token(name).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Data of the 34ffa96 era for the migrations to carry over. Message ids interleave across
/// chats (so ordinals differ from ids). Chat 1: bob and cy were removed and added back, which
/// then reset their pointers to 0 behind their own messages (4 is cy's, deleted; 11 bob's,
/// deleted: a deleted message after ann's pointer). Chat 2: a DM. Chat 3: dee left it, with
/// messages there. Chat 4: no messages. One reaction is a bare emoji (0002 qualifies it).
fn seed() -> String {
    let t = "2025-01-01T00:00:00.000Z";
    let mut sql = String::new();
    for (id, name) in [(1, "ann"), (2, "bob"), (3, "cy"), (4, "dee")] {
        sql += &format!(
            "INSERT INTO users (id, username, username_lower, password, search_text, date_joined)
             VALUES ({id}, '{name}', '{name}', '!', '{name}', '{t}');
             INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
             VALUES ('{}', {id}, '{t}', '2999-01-01T00:00:00.000Z');\n",
            token_hash(name)
        );
    }
    sql += &format!(
        "INSERT INTO chats (id, chat_type, title, dm_key, created_by, created_at, updated_at,
                           last_activity_at, last_seq) VALUES
           (1, 'group', 'Group', NULL, 1, '{t}', '{t}', '{t}', 6),
           (2, 'dm', '', '1:2', 1, '{t}', '{t}', '{t}', 2),
           (3, 'group', 'Left', NULL, 1, '{t}', '{t}', '{t}', 3),
           (4, 'group', 'Empty', NULL, 1, '{t}', '{t}', '{t}', 0);
         INSERT INTO chat_members (chat_id, user_id, is_admin, joined_at, last_read_message_id)
         VALUES (1, 1, 1, '{t}', 6), (1, 2, 0, '{t}', 0), (1, 3, 0, '{t}', 0),
                (2, 1, 0, '{t}', 7), (2, 2, 0, '{t}', 2),
                (3, 1, 1, '{t}', 8), (4, 1, 1, '{t}', 0);\n"
    );
    // (id, chat, seq, sender, deleted)
    let messages = [
        (1, 1, 1, 1, false),
        (2, 2, 1, 2, false),
        (3, 1, 2, 2, false),
        (4, 1, 3, 3, true),
        (5, 3, 1, 4, false),
        (6, 1, 4, 1, false),
        (7, 2, 2, 1, false),
        (8, 3, 2, 1, false),
        (9, 1, 5, 2, false),
        (10, 3, 3, 4, false),
        (11, 1, 6, 2, true),
    ];
    for (id, chat, seq, sender, deleted) in messages {
        let content = if deleted {
            String::new()
        } else {
            format!("m{id}")
        };
        sql += &format!(
            "INSERT INTO messages (id, chat_id, seq, sender_id, content, created_at, updated_at,
                                   is_deleted)
             VALUES ({id}, {chat}, {seq}, {sender}, '{content}', '{t}', '{t}', {});\n",
            deleted as i64
        );
    }
    sql += &format!(
        "INSERT INTO reactions (message_id, emoji, user_id, created_at)
         VALUES (1, '\u{2764}', 2, '{t}');\n"
    );
    sql
}

/// (upgraded, fresh) state folders, made once per run.
fn states() -> &'static (PathBuf, PathBuf) {
    static STATES: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    STATES.get_or_init(|| {
        let base = root()
            .join("target/test-state")
            .join(format!("migrations-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (upgraded, fresh) = (base.join("upgraded"), base.join("fresh"));
        let old = std::fs::read_to_string(root().join("tests/fixtures/schema-34ffa96.sql"))
            .expect("the fixture");
        d1_execute(
            &upgraded,
            &format!("{old}\n{}", seed()),
            "old-schema-and-data",
        );
        let log = upgraded.join("migrations.log");
        let status = wrangler(
            &[
                "d1",
                "migrations",
                "apply",
                "DB",
                "--local",
                "--persist-to",
                upgraded.to_str().unwrap(),
            ],
            &log,
        )
        .wait()
        .unwrap();
        assert!(
            status.success(),
            "migrations apply: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let schema = std::fs::read_to_string(root().join("schema.sql")).unwrap();
        d1_execute(&fresh, &schema, "schema");
        (upgraded, fresh)
    })
}

/// SQL made comparable: comments dropped, whitespace collapsed (none next to brackets and
/// commas), double-quoted identifiers unquoted, `IF NOT EXISTS` dropped. String literals are
/// kept as they are.
fn normalize(sql: &str) -> String {
    let mut out = String::new();
    let mut chars = sql.chars().peekable();
    // Whitespace (or a comment) since the last token: one space, unless next to a bracket or
    // a comma.
    let mut space = false;
    let sep = |out: &mut String, space: &mut bool| {
        if std::mem::take(space) && !matches!(out.chars().last(), Some('(' | ',') | None) {
            out.push(' ');
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                sep(&mut out, &mut space);
                out.push(c);
                while let Some(d) = chars.next() {
                    out.push(d);
                    if d == '\'' {
                        if chars.peek() == Some(&'\'') {
                            out.push(chars.next().unwrap());
                        } else {
                            break;
                        }
                    }
                }
            }
            '"' => {
                sep(&mut out, &mut space);
                for d in chars.by_ref() {
                    if d == '"' {
                        break;
                    }
                    out.push(d);
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
                space = true;
            }
            c if c.is_whitespace() => space = true,
            '(' | ')' | ',' => {
                space = false;
                out.push(c);
            }
            c => {
                sep(&mut out, &mut space);
                out.push(c);
            }
        }
    }
    out.replace("IF NOT EXISTS ", "")
        .replace("if not exists ", "")
}

/// A table's definition as a set: the items between its outer brackets (columns and table
/// constraints, split at top-level commas), and what follows them (`WITHOUT ROWID`).
fn table_parts(sql: &str) -> (BTreeSet<String>, String) {
    let n = normalize(sql);
    let open = n.find('(').expect("a table's columns");
    let (mut depth, mut quoted, mut item) = (0, false, String::new());
    let mut items = BTreeSet::new();
    for (i, c) in n[open + 1..].char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth == 0 => {
                items.insert(item.trim().to_string());
                return (items, n[open + 1 + i + 1..].trim().to_string());
            }
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                items.insert(std::mem::take(&mut item).trim().to_string());
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    panic!("unbalanced table definition: {sql}");
}

/// What a database's schema is made of, by kind and name.
#[derive(Debug, PartialEq)]
struct Schema {
    tables: BTreeMap<String, (BTreeSet<String>, String)>,
    /// Indexes and triggers: normalised SQL (none for automatic indexes).
    others: BTreeMap<(String, String), Option<String>>,
    /// Column names per table, in order (reported, not compared).
    column_order: BTreeMap<String, Vec<String>>,
    version: i64,
    applied: BTreeSet<String>,
}

fn schema_of(state: &Path) -> Schema {
    let [master, columns, version, applied]: [Vec<Value>; 4] = d1_queries(
        state,
        &[
            "SELECT type, name, sql FROM sqlite_master
             WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'
                OR type = 'index'",
            "SELECT m.name AS tbl, p.name AS col FROM sqlite_master m
             JOIN pragma_table_info(m.name) p
             WHERE m.type = 'table' ORDER BY m.name, p.cid",
            "SELECT version FROM schema_meta",
            "SELECT name FROM d1_migrations",
        ],
    )
    .try_into()
    .expect("four results");
    let mut s = Schema {
        tables: BTreeMap::new(),
        others: BTreeMap::new(),
        column_order: BTreeMap::new(),
        version: version[0]["version"].as_i64().expect("a version"),
        applied: applied
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect(),
    };
    for row in master {
        let kind = row["type"].as_str().unwrap().to_string();
        let name = row["name"].as_str().unwrap().to_string();
        let sql = row["sql"].as_str();
        if kind == "table" {
            if name.starts_with("sqlite_") || name.starts_with("_cf_") {
                continue;
            }
            s.tables
                .insert(name, table_parts(sql.expect("a table's SQL")));
        } else {
            s.others.insert((kind, name), sql.map(normalize));
        }
    }
    for row in columns {
        let table = row["tbl"].as_str().unwrap().to_string();
        if s.tables.contains_key(&table) {
            let col = row["col"].as_str().unwrap().to_string();
            s.column_order.entry(table).or_default().push(col);
        }
    }
    s
}

/// `schema.sql` records every migration as applied (so none is applied to a fresh database)
/// and is at the newest one's version.
#[test]
fn schema_sql_lists_every_migration_and_the_newest_version() {
    let schema = std::fs::read_to_string(root().join("schema.sql")).unwrap();
    let files = migration_files();
    assert!(!files.is_empty(), "migrations/ holds migrations");
    for (_, name) in &files {
        assert!(
            schema.contains(&format!("('{name}')")),
            "schema.sql's d1_migrations rows list {name}"
        );
    }
    assert!(
        schema.contains(&format!(
            "INSERT OR IGNORE INTO schema_meta (id, version) VALUES (1, {});",
            newest()
        )),
        "schema.sql's schema_meta version is {}, the newest migration's number",
        newest()
    );
}

#[test]
fn normalizing_ignores_layout_but_not_meaning() {
    assert_eq!(
        normalize("CREATE INDEX IF NOT EXISTS a ON t (x,  y) -- why\n  WHERE z = 'a  b'"),
        normalize("CREATE INDEX \"a\" ON t(x, y) WHERE z = 'a  b'")
    );
    assert_ne!(
        normalize("CREATE INDEX a ON t (x, y)"),
        normalize("CREATE INDEX a ON t (y, x)")
    );
    assert_ne!(normalize("WHERE z = 'a  b'"), normalize("WHERE z = 'a b'"));
    let (items, tail) = table_parts(
        "CREATE TABLE t (a INTEGER NOT NULL, -- note, with a comma\n b TEXT CHECK (b IN ('x', 'y')),
         PRIMARY KEY (a, b)) WITHOUT ROWID",
    );
    assert_eq!(
        items.into_iter().collect::<Vec<_>>(),
        [
            "PRIMARY KEY(a,b)",
            "a INTEGER NOT NULL",
            "b TEXT CHECK(b IN('x','y'))"
        ]
    );
    assert_eq!(tail, "WITHOUT ROWID");
}

#[test]
fn an_upgraded_database_has_the_schema_of_a_fresh_one() {
    let (upgraded, fresh) = states();
    let (up, new) = (schema_of(upgraded), schema_of(fresh));
    for (table, cols) in &new.column_order {
        if up.column_order.get(table) != Some(cols) {
            println!(
                "note: {table}'s columns are in another order after migrating (ALTER TABLE \
                 appends): {:?} vs {cols:?}",
                up.column_order.get(table)
            );
        }
    }
    let names = |s: &Schema| s.tables.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&up), names(&new), "the same tables");
    for (table, (items, tail)) in &new.tables {
        let (up_items, up_tail) = &up.tables[table];
        assert!(
            up_items == items && up_tail == tail,
            "table {table}: only after migrating {:?}, only in schema.sql {:?} (then {up_tail:?} \
             vs {tail:?})",
            up_items.difference(items).collect::<Vec<_>>(),
            items.difference(up_items).collect::<Vec<_>>(),
        );
    }
    let keys = |s: &Schema| s.others.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&up), keys(&new), "the same indexes and triggers");
    for (key, sql) in &new.others {
        assert_eq!(&up.others[key], sql, "{key:?} (upgraded, then fresh)");
    }
    assert_eq!(
        up.version,
        newest() as i64,
        "upgraded to the newest version"
    );
    assert_eq!(new.version, newest() as i64, "a fresh database is at it");
    let files: BTreeSet<String> = migration_files().into_iter().map(|m| m.1).collect();
    assert_eq!(up.applied, files, "wrangler applied every migration");
    assert_eq!(new.applied, files, "schema.sql records every migration");
}

/// Rows that break what the schema promises, by promise: every list must be empty.
const INVARIANTS: [(&str, &str); 5] = [
    (
        "a chat's message_count is the number of its messages",
        "SELECT id, message_count FROM chats c
         WHERE message_count != (SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.id)",
    ),
    (
        "a chat's messages are numbered 1, 2, ... in id order (ordinal)",
        "SELECT id, chat_id, ordinal FROM
           (SELECT id, chat_id, ordinal,
                   ROW_NUMBER() OVER (PARTITION BY chat_id ORDER BY id) AS n FROM messages)
         WHERE ordinal IS NOT n",
    ),
    (
        "no member's read pointer is behind one of their own messages",
        "SELECT chat_id, user_id, last_read_message_id FROM chat_members cm
         WHERE EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = cm.chat_id
                       AND m.sender_id = cm.user_id AND m.id > cm.last_read_message_id)",
    ),
    (
        "a former member is not a member, and their kept pointer is past their own messages",
        "SELECT chat_id, user_id FROM former_members f
         WHERE EXISTS (SELECT 1 FROM chat_members cm
                       WHERE cm.chat_id = f.chat_id AND cm.user_id = f.user_id)
            OR EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = f.chat_id
                       AND m.sender_id = f.user_id AND m.id > f.last_read_message_id)",
    ),
    (
        "no chat id at or below the floor of ids given out is free to reuse (id_floors)",
        "SELECT value FROM id_floors
         WHERE name = 'chats' AND value < (SELECT COALESCE(MAX(id), 0) FROM chats)",
    ),
];

#[test]
fn an_upgraded_database_holds_what_the_schema_promises() {
    let (upgraded, _) = states();
    let mut queries: Vec<&str> = INVARIANTS.iter().map(|i| i.1).collect();
    queries.extend([
        "SELECT id, ordinal FROM messages ORDER BY id",
        "SELECT id, message_count FROM chats ORDER BY id",
        "SELECT chat_id, user_id, last_read_message_id FROM chat_members
         ORDER BY chat_id, user_id",
        "SELECT chat_id, user_id, last_read_message_id FROM former_members",
        "SELECT emoji FROM reactions",
    ]);
    let results = d1_queries(upgraded, &queries);
    for ((promise, _), rows) in INVARIANTS.iter().zip(&results) {
        assert!(rows.is_empty(), "{promise}: broken by {rows:?}");
    }
    let rows = |i: usize, cols: &[&str]| -> Vec<Vec<Value>> {
        results[INVARIANTS.len() + i]
            .iter()
            .map(|r| cols.iter().map(|c| r[*c].clone()).collect())
            .collect()
    };
    let ordinals: Vec<Vec<Value>> = [
        (1, 1),
        (2, 1),
        (3, 2),
        (4, 3),
        (5, 1),
        (6, 4),
        (7, 2),
        (8, 2),
        (9, 5),
        (10, 3),
        (11, 6),
    ]
    .iter()
    .map(|(id, o)| vec![json!(id), json!(o)])
    .collect();
    assert_eq!(rows(0, &["id", "ordinal"]), ordinals, "ordinals");
    assert_eq!(
        rows(1, &["id", "message_count"]),
        [[1, 6], [2, 2], [3, 3], [4, 0]].map(|r| r.map(|v| json!(v)).to_vec()),
        "message counts"
    );
    // bob's and cy's pointers (reset to 0 by their return) moved to their newest own message.
    assert_eq!(
        rows(2, &["chat_id", "user_id", "last_read_message_id"]),
        [
            [1, 1, 6],
            [1, 2, 11],
            [1, 3, 4],
            [2, 1, 7],
            [2, 2, 2],
            [3, 1, 8],
            [4, 1, 0]
        ]
        .map(|r| r.map(|v| json!(v)).to_vec()),
        "read pointers"
    );
    assert_eq!(
        rows(3, &["chat_id", "user_id", "last_read_message_id"]),
        [vec![json!(3), json!(4), json!(10)]],
        "dee left chat 3 behind her newest message there"
    );
    assert_eq!(rows(4, &["emoji"]), [vec![json!("\u{2764}\u{fe0f}")]]);
}

/// The code on an upgraded database: unread counts by subtraction equal the definition
/// (messages from others, not deleted, after the pointer), pages count from the counter,
/// sends number their message, a returning member gets their pointer back.
#[tokio::test]
async fn a_worker_serves_an_upgraded_database() {
    let (upgraded, _) = states();
    // A copy: the other tests read the upgraded state meanwhile.
    let state = upgraded.with_file_name("served");
    let _ = std::fs::remove_dir_all(&state);
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(upgraded)
        .arg(&state)
        .status()
        .unwrap();
    assert!(status.success(), "copy of the upgraded state");
    let worker = tokio::task::spawn_blocking(move || Worker::serve(state, &[]))
        .await
        .unwrap();
    let app = App::new(&worker);
    let health = app.get("/healthz", "").await;
    assert_eq!(health.body["schema_version"], newest(), "{:?}", health.body);

    let unread = |name: &'static str| {
        let app = app.clone();
        async move {
            let r = app.get("/messages/api/chats/", &token(name)).await;
            assert_eq!(r.status, 200, "{name}'s chats: {:?}", r.body);
            r.body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["id"].as_i64().unwrap(),
                        c["unread_count"].as_i64().unwrap(),
                    )
                })
                .collect::<BTreeMap<i64, i64>>()
        }
    };
    // ann: 9 (bob) after her pointer 6; 11 is deleted. cy: 6 and 9 after her 4.
    assert_eq!(
        unread("ann").await,
        BTreeMap::from([(1, 1), (2, 0), (3, 1), (4, 0)])
    );
    assert_eq!(unread("bob").await, BTreeMap::from([(1, 0), (2, 1)]));
    assert_eq!(unread("cy").await, BTreeMap::from([(1, 2)]));

    let page = app
        .get("/messages/api/chats/1/messages/", &token("ann"))
        .await;
    assert_eq!(page.body["count"], 6, "{:?}", page.body);
    let ids: Vec<i64> = page.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [11, 9, 6, 4, 3, 1]);
    assert_eq!(page.body["next"], Value::Null);
    assert_eq!(page.body["previous"], Value::Null);

    // A send numbers its message after the backfilled ones.
    let r = app
        .post(
            "/messages/api/chats/1/messages/",
            &token("cy"),
            json!({"content": "back"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(unread("ann").await[&1], 2, "9 and cy's new message");
    assert_eq!(unread("cy").await[&1], 0, "sending marked it read");
    let page = app
        .get("/messages/api/chats/1/messages/", &token("ann"))
        .await;
    assert_eq!(page.body["count"], 7);
    let r = app
        .post(
            "/messages/api/chats/1/mark-as-read/",
            &token("ann"),
            json!({}),
        )
        .await;
    assert_eq!(r.body["marked_count"], 2, "{:?}", r.body);
    assert_eq!(unread("ann").await[&1], 0);

    // dee comes back to chat 3: her kept pointer (10, her own) is hers again, so neither her
    // own messages nor ann's 8 before it are unread.
    let r = app
        .post(
            "/messages/api/chats/3/members/add/",
            &token("ann"),
            json!({"user_ids": [4]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(unread("dee").await, BTreeMap::from([(3, 0)]));
}
