//! Users, sessions and login-failure counters.

use serde::Deserialize;
use worker::D1PreparedStatement;

use super::{first_row, Db, Viewer};
use crate::args;
use crate::error::ApiResult;

/// A `users` row (without the password hash unless asked for).
#[derive(Debug, Clone, Deserialize)]
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
    pub is_active: i64,
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
    let insert_user = db.stmt(
        "INSERT INTO users (username, username_lower, password, email, first_name, last_name,
                            search_text, date_joined)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
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
    let insert_session = db.stmt(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
         SELECT ?, id, ?, ? FROM users WHERE username_lower = ? AND password = ?",
        args![token_hash, now, expires, lower.as_str(), new.password_hash],
    )?;
    let res = db.batch(vec![insert_user, insert_session]).await?;
    first_row(&res[0])
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
    let user = db.stmt(
        "SELECT id, username, email, first_name, last_name, password, is_active
         FROM users WHERE username_lower = ?",
        args![username_lower],
    )?;
    let failures = db.stmt(
        "SELECT key, window_start, failures FROM login_failures
         WHERE key IN (?, ?) AND window_start > ?",
        args![user_key, addr_key, window_start_after],
    )?;
    let res = db.batch(vec![user, failures]).await?;
    Ok((first_row(&res[0])?, super::rows(&res[1])?))
}

#[derive(Debug, Deserialize)]
pub struct FailureRow {
    pub key: String,
    pub window_start: i64,
    pub failures: i64,
}

/// Counts one failed login against each key, starting a new window where the old one ended.
pub async fn record_login_failure(db: &Db, keys: &[&str], now: i64, window: i64) -> ApiResult<()> {
    let mut sts = Vec::new();
    for key in keys {
        sts.push(db.stmt(
            "INSERT INTO login_failures (key, window_start, failures) VALUES (?1, ?2, 1)
             ON CONFLICT (key) DO UPDATE SET
               failures = CASE WHEN window_start <= ?2 - ?3 THEN 1 ELSE failures + 1 END,
               window_start = CASE WHEN window_start <= ?2 - ?3 THEN ?2 ELSE window_start END",
            args![*key, now, window],
        )?);
    }
    db.batch(sts).await?;
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
    let mut sts = vec![
        db.stmt(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            args![token_hash, user_id, now, expires],
        )?,
        db.stmt("DELETE FROM login_failures WHERE key = ?", args![clear_key])?,
    ];
    if let Some(hash) = upgraded_hash {
        sts.push(db.stmt(
            "UPDATE users SET password = ? WHERE id = ?",
            args![hash, user_id],
        )?);
    }
    db.batch(sts).await?;
    Ok(())
}

/// The statement finding the active user behind a live session's token hash.
pub fn by_session_stmt(db: &Db, token_hash: &str, now: &str) -> ApiResult<D1PreparedStatement> {
    db.stmt(
        &format!(
            "SELECT {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ? AND s.expires_at > ? AND u.is_active = 1"
        ),
        args![token_hash, now],
    )
}

/// The active user behind a session token hash, if the session exists and has not expired.
pub async fn by_session(db: &Db, token_hash: &str, now: &str) -> ApiResult<Option<UserRow>> {
    db.first(by_session_stmt(db, token_hash, now)?).await
}

/// Revokes one session (logout).
pub async fn delete_session(db: &Db, token_hash: &str) -> ApiResult<()> {
    db.run(db.stmt(
        "DELETE FROM sessions WHERE token_hash = ?",
        args![token_hash],
    )?)
    .await?;
    Ok(())
}

/// User search: `q` (lowercased) anywhere in username, first/last name or email; active users
/// other than the caller; exact username matches first, then by username; at most `limit`.
/// `instr`, not `LIKE`: D1 refuses LIKE patterns over 50 bytes, and `q` may be 150 characters.
pub fn search_stmt(
    db: &Db,
    q_lower: &str,
    exclude: &Viewer,
    limit: u32,
) -> ApiResult<D1PreparedStatement> {
    let (exclude_sql, exclude_args) = exclude.sql();
    let mut a = args![q_lower];
    a.extend(exclude_args);
    a.extend(args![q_lower, limit as i64]);
    db.stmt(
        &format!(
            "SELECT {USER_COLUMNS} FROM users u
             WHERE instr(u.search_text, ?) > 0 AND u.id != {exclude_sql} AND u.is_active = 1
             ORDER BY (u.username_lower = ?) DESC, u.username_lower
             LIMIT ?"
        ),
        a,
    )
}
