//! Chats and members: membership checks, chat pages (list and detail) in one round trip,
//! creation, rename, delete, adding and removing members.

use serde::Deserialize;
use worker::{D1PreparedStatement, D1Result};

use super::events::{self, EventRef, NewEvent, PENDING};
use super::messages::{MessageRow, MESSAGE_COLUMNS, MESSAGE_FROM};
use super::users::UserRow;
use super::{changes, first_row, rows, Arg, Db, Viewer};
use crate::args;
use crate::error::ApiResult;

/// A chat as the caller sees it: the row plus the caller's membership.
#[derive(Debug, Clone, Deserialize)]
pub struct MemberChat {
    pub id: i64,
    pub chat_type: String,
    pub title: String,
    pub created_at: String,
    pub updated_at: String,
    pub last_seq: i64,
    pub is_admin: i64,
    pub last_read_message_id: i64,
}

const MEMBER_CHAT_COLUMNS: &str = "c.id, c.chat_type, c.title, c.created_at, c.updated_at,
    c.last_seq, me.is_admin, me.last_read_message_id";

/// The statement finding the chat `chat_id` for the holder of a live session: no row when the
/// session is invalid or its user is not a member (batched with authentication).
pub fn membership_by_session(
    db: &Db,
    chat_id: i64,
    token_hash: &str,
    now: &str,
) -> ApiResult<D1PreparedStatement> {
    db.stmt(
        &format!(
            "SELECT {MEMBER_CHAT_COLUMNS} FROM sessions s
             JOIN chat_members me ON me.user_id = s.user_id AND me.chat_id = ?
             JOIN chats c ON c.id = me.chat_id
             WHERE s.token_hash = ? AND s.expires_at > ?"
        ),
        args![chat_id, token_hash, now],
    )
}

/// Which chats a page shows: the viewer's chats filtered by `filter_sql`.
pub struct Page {
    pub viewer: Viewer,
    pub filter_sql: String,
    pub filter_args: Vec<Arg>,
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    /// One chat of the viewer's (detail).
    pub fn one(viewer: impl Into<Viewer>, chat_id: i64) -> Page {
        Page {
            viewer: viewer.into(),
            filter_sql: "c.id = ?".into(),
            filter_args: args![chat_id],
            limit: 1,
            offset: 0,
        }
    }

    /// The viewer's chats whose title or other members' names contain `search`.
    pub fn list(viewer: impl Into<Viewer>, search: Option<&str>, limit: i64, offset: i64) -> Page {
        let (filter_sql, filter_args) = match search {
            None => ("1".to_string(), vec![]),
            Some(q) => {
                // `instr`, not `LIKE`: D1 refuses LIKE patterns over 50 bytes.
                let q = q.to_lowercase();
                (
                    "(instr(lower(c.title), ?) > 0 OR EXISTS (
                        SELECT 1 FROM chat_members m2 JOIN users u2 ON u2.id = m2.user_id
                        WHERE m2.chat_id = c.id AND m2.user_id != me.user_id
                          AND instr(u2.search_text, ?) > 0))"
                        .to_string(),
                    args![q.as_str(), q.as_str()],
                )
            }
        };
        Page {
            viewer: viewer.into(),
            filter_sql,
            filter_args,
            limit,
            offset,
        }
    }

    const FROM: &'static str = "chat_members me JOIN chats c ON c.id = me.chat_id";

    /// `me.user_id = <viewer> AND <filter>`, and its arguments.
    fn where_sql(&self) -> (String, Vec<Arg>) {
        let (viewer, mut a) = self.viewer.sql();
        a.extend(self.filter_args.iter().cloned());
        (format!("me.user_id = {viewer} AND {}", self.filter_sql), a)
    }

    /// `SELECT c.id ...` of the page, and its arguments.
    fn ids(&self) -> (String, Vec<Arg>) {
        let (where_sql, mut a) = self.where_sql();
        a.extend(args![self.limit, self.offset]);
        (
            format!(
                "SELECT c.id FROM {} WHERE {where_sql}
                 ORDER BY c.last_activity_at DESC, c.id DESC LIMIT ? OFFSET ?",
                Self::FROM,
            ),
            a,
        )
    }
}

/// A member of one of the page's chats.
#[derive(Debug, Deserialize)]
pub struct MemberRow {
    pub chat_id: i64,
    pub is_admin: i64,
    #[serde(flatten)]
    pub user: UserRow,
}

