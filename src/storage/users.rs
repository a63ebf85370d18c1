//! Users and sessions.

use serde::Deserialize;

use super::throttle::{self, Counted};
use super::{compose, int_bool, Batch, Db, Rows, Viewer};
use crate::args;
use crate::error::ApiResult;

/// A `users` row (without the password hash unless asked for).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// A picture URL a host site gave (SPEC §3); empty: the generated default. Queries that
    /// do not select it read it as empty.
    #[serde(default)]
    pub avatar_url: String,
}

/// What login needs: the row and its password hash.
#[derive(Debug, Deserialize)]
pub struct LoginRow {
    #[serde(flatten)]
    pub user: UserRow,
    pub password: String,
    #[serde(deserialize_with = "int_bool")]
    pub is_active: bool,
}

/// The user behind a live session, and when the session ends.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionUser {
    #[serde(flatten)]
    pub user: UserRow,
    pub expires_at: String,
}

pub const USER_COLUMNS: &str = "u.id, u.username, u.email, u.first_name, u.last_name, u.avatar_url";

/// New account fields, already validated.
pub struct NewUser<'a> {
    pub username: &'a str,
    /// The confusable skeleton (`auth::usernames::key`).
    pub username_key: &'a str,
    pub password_hash: &'a str,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
}

/// The lowercased text user search and chat search match against.
pub fn search_text(username: &str, first: &str, last: &str, email: &str) -> String {
    format!("{username} {first} {last} {email}").to_lowercase()
}

/// A registration's first round trip: the attempt counted against `keys`, and up to 500
/// accounts whose `username_key` is not filled in yet (id, username).
pub async fn registration_lookup(
    db: &Db,
    keys: &[&str],
    now: i64,
    window: i64,
) -> ApiResult<(Vec<Counted>, Vec<(i64, String)>)> {
    #[derive(Deserialize)]
    struct Unkeyed {
        id: i64,
        username: String,
    }
    let mut b = Batch::new(db);
    let counts = throttle::count(&mut b, keys, now, window)?;
    let unkeyed = b.query::<Unkeyed>(
        "SELECT id, username FROM users WHERE username_key IS NULL LIMIT 500",
        vec![],
    )?;
    let res = b.run().await?;
    let unkeyed = res.all(unkeyed)?.into_iter().map(|u| (u.id, u.username));
    Ok((counts.read(&res)?, unkeyed.collect()))
}

/// Creates the user and its first session in one transaction, after filling in the
/// `username_key` of older accounts (`backfill`: id → key; a key another account already has
/// becomes `legacy:<id>`). `None` when the username or its key is taken: the session insert is
/// keyed on this insert's unique password hash (fresh random salt), so it can never attach a
/// session to someone else's account.
pub async fn create_with_session(
    db: &Db,
    new: &NewUser<'_>,
    backfill: &[(i64, String)],
    session: &NewSession<'_>,
) -> ApiResult<Option<UserRow>> {
    let lower = new.username.to_lowercase();
    let mut b = Batch::new(db);
    for (id, key) in backfill {
        b.exec(
            "UPDATE users SET username_key = CASE
               WHEN EXISTS (SELECT 1 FROM users WHERE username_key = ?2) THEN 'legacy:' || id
               ELSE ?2 END
             WHERE id = ?1 AND username_key IS NULL",
            args![*id, key.as_str()],
        )?;
    }
    let user = b.query(
        "INSERT INTO users (username, username_lower, username_key, password, email, first_name,
                            last_name, search_text, date_joined)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT DO NOTHING
         RETURNING id, username, email, first_name, last_name",
        args![
            new.username,
            lower.as_str(),
            new.username_key,
            new.password_hash,
            new.email,
            new.first_name,
            new.last_name,
            search_text(new.username, new.first_name, new.last_name, new.email),
            session.now
        ],
    )?;
    b.exec(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
         SELECT ?1, id, ?2, ?3 FROM users WHERE username_lower = ?4 AND password = ?5",
        args![
            session.token_hash,
            session.now,
            session.expires,
            lower.as_str(),
            new.password_hash
        ],
    )?;
    b.run().await?.first(user)
}

