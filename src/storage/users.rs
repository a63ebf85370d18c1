//! Users, sessions and login-failure counters.

use serde::Deserialize;

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

pub const USER_COLUMNS: &str = "u.id, u.username, u.email, u.first_name, u.last_name";

/// New account fields, already validated.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
}

/// The lowercased text user search and chat search match against.
pub fn search_text(username: &str, first: &str, last: &str, email: &str) -> String {
    format!("{username} {first} {last} {email}").to_lowercase()
}

/// Creates the user and its first session in one transaction. `None` when the username is
/// taken (case-insensitively): the session insert is keyed on this insert's unique password
/// hash (fresh random salt), so it can never attach a session to someone else's account.
pub async fn create_with_session(
    db: &Db,
    new: &NewUser<'_>,
    token_hash: &str,
    now: &str,
    expires: &str,
) -> ApiResult<Option<UserRow>> {
    let lower = new.username.to_lowercase();
    let mut b = Batch::new(db);
    let user = b.query(
        "INSERT INTO users (username, username_lower, password, email, first_name, last_name,
                            search_text, date_joined)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (username_lower) DO NOTHING
         RETURNING id, username, email, first_name, last_name",
        args![
            new.username,
            lower.as_str(),
            new.password_hash,
            new.email,
            new.first_name,
            new.last_name,
            search_text(new.username, new.first_name, new.last_name, new.email),
            now
        ],
    )?;
    b.exec(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
         SELECT ?1, id, ?2, ?3 FROM users WHERE username_lower = ?4 AND password = ?5",
        args![token_hash, now, expires, lower.as_str(), new.password_hash],
    )?;
    b.run().await?.first(user)
}

#[derive(Debug, Deserialize)]
pub struct FailureRow {
    pub key: String,
    pub window_start: i64,
    pub failures: i64,
}

/// Login lookup in one round trip: the account (if any) and the failure counters of its
/// username and of the client address, in the current window.
pub async fn login_lookup(
    db: &Db,
    username_lower: &str,
    user_key: &str,
    addr_key: &str,
    window_start_after: i64,
) -> ApiResult<(Option<LoginRow>, Vec<FailureRow>)> {
    let mut b = Batch::new(db);
    let user = b.query(
        "SELECT id, username, email, first_name, last_name, password, is_active
         FROM users WHERE username_lower = ?1",
        args![username_lower],
    )?;
    let failures = b.query(
        "SELECT key, window_start, failures FROM login_failures
         WHERE key IN (?1, ?2) AND window_start > ?3",
        args![user_key, addr_key, window_start_after],
    )?;
    let res = b.run().await?;
    Ok((res.first(user)?, res.all(failures)?))
}

/// Counts one failed login against each key, starting a new window where the old one ended.
pub async fn record_login_failure(db: &Db, keys: &[&str], now: i64, window: i64) -> ApiResult<()> {
    let mut b = Batch::new(db);
    for key in keys {
        b.exec(
            "INSERT INTO login_failures (key, window_start, failures) VALUES (?1, ?2, 1)
             ON CONFLICT (key) DO UPDATE SET
               failures = CASE WHEN window_start <= ?2 - ?3 THEN 1 ELSE failures + 1 END,
               window_start = CASE WHEN window_start <= ?2 - ?3 THEN ?2 ELSE window_start END",
            args![*key, now, window],
        )?;
    }
    b.run().await?;
    Ok(())
}

/// A successful login: the new session, the username's failure counter cleared, and (when the
/// stored hash used other parameters) the password hash upgraded, as Django does on login.
pub async fn start_session(
    db: &Db,
    user_id: i64,
    token_hash: &str,
    now: &str,
    expires: &str,
    clear_key: &str,
    upgraded_hash: Option<&str>,
) -> ApiResult<()> {
    let mut b = Batch::new(db);
    b.exec(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
        args![token_hash, user_id, now, expires],
    )?;
    b.exec(
        "DELETE FROM login_failures WHERE key = ?1",
        args![clear_key],
    )?;
    if let Some(hash) = upgraded_hash {
        b.exec(
            "UPDATE users SET password = ?1 WHERE id = ?2",
            args![hash, user_id],
        )?;
    }
    b.run().await?;
    Ok(())
}

/// Finds the active user behind a live session's token hash (no row: unknown, expired or
/// revoked).
pub fn by_session(b: &mut Batch, token_hash: &str, now: &str) -> ApiResult<Rows<UserRow>> {
    b.query(
        &format!(
            "SELECT {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.is_active = 1"
        ),
        args![token_hash, now],
    )
}

/// Revokes one session (logout).
pub async fn delete_session(db: &Db, token_hash: &str) -> ApiResult<()> {
    let mut b = Batch::new(db);
    b.exec(
        "DELETE FROM sessions WHERE token_hash = ?1",
        args![token_hash],
    )?;
    b.run().await?;
    Ok(())
}

/// User search: `q` (lowercased) anywhere in username, first/last name or email; active users
/// other than the viewer; exact username matches first, then by username; at most `limit`.
/// `instr`, not `LIKE`: D1 refuses LIKE patterns over 50 bytes, and `q` may be 150 characters.
pub fn search(
    b: &mut Batch,
    q_lower: &str,
    exclude: &Viewer,
    limit: u32,
) -> ApiResult<Rows<UserRow>> {
    let s = compose(
        &format!(
            "SELECT {USER_COLUMNS} FROM users u
             WHERE instr(u.search_text, ?1) > 0 AND u.id != {{}} AND u.is_active = 1
             ORDER BY (u.username_lower = ?1) DESC, u.username_lower
             LIMIT ?2"
        ),
        args![q_lower, limit as i64],
        &[&exclude.sql()],
    );
    b.query(&s.text, s.args)
}

/// The active user behind a live session's token hash, in its own round trip.
pub async fn session_user(db: &Db, token_hash: &str, now: &str) -> ApiResult<Option<UserRow>> {
    let mut b = Batch::new(db);
    let user = by_session(&mut b, token_hash, now)?;
    b.run().await?.first(user)
}
