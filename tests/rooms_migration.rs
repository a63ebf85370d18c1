//! Migration 0006 (public rooms) on a database made before it: `chats` is rebuilt although
//! every chat table references it with ON DELETE CASCADE, and nothing may be lost
//! (migrations/README.md, "Rebuilding a table").

mod common;

use serde_json::{json, Value};

/// Runs one SQL file (or `--command`) on the local D1 in `state`; the JSON results of each
/// statement.
fn d1(state: &std::path::Path, what: &[&str]) -> Vec<Value> {
    let state = state.to_str().unwrap();
    let mut args = vec![
        "d1",
        "execute",
        "DB",
        "--local",
        "--json",
        "--persist-to",
        state,
    ];
    args.extend_from_slice(what);
    let out = std::process::Command::new("wrangler")
        .args(&args)
        .current_dir(common::root())
        .env("PATH", common::tool_path())
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CI", "true")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("wrangler runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wrangler d1 {what:?}: {text}");
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON: {text}"));
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["results"].clone())
        .collect()
}

/// Every row of every table the migration touches (or whose rows a cascade could take).
const DUMP: &str = "
SELECT id, chat_type, title, dm_key, created_by, created_at, updated_at, last_activity_at,
       last_seq, member_gen, message_count FROM chats ORDER BY id;
SELECT chat_id, user_id, is_admin, joined_at, last_read_message_id, rowid AS r
  FROM chat_members ORDER BY chat_id, user_id;
SELECT * FROM messages ORDER BY id;
SELECT * FROM reactions ORDER BY id;
SELECT chat_id, seq, type, message_id, user_id, data, created_at
  FROM chat_events ORDER BY chat_id, seq;
SELECT * FROM users ORDER BY id;
SELECT * FROM sessions ORDER BY token_hash;
SELECT * FROM socket_sessions ORDER BY token_hash, chat_id;
SELECT * FROM id_floors WHERE name = 'chats';
SELECT * FROM sqlite_sequence WHERE name != 'chat_events' ORDER BY name;";

/// A database made before rooms, with data in every table a chat owns.
const OLD_DATA: &str = "
INSERT INTO users (id, username, username_lower, password, date_joined) VALUES
  (1, 'a', 'a', 'x', '2025-01-01T00:00:00.000Z'), (2, 'b', 'b', 'x', '2025-01-01T00:00:00.000Z'),
  (3, 'c', 'c', 'x', '2025-01-01T00:00:00.000Z');
INSERT INTO chats (id, chat_type, title, dm_key, created_by, created_at, updated_at,
                   last_activity_at, last_seq) VALUES
  (1, 'group', 'g', NULL, 1, '2025', '2025', '2025', 3),
  (2, 'dm', '', '1:2', 1, '2025', '2025', '2025', 1),
  (5, 'group', 'gone', NULL, 2, '2025', '2025', '2025', 0);
DELETE FROM chats WHERE id = 5;
INSERT INTO chat_members (chat_id, user_id, is_admin, joined_at) VALUES
  (1, 1, 1, '2025'), (1, 2, 0, '2025'), (1, 3, 0, '2026'), (2, 1, 0, '2025'), (2, 2, 0, '2025');
INSERT INTO messages (chat_id, seq, sender_id, content, created_at, updated_at) VALUES
  (1, 1, 1, 'hi', '2025', '2025'), (1, 2, 2, 'yo', '2025', '2025'), (2, 1, 1, 'dm', '2025', '2025');
INSERT INTO reactions (message_id, emoji, user_id, created_at) VALUES (1, '👍', 2, '2025');
INSERT INTO chat_events (chat_id, seq, type, message_id, created_at) VALUES
  (1, 1, 'new_message', 1, '2025'), (1, 2, 'new_message', 2, '2025'),
  (1, 3, 'reaction_updated', 1, '2025'), (2, 1, 'new_message', 3, '2025');
INSERT INTO sessions VALUES ('h', 1, '2025', '2999');
INSERT INTO socket_sessions VALUES ('h', 1);";

