//! Host-site sign-in's one round trip (SPEC §3): the user of a site's `sub` created, or
//! brought up to date from the token's claims, a session started for it, and the row read back.

use serde::Deserialize;

use super::users::{NewSession, UserRow};
use super::{int_bool, throttle, Batch, Db};
use crate::args;
use crate::error::ApiResult;

/// A username to try, with its lookup forms (`auth::usernames::lower` and `key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub username: String,
    pub lower: String,
    pub key: String,
}

/// The user a token describes, already checked.
pub struct Profile<'a> {
    pub sub: &'a str,
    /// The claimed username (else one made from `sub`), then the same with the stable suffix
    /// of the `sub`, then with a random suffix. The first that no *other* account holds, by
    /// lowercase form or confusable skeleton, is taken.
    pub wanted: &'a Candidate,
    pub stable: &'a Candidate,
    pub random: &'a Candidate,
    /// The lowercase `<base>-` the suffixed names start with: when the first two are taken, a
    /// user whose username already starts with it keeps it (and does not get a new random name
    /// on every sign-in).
    pub suffixed_prefix: &'a str,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub avatar_url: &'a str,
    /// Lowercased ` first last email`: the search text after the chosen username
    /// (`users::search_text`).
    pub search_rest: &'a str,
}

/// The signed-in user, whether the account is active (an inactive one gets no session), and
/// when the session the request came with ends, if it was this user's and goes on.
#[derive(Debug, Deserialize)]
pub struct SsoUser {
    #[serde(flatten)]
    pub user: UserRow,
    #[serde(deserialize_with = "int_bool")]
    pub is_active: bool,
    pub kept_until: Option<String>,
}

/// The username a profile gets, as a CTE `chosen (username, username_lower, username_key)`:
/// ranks 1, 2 and 4 are the profile's candidates, rank 3 the user's current name when it
/// already carries a suffix of this base. `?1` sub, `?2..?10` the candidates, `?11` the prefix.
const CHOSEN: &str = "WITH candidate (rank, username, username_lower, username_key) AS (
    VALUES (1, ?2, ?3, ?4), (2, ?5, ?6, ?7), (4, ?8, ?9, ?10)
    UNION ALL
    SELECT 3, username, username_lower, username_key FROM users
    WHERE sso_subject = ?1 AND substr(username_lower, 1, length(?11)) = ?11),
  chosen AS (
    SELECT username, username_lower, username_key FROM candidate c
    WHERE NOT EXISTS (SELECT 1 FROM users o
                      WHERE (o.username_lower = c.username_lower
                             OR o.username_key = c.username_key)
                        AND o.sso_subject IS NOT ?1)
    ORDER BY rank LIMIT 1)";

/// The session a request came with: it goes on instead of a new one when it is the user's
/// and ends after `ends_after` (sessions near their end are replaced, not stretched).
pub struct Current<'a> {
    pub token_hash: &'a str,
    pub ends_after: &'a str,
}

/// Unusable as a password (Django's "!" prefix): password login refuses these users.
pub const NO_PASSWORD: &str = "!sso";

/// Signs in the user of `p.sub` in one round trip: updates them from the profile (or creates
/// them), starts `session` (active users only) unless `current` (the token hash of the
/// session the request came with) is a live session of theirs already, prunes a little as
/// logins do, and reads the user back. `None` only if no user could be written (every
/// candidate name taken at once).
pub async fn sign_in(
    db: &Db,
    p: &Profile<'_>,
    session: &NewSession<'_>,
    current: Option<Current<'_>>,
    prune_before: i64,
) -> ApiResult<Option<SsoUser>> {
    let (current, ends_after) = match &current {
        Some(c) => (Some(c.token_hash), Some(c.ends_after)),
        None => (None, None),
    };
    let mut profile = args![
        p.sub,
        p.wanted.username.as_str(),
        p.wanted.lower.as_str(),
        p.wanted.key.as_str(),
        p.stable.username.as_str(),
        p.stable.lower.as_str(),
        p.stable.key.as_str(),
        p.random.username.as_str(),
        p.random.lower.as_str(),
        p.random.key.as_str(),
        p.suffixed_prefix,
        p.search_rest,
        p.email,
        p.first_name,
        p.last_name,
        p.avatar_url
    ];
    let mut b = Batch::new(db);
    b.exec(
        &format!(
            "{CHOSEN}
             UPDATE users SET
               (username, username_lower, username_key) =
                 (SELECT username, username_lower, username_key FROM chosen),
               search_text = (SELECT username_lower FROM chosen) || ?12,
               email = ?13, first_name = ?14, last_name = ?15, avatar_url = ?16
             WHERE sso_subject = ?1 AND EXISTS (SELECT 1 FROM chosen)"
        ),
        profile.clone(),
    )?;
    profile.extend(args![session.now, NO_PASSWORD]);
    b.exec(
        &format!(
            "{CHOSEN}
             INSERT INTO users (username, username_lower, username_key, password, email,
                                first_name, last_name, avatar_url, search_text, date_joined,
                                sso_subject)
             SELECT username, username_lower, username_key, ?18, ?13, ?14, ?15, ?16,
                    username_lower || ?12, ?17, ?1
             FROM chosen WHERE NOT EXISTS (SELECT 1 FROM users WHERE sso_subject = ?1)"
        ),
        profile,
    )?;
    // A live session of this user in the request (a page signing in on every load) goes on:
    // no new row per page view.
    b.exec(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
         SELECT ?1, id, ?2, ?3 FROM users
         WHERE sso_subject = ?4 AND is_active = 1
           AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.token_hash = ?5
                             AND s.user_id = users.id AND s.expires_at > ?6)",
        args![
            session.token_hash,
            session.now,
            session.expires,
            p.sub,
            current,
            ends_after
        ],
    )?;
    throttle::prune(&mut b, prune_before, session.now)?;
    let user = b.query(
        "SELECT id, username, email, first_name, last_name, avatar_url, is_active,
           (SELECT s.expires_at FROM sessions s WHERE s.token_hash = ?2 AND s.user_id = users.id
              AND s.expires_at > ?3) AS kept_until
         FROM users WHERE sso_subject = ?1",
        args![p.sub, current, ends_after],
    )?;
    b.run().await?.first(user)
}