#[derive(Debug, Deserialize)]
pub struct PageChat {
    #[serde(flatten)]
    pub chat: MemberChat,
    pub unread_count: i64,
}

/// Everything a chat page renders, loaded in one round trip whatever the page holds.
pub struct PageData {
    pub chats: Vec<PageChat>,
    pub members: Vec<MemberRow>,
    pub last_messages: Vec<MessageRow>,
    pub count: i64,
}

/// Loads a page: the chats with the caller's unread counts, all their members, each chat's
/// newest non-deleted message, and the total count — four statements, one batch.
pub async fn page(db: &Db, page: &Page) -> ApiResult<PageData> {
    let res = db.batch(page_stmts(db, page)?.to_vec()).await?;
    page_data(&res)
}

/// The four statements of `page`, to run in a batch with other work; `page_data` reads their
/// results (the slice starting at the first of them).
pub fn page_stmts(db: &Db, page: &Page) -> ApiResult<[D1PreparedStatement; 4]> {
    let (ids_sql, ids_args) = page.ids();
    let (where_sql, where_args) = page.where_sql();
    let mut chat_args = where_args.clone();
    chat_args.extend(args![page.limit, page.offset]);
    let chats = db.stmt(
        &format!(
            "SELECT {MEMBER_CHAT_COLUMNS},
               (SELECT COUNT(*) FROM messages x
                WHERE x.chat_id = c.id AND x.id > me.last_read_message_id AND x.is_deleted = 0
                  AND (x.sender_id IS NULL OR x.sender_id != me.user_id)) AS unread_count
             FROM {} WHERE {where_sql}
             ORDER BY c.last_activity_at DESC, c.id DESC LIMIT ? OFFSET ?",
            Page::FROM,
        ),
        chat_args,
    )?;
    let members = db.stmt(
        &format!(
            "SELECT cm.chat_id, cm.is_admin, u.id, u.username, u.email, u.first_name, u.last_name
             FROM chat_members cm JOIN users u ON u.id = cm.user_id
             WHERE cm.chat_id IN ({ids_sql})
             ORDER BY cm.chat_id, cm.joined_at, cm.rowid"
        ),
        ids_args.clone(),
    )?;
    let last = db.stmt(
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM}
             WHERE msg.id IN (SELECT (SELECT x.id FROM messages x
                                      WHERE x.chat_id = p.id AND x.is_deleted = 0
                                      ORDER BY x.id DESC LIMIT 1)
                              FROM ({ids_sql}) p)"
        ),
        ids_args,
    )?;
    let count = db.stmt(
        &format!("SELECT COUNT(*) AS n FROM {} WHERE {where_sql}", Page::FROM,),
        where_args,
    )?;
    Ok([chats, members, last, count])
}

/// Reads the results of `page_stmts`.
pub fn page_data(res: &[D1Result]) -> ApiResult<PageData> {
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    Ok(PageData {
        chats: rows(&res[0])?,
        members: rows(&res[1])?,
        last_messages: rows(&res[2])?,
        count: first_row::<Count>(&res[3])?.map(|c| c.n).unwrap_or(0),
    })
}

/// What creating a chat did.
pub struct Created {
    pub chat_id: Option<i64>,
    /// False when an existing DM was returned instead.
    pub created: bool,
    /// Requested member ids that are not active users (nothing was written then).
    pub found_ids: Vec<i64>,
    /// The chat as its creator sees it (empty when `chat_id` is `None`).
    pub page: PageData,
}