/// A login's first round trip: the account (if any), the work of the most expensive stored
/// hash, and the attempt counted against `keys`.
pub async fn login_lookup(
    db: &Db,
    username_lower: &str,
    keys: &[&str],
    now: i64,
    window: i64,
) -> ApiResult<(Option<LoginRow>, u32, Vec<Counted>)> {
    #[derive(Deserialize)]
    struct Work {
        max_iterations: u32,
    }
    let mut b = Batch::new(db);
    let user = b.query(
        "SELECT id, username, email, first_name, last_name, avatar_url, password, is_active
         FROM users WHERE username_lower = ?1",
        args![username_lower],
    )?;
    let work = b.query::<Work>(
        "SELECT max_iterations FROM password_work WHERE id = 1",
        vec![],
    )?;
    let counts = throttle::count(&mut b, keys, now, window)?;
    let res = b.run().await?;
    let work = res.first(work)?.map_or(0, |w| w.max_iterations);
    Ok((res.first(user)?, work, counts.read(&res)?))
}

/// A session to start.
pub struct NewSession<'a> {
    pub user_id: i64,
    pub token_hash: &'a str,
    pub now: &'a str,
    pub expires: &'a str,
}

/// A successful login: the new session, the attempt taken back (`clear` forgotten, `refund`
/// decremented), the stored hash replaced by `upgraded_hash` (a stored hash with fewer
/// iterations, as Django does), and a little pruning of expired sessions and ended counters.
pub async fn start_session(
    db: &Db,
    s: &NewSession<'_>,
    upgraded_hash: Option<&str>,
    (clear, refund): (&str, &[&str]),
    prune_before: i64,
) -> ApiResult<()> {
    let mut b = Batch::new(db);
    b.exec(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
        args![s.token_hash, s.user_id, s.now, s.expires],
    )?;
    throttle::refund(&mut b, clear, refund)?;
    if let Some(hash) = upgraded_hash {
        b.exec(
            "UPDATE users SET password = ?1 WHERE id = ?2",
            args![hash, s.user_id],
        )?;
    }
    throttle::prune(&mut b, prune_before, s.now)?;
    b.run().await?;
    Ok(())
}

/// Finds the active user behind a live session's token hash (no row: unknown, expired or
/// revoked).
pub fn by_session(b: &mut Batch, token_hash: &str, now: &str) -> ApiResult<Rows<SessionUser>> {
    b.query(
        &format!(
            "SELECT {USER_COLUMNS}, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.is_active = 1"
        ),
        args![token_hash, now],
    )
}

/// The active user behind a live session's token hash, in its own round trip.
pub async fn session_user(db: &Db, token_hash: &str, now: &str) -> ApiResult<Option<SessionUser>> {
    let mut b = Batch::new(db);
    let user = by_session(&mut b, token_hash, now)?;
    b.run().await?.first(user)
}

/// Ends one session (`Some(token_hash)`, logout) or every session of `user_id`: the sessions
/// are deleted, and the chats their sockets were open in are returned, to close those.
pub async fn end_sessions(db: &Db, user_id: i64, token_hash: Option<&str>) -> ApiResult<Vec<i64>> {
    #[derive(Deserialize)]
    struct Chat {
        chat_id: i64,
    }
    // ?2 NULL: all of the user's sessions.
    let which =
        "SELECT token_hash FROM sessions WHERE user_id = ?1 AND (?2 IS NULL OR token_hash = ?2)";
    let mut b = Batch::new(db);
    let chats = b.query::<Chat>(
        &format!("SELECT DISTINCT chat_id FROM socket_sessions WHERE token_hash IN ({which})"),
        args![user_id, token_hash],
    )?;
    b.exec(
        &format!("DELETE FROM sessions WHERE token_hash IN ({which})"),
        args![user_id, token_hash],
    )?;
    let res = b.run().await?;
    Ok(res.all(chats)?.into_iter().map(|c| c.chat_id).collect())
}

/// Records, for the holder of a live session who is a member of `chat_id`, that a socket of
/// theirs opens there (so that logging out closes it). Nothing for anyone else.
pub fn socket_opened(b: &mut Batch, token_hash: &str, chat_id: i64, now: &str) -> ApiResult<()> {
    b.exec(
        "INSERT OR IGNORE INTO socket_sessions (token_hash, chat_id)
         SELECT s.token_hash, m.chat_id FROM sessions s
         JOIN chat_members m ON m.user_id = s.user_id AND m.chat_id = ?2
         WHERE s.token_hash = ?1 AND s.expires_at > ?3",
        args![token_hash, chat_id, now],
    )?;
    Ok(())
}