/// Migration 0006 rebuilds `chats`, the parent of ON DELETE CASCADE keys: applied to a
/// database made from the schema before it, it must keep every row of every table (a plain
/// rebuild loses every member, message and event), fill in the member counts, and leave the
/// triggers and cascades working.
#[test]
fn migration_0006_keeps_every_row_of_a_database_made_before_rooms() {
    let state = common::root().join(format!(
        "target/test-state/migration-0006-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&state);
    std::fs::create_dir_all(&state).unwrap();
    let old = state.join("old.sql");
    let schema = std::fs::read_to_string(common::root().join("tests/fixtures/schema_v3.sql"));
    std::fs::write(&old, format!("{}\n{OLD_DATA}", schema.unwrap())).unwrap();
    let dump = state.join("dump.sql");
    std::fs::write(&dump, DUMP).unwrap();
    d1(&state, &["--file", old.to_str().unwrap()]);
    // The migrations between the fixture's version 3 and rooms first (0006 relies on their
    // columns and triggers; tests/migrations.rs checks what they do), then 0006 alone.
    let mut earlier: Vec<_> = std::fs::read_dir(common::root().join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.ends_with(".sql") && name.as_str() > "0004" && name.as_str() < "0006"
        })
        .collect();
    earlier.sort();
    for migration in earlier {
        d1(&state, &["--file", migration.to_str().unwrap()]);
    }
    let before = d1(&state, &["--file", dump.to_str().unwrap()]);
    assert_eq!(before[2].as_array().unwrap().len(), 3, "the data is there");
    let rooms = common::root().join("migrations/0006_rooms.sql");
    d1(&state, &["--file", rooms.to_str().unwrap()]);
    let after = d1(&state, &["--file", dump.to_str().unwrap()]);
    assert_eq!(before, after, "every row of every table is kept");

    let check = d1(
        &state,
        &[
            "--command",
            "SELECT id, member_count, room_key FROM chats ORDER BY id;
                        PRAGMA foreign_key_check;
                        SELECT version FROM schema_meta",
        ],
    );
    assert_eq!(
        check[0],
        json!([{"id": 1, "member_count": 3, "room_key": null},
               {"id": 2, "member_count": 2, "room_key": null}]),
        "member counts are filled in"
    );
    assert_eq!(check[1], json!([]), "no dangling foreign key");
    let version = check[2][0]["version"].as_i64().unwrap();
    assert!(version >= 6, "schema_meta at 6 or later: {version}");

    // Triggers and cascades after the rebuild.
    let check = d1(
        &state,
        &["--command", "INSERT INTO messages (chat_id, seq, sender_id, content, created_at,
                          updated_at) VALUES (1, 4, 3, 'new', '2027', '2027');
                        INSERT INTO chat_members (chat_id, user_id, joined_at) VALUES (2, 3, '2027');
                        DELETE FROM chat_members WHERE chat_id = 1 AND user_id = 2;
                        INSERT INTO chats (id, chat_type, title, room_key, created_at, updated_at,
                          last_activity_at) VALUES (7, 'room', 'r', 'video:1', '2027', '2027', '2027');
                        DELETE FROM chats WHERE id = 2;
                        SELECT id, message_count, member_count, last_activity_at FROM chats ORDER BY id;
                        SELECT COUNT(*) AS n FROM chat_members WHERE chat_id = 2;
                        SELECT last_read_message_id FROM chat_members WHERE chat_id = 1 AND user_id = 3;
                        SELECT value FROM id_floors WHERE name = 'chats'"],
    );
    assert_eq!(
        check[5],
        json!([{"id": 1, "message_count": 3, "member_count": 2, "last_activity_at": "2027"},
               {"id": 7, "message_count": 0, "member_count": 0, "last_activity_at": "2027"}]),
        "message and member counters follow their rows; a room can be stored"
    );
    assert_eq!(
        check[6],
        json!([{"n": 0}]),
        "deleting a chat still cascades"
    );
    assert_eq!(
        check[7],
        json!([{"last_read_message_id": 4}]),
        "sending still marks read"
    );
    assert_eq!(
        check[8],
        json!([{"value": 5}]),
        "ids are still never reused"
    );
}