/// Creates a group or gets-or-creates a DM, in one transaction that also reads the chat back
/// as the creator sees it. Nothing is written unless every requested member exists. `others`
/// excludes the creator and has no duplicates.
pub async fn create(
    db: &Db,
    creator: i64,
    chat_type: &str,
    title: &str,
    others: &[i64],
    now: &str,
) -> ApiResult<Created> {
    let ids_json = serde_json::to_string(others)?;
    let n = others.len() as i64;
    let all_exist = "(SELECT COUNT(*) FROM users WHERE is_active = 1
                      AND id IN (SELECT value FROM json_each(?))) = ?";
    let found = active_users_stmt(db, &ids_json)?;
    // DMs are keyed by the pair, so a concurrent second create hits the unique key instead.
    let dm_key = (chat_type == "dm").then(|| {
        let other = others.first().copied().unwrap_or(0);
        format!("{}:{}", creator.min(other), creator.max(other))
    });
    let insert_chat = db.stmt(
        &format!(
            "INSERT INTO chats (chat_type, title, dm_key, created_by, created_at, updated_at,
                                last_activity_at)
             SELECT ?, ?, ?, ?, ?, ?, ? WHERE {all_exist}
             ON CONFLICT (dm_key) DO NOTHING"
        ),
        args![
            chat_type,
            title,
            dm_key.clone(),
            creator,
            now,
            now,
            now,
            ids_json.as_str(),
            n
        ],
    )?;
    // The chat this batch means: the DM of the pair, or the group it just inserted (inside
    // the transaction, the newest chat id is ours).
    let target = if dm_key.is_some() {
        "(SELECT id FROM chats WHERE dm_key = ?)"
    } else {
        "(SELECT MAX(id) FROM chats WHERE created_by = ? AND created_at = ?)"
    };
    let target_args = |a: &mut Vec<Arg>| match &dm_key {
        Some(k) => a.push(Arg::from(k.as_str())),
        None => a.extend(args![creator, now]),
    };
    let mut member_args = vec![];
    target_args(&mut member_args);
    member_args.extend(args![creator, chat_type == "group", now]);
    target_args(&mut member_args);
    member_args.extend(args![now, ids_json.as_str(), ids_json.as_str(), n]);
    let insert_members = db.stmt(
        &format!(
            "INSERT OR IGNORE INTO chat_members (chat_id, user_id, is_admin, joined_at)
             SELECT * FROM (SELECT {target}, ?, ?, ?
                            UNION ALL
                            SELECT {target}, value, 0, ? FROM json_each(?))
             WHERE {all_exist}"
        ),
        member_args,
    )?;
    let mut id_args = vec![];
    target_args(&mut id_args);
    let view = Page {
        viewer: Viewer::User(creator),
        filter_sql: format!("c.id = {target}"),
        filter_args: id_args,
        limit: 1,
        offset: 0,
    };
    let mut sts = vec![found, insert_chat, insert_members];
    sts.extend(page_stmts(db, &view)?);
    let res = db.batch(sts).await?;
    let found_ids = ids(&res[0])?;
    let page = page_data(&res[3..])?;
    Ok(Created {
        created: changes(&res[1]) > 0,
        chat_id: if found_ids.len() == others.len() {
            page.chats.first().map(|c| c.chat.id)
        } else {
            None
        },
        found_ids,
        page,
    })
}

/// Renames a chat and logs `chat_updated` (naming who renamed it, whose view of the chat the
/// event carries); returns the event's seq and the chat as `by` sees it, in one batch.
pub async fn rename(
    db: &Db,
    chat_id: i64,
    by: i64,
    title: &str,
    now: &str,
) -> ApiResult<(i64, PageData)> {
    let mut sts = events::append(
        db,
        chat_id,
        NewEvent {
            kind: "chat_updated",
            message: EventRef::None,
            user_id: Some(by),
            data: None,
        },
        None,
        now,
    )?;
    sts.push(db.stmt(
        "UPDATE chats SET title = ?, updated_at = ? WHERE id = ?",
        args![title, now, chat_id],
    )?);
    sts.push(events::seq_stmt(db, chat_id)?);
    let seq_at = sts.len() - 1;
    sts.extend(page_stmts(db, &Page::one(by, chat_id))?);
    let res = db.batch(sts).await?;
    Ok((
        events::read_seq(&res[seq_at])?,
        page_data(&res[seq_at + 1..])?,
    ))
}

/// Deletes a chat and everything in it (cascades); returns the seq its `chat_deleted` takes.
pub async fn delete(db: &Db, chat_id: i64) -> ApiResult<i64> {
    let res = db
        .batch(vec![
            events::seq_stmt(db, chat_id)?,
            db.stmt("DELETE FROM chats WHERE id = ?", args![chat_id])?,
        ])
        .await?;
    Ok(events::read_seq(&res[0])? + 1)
}

/// The statement selecting the active users among the ids of the JSON array `ids_json`.
fn active_users_stmt(db: &Db, ids_json: &str) -> ApiResult<D1PreparedStatement> {
    db.stmt(
        "SELECT id FROM users WHERE is_active = 1 AND id IN (SELECT value FROM json_each(?))",
        args![ids_json],
    )
}

/// The ids an `id` column of a result holds.
fn ids(res: &D1Result) -> ApiResult<Vec<i64>> {
    #[derive(Deserialize)]
    struct Id {
        id: i64,
    }
    Ok(rows::<Id>(res)?.into_iter().map(|i| i.id).collect())
}