/// One active user by id, for any signed-in viewer (the widgets' "message this person"
/// header, `GET /users/{id}/`). Reads nothing unless the viewer resolves, as `search`.
pub fn by_id(b: &mut Batch, user_id: i64, viewer: &Viewer) -> ApiResult<Rows<UserRow>> {
    let s = compose(
        &format!(
            "SELECT {USER_COLUMNS} FROM users u
             WHERE u.id = ?1 AND u.is_active = 1
             LIMIT (CASE WHEN {{}} IS NOT NULL THEN 1 ELSE 0 END)"
        ),
        args![user_id],
        &[&viewer.sql()],
    );
    b.query(&s.text, s.args)
}

/// The newest active users, newest first, at most `limit`, for a signed-in viewer (the demo
/// pages' people list). Reads nothing unless the viewer resolves, as `search`.
pub fn newest(b: &mut Batch, viewer: &Viewer, limit: u32) -> ApiResult<Rows<UserRow>> {
    let s = compose(
        &format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.is_active = 1
             ORDER BY u.id DESC
             LIMIT (CASE WHEN {{}} IS NOT NULL THEN ?1 ELSE 0 END)"
        ),
        args![limit as i64],
        &[&viewer.sql()],
    );
    b.query(&s.text, s.args)
}

/// A user a host site signed in, by the site's id for them.
#[derive(Debug, Deserialize)]
pub struct SiteUser {
    pub id: i64,
    pub sso_subject: String,
}

/// The active users of `subjects` (site user ids, SPEC §3), in their own round trip: the demo
/// site's buttons to message its other people.
pub async fn by_subjects(db: &Db, subjects: &[String]) -> ApiResult<Vec<SiteUser>> {
    let list = serde_json::to_string(subjects).unwrap_or_else(|_| "[]".into());
    let mut b = Batch::new(db);
    let rows = b.query(
        "SELECT id, sso_subject FROM users
         WHERE sso_subject IN (SELECT value FROM json_each(?1)) AND is_active = 1",
        args![list],
    )?;
    b.run().await?.all(rows)
}

/// The socket-session row of a user stream (chat id 0: no chat has it), so that logging out
/// closes the stream's sockets too.
pub const STREAM_SOCKETS: i64 = 0;

/// Records that the holder of live session `token_hash` opens a user-stream socket.
pub fn stream_socket_opened(b: &mut Batch, token_hash: &str, now: &str) -> ApiResult<()> {
    b.exec(
        "INSERT OR IGNORE INTO socket_sessions (token_hash, chat_id)
         SELECT token_hash, ?2 FROM sessions WHERE token_hash = ?1 AND expires_at > ?3",
        args![token_hash, STREAM_SOCKETS, now],
    )?;
    Ok(())
}

/// User search: `q` (lowercased) anywhere in username, first/last name or email; active users
/// other than the viewer; exact username matches first, then by username; at most `limit`.
/// Reads nothing unless the viewer resolves (a live session): the condition sits in the
/// `LIMIT`, evaluated once before the scan (in `WHERE`, SQLite would test it row by row). `instr`, not `LIKE`: D1 refuses
/// LIKE patterns over 50 bytes, and `q` may be 150 characters.
pub fn search(
    b: &mut Batch,
    q_lower: &str,
    viewer: &Viewer,
    limit: u32,
) -> ApiResult<Rows<UserRow>> {
    let s = compose(
        &format!(
            "SELECT {USER_COLUMNS} FROM users u
             WHERE instr(u.search_text, ?1) > 0 AND u.id != {{}} AND u.is_active = 1
             ORDER BY (u.username_lower = ?1) DESC, u.username_lower
             LIMIT (CASE WHEN {{}} IS NOT NULL THEN ?2 ELSE 0 END)"
        ),
        args![q_lower, limit as i64],
        &[&viewer.sql(), &viewer.sql()],
    );
    b.query(&s.text, s.args)
}