/// The two reads of `candidates`: active users among `ids`, and which of them already belong
/// to the chat (to batch with authentication).
pub fn candidate_stmts(db: &Db, chat_id: i64, ids: &[i64]) -> ApiResult<Vec<D1PreparedStatement>> {
    let ids_json = serde_json::to_string(ids)?;
    Ok(vec![
        active_users_stmt(db, &ids_json)?,
        db.stmt(
            "SELECT user_id AS id FROM chat_members
             WHERE chat_id = ? AND user_id IN (SELECT value FROM json_each(?))",
            args![chat_id, ids_json.as_str()],
        )?,
    ])
}

/// Reads the results of `candidate_stmts`: (active users, already members).
pub fn candidates(res: &[D1Result]) -> ApiResult<(Vec<i64>, Vec<i64>)> {
    Ok((ids(&res[0])?, ids(&res[1])?))
}

/// Adds `new_ids` (active users, not yet members) and logs `members_added` with them; `None`
/// when a concurrent change made some of them members meanwhile (nothing written).
pub async fn add_members(
    db: &Db,
    chat_id: i64,
    new_ids: &[i64],
    now: &str,
) -> ApiResult<Option<i64>> {
    let ids_json = serde_json::to_string(new_ids)?;
    let guard = "NOT EXISTS (SELECT 1 FROM chat_members WHERE chat_id = chats.id
                   AND user_id IN (SELECT value FROM json_each(?)))";
    let mut sts = events::append(
        db,
        chat_id,
        NewEvent {
            kind: "members_added",
            message: EventRef::None,
            user_id: None,
            data: Some(ids_json.clone()),
        },
        Some((guard, args![ids_json.as_str()])),
        now,
    )?;
    sts.insert(
        1,
        db.stmt(
            &format!(
                "INSERT INTO chat_members (chat_id, user_id, is_admin, joined_at)
                 SELECT ?, j.value, 0, ? FROM json_each(?) j
                 WHERE EXISTS (SELECT 1 FROM chats WHERE id = ? AND {PENDING})"
            ),
            args![chat_id, now, ids_json.as_str(), chat_id],
        )?,
    );
    sts.push(events::seq_stmt(db, chat_id)?);
    let res = db.batch(sts).await?;
    if changes(&res[0]) == 0 {
        return Ok(None);
    }
    Ok(Some(events::read_seq(&res[res.len() - 1])?))
}

/// What removing a member did.
pub struct Removed {
    /// The `member_removed` seq, or `None` when the user was not a member.
    pub seq: Option<i64>,
    /// True when nobody remained and the chat was deleted.
    pub chat_deleted: bool,
}

/// Removes `user_id` from the chat, logging `member_removed`. When no admin remains the
/// longest-standing member becomes admin (groups); when nobody remains the chat is deleted.
pub async fn remove_member(
    db: &Db,
    chat_id: i64,
    user_id: i64,
    is_group: bool,
    now: &str,
) -> ApiResult<Removed> {
    let mut sts = events::append(
        db,
        chat_id,
        NewEvent {
            kind: "member_removed",
            message: EventRef::None,
            user_id: Some(user_id),
            data: None,
        },
        Some((
            "EXISTS (SELECT 1 FROM chat_members WHERE chat_id = chats.id AND user_id = ?)",
            args![user_id],
        )),
        now,
    )?;
    sts.push(events::seq_stmt(db, chat_id)?);
    sts.push(db.stmt(
        "DELETE FROM chat_members WHERE chat_id = ? AND user_id = ?",
        args![chat_id, user_id],
    )?);
    if is_group {
        sts.push(db.stmt(
            "UPDATE chat_members SET is_admin = 1
             WHERE chat_id = ?1 AND NOT EXISTS (SELECT 1 FROM chat_members WHERE chat_id = ?1 AND is_admin = 1)
               AND rowid = (SELECT rowid FROM chat_members WHERE chat_id = ?1
                            ORDER BY joined_at, rowid LIMIT 1)",
            args![chat_id],
        )?);
    }
    sts.push(db.stmt(
        "DELETE FROM chats WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM chat_members WHERE chat_id = ?1)",
        args![chat_id],
    )?);
    let res = db.batch(sts).await?;
    let bumped = changes(&res[0]) > 0;
    Ok(Removed {
        seq: if bumped {
            Some(events::read_seq(&res[3])?)
        } else {
            None
        },
        chat_deleted: changes(&res[res.len() - 1]) > 0,
    })
}
