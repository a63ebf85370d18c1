//! Chats: membership checks, chat pages (list and detail) in one round trip, creation, rename
//! and delete. Members' own changes are in `members.rs`.

use serde::Deserialize;

use super::batch::{EventRef, NewEvent, Sequenced, Stamp};
use super::messages::{unread, MessageRow, MESSAGE_COLUMNS, MESSAGE_FROM};
use super::users::UserRow;
use super::{compose, int_bool, Batch, Db, Results, Rows, Sql, Viewer};
use crate::args;
use crate::domain::{ChatKind, EventKind};
use crate::error::ApiResult;

/// A chat as the caller sees it: the row plus the caller's membership.
#[derive(Debug, Clone, Deserialize)]
pub struct MemberChat {
    pub id: i64,
    pub chat_type: ChatKind,
    pub title: String,
    pub created_at: String,
    pub updated_at: String,
    pub last_seq: i64,
    #[serde(deserialize_with = "int_bool")]
    pub is_admin: bool,
    pub last_read_message_id: i64,
    /// A room's key (rooms only, and optional there).
    pub room_key: Option<String>,
    pub member_count: i64,
}

/// A `MemberChat`; `me` may be a LEFT JOIN's missing row (a room's visitor: no admin, no
/// read pointer).
const MEMBER_CHAT_COLUMNS: &str = "c.id, c.chat_type, c.title, c.created_at, c.updated_at,
    c.last_seq, COALESCE(me.is_admin, 0) AS is_admin,
    COALESCE(me.last_read_message_id, 0) AS last_read_message_id, c.room_key, c.member_count";

/// Members a room's JSON lists (its longest-standing ones, admins among them: admin is only
/// ever given to the creator and, on hand-over, to the longest-standing member); a room of
/// thousands is not sent whole with every answer. `member_count` says how many there are.
pub const ROOM_MEMBERS_SHOWN: i64 = 50;

/// Finds chat `chat_id` for the holder of a live session: no row when the session is invalid
/// or its user is not a member (batched with authentication).
pub fn membership_by_session(
    b: &mut Batch,
    chat_id: i64,
    token_hash: &str,
    now: &str,
) -> ApiResult<Rows<MemberChat>> {
    b.query(
        &format!(
            "SELECT {MEMBER_CHAT_COLUMNS} FROM sessions s
             JOIN chat_members me ON me.user_id = s.user_id AND me.chat_id = ?1
             JOIN chats c ON c.id = me.chat_id
             WHERE s.token_hash = ?2 AND s.expires_at > ?3"
        ),
        args![chat_id, token_hash, now],
    )
}

/// Which chats a page shows: the viewer's chats matching `filter` (SQL over `c` and `me`),
/// or with `rooms`, every room matching it, the viewer a member or not (storage/rooms.rs).
/// Only a `counted` page (a list's) also counts every chat that matches.
pub struct Page {
    pub viewer: Viewer,
    pub filter: Sql,
    pub limit: i64,
    pub offset: i64,
    pub rooms: bool,
    pub counted: bool,
}

impl Page {
    /// One chat of the viewer's (detail).
    pub fn one(viewer: impl Into<Viewer>, chat_id: i64) -> Page {
        Page {
            viewer: viewer.into(),
            filter: Sql::new("c.id = ?1", args![chat_id]),
            limit: 1,
            offset: 0,
            rooms: false,
            counted: false,
        }
    }

    /// The viewer's chats whose title or other members' names contain `search`.
    pub fn list(viewer: impl Into<Viewer>, search: Option<&str>, limit: i64, offset: i64) -> Page {
        let filter = match search {
            None => Sql::new("1", vec![]),
            // `instr`, not `LIKE`: D1 refuses LIKE patterns over 50 bytes.
            Some(q) => Sql::new(
                "(instr(lower(c.title), ?1) > 0 OR EXISTS (
                    SELECT 1 FROM chat_members m2 JOIN users u2 ON u2.id = m2.user_id
                    WHERE m2.chat_id = c.id AND m2.user_id != me.user_id
                      AND instr(u2.search_text, ?1) > 0))",
                args![q.to_lowercase()],
            ),
        };
        Page {
            viewer: viewer.into(),
            filter,
            limit,
            offset,
            rooms: false,
            counted: true,
        }
    }

    /// The same page without chats of the `hidden` kinds (the chat list's settings).
    pub fn hiding(mut self, hidden: &[ChatKind]) -> Page {
        for kind in hidden {
            self.filter = compose("{} AND c.chat_type != ?1", args![*kind], &[&self.filter]);
        }
        self
    }

    /// `FROM <the chats> WHERE <condition>`: the viewer's chats, or every room with the
    /// viewer's membership when there is one.
    fn source(&self) -> Sql {
        let template = if self.rooms {
            "FROM chats c LEFT JOIN chat_members me ON me.chat_id = c.id AND me.user_id = {}
             WHERE c.chat_type = 'room' AND {}"
        } else {
            "FROM chat_members me JOIN chats c ON c.id = me.chat_id
             WHERE me.user_id = {} AND {}"
        };
        compose(template, vec![], &[&self.viewer.sql(), &self.filter])
    }

    /// `SELECT <columns> FROM ... WHERE ... ORDER BY activity LIMIT OFFSET`.
    fn select(&self, columns: &str) -> Sql {
        compose(
            &format!(
                "SELECT {columns} {{}} ORDER BY c.last_activity_at DESC, c.id DESC
                 LIMIT ?1 OFFSET ?2"
            ),
            args![self.limit, self.offset],
            &[&self.source()],
        )
    }
}

/// A member of one of the page's chats.
#[derive(Debug, Deserialize)]
pub struct MemberRow {
    pub chat_id: i64,
    #[serde(deserialize_with = "int_bool")]
    pub is_admin: bool,
    #[serde(flatten)]
    pub user: UserRow,
}

#[derive(Debug, Deserialize)]
pub struct PageChat {
    #[serde(flatten)]
    pub chat: MemberChat,
    pub unread_count: i64,
    /// Always true but in a rooms page, whose rooms the viewer may not have joined.
    #[serde(default = "yes", deserialize_with = "int_bool")]
    pub is_member: bool,
}

fn yes() -> bool {
    true
}

/// Everything a chat page renders.
#[derive(Default)]
pub struct PageData {
    pub chats: Vec<PageChat>,
    pub members: Vec<MemberRow>,
    pub last_messages: Vec<MessageRow>,
    /// Every chat the page's filter matches (0 unless the page is `counted`).
    pub count: i64,
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

/// The statements of a chat page in a batch.
pub struct PageReads {
    chats: Rows<PageChat>,
    members: Rows<MemberRow>,
    last: Rows<MessageRow>,
    /// A counted page's.
    count: Option<Rows<Count>>,
}

impl PageReads {
    pub fn read(&self, res: &Results) -> ApiResult<PageData> {
        Ok(PageData {
            chats: res.all(self.chats)?,
            members: res.all(self.members)?,
            last_messages: res.all(self.last)?,
            count: match self.count {
                Some(count) => res.first(count)?.map_or(0, |c| c.n),
                None => 0,
            },
        })
    }
}

/// Loads a page — the chats with the caller's unread counts, all their members, each chat's
/// newest non-deleted message, and the total count — in the batch `b`, whatever it holds. The
/// rows read grow with the page's chats and members, not with the messages in them (each
/// chat's newest non-deleted message is found from the newest back).
pub fn page(b: &mut Batch, page: &Page) -> ApiResult<PageReads> {
    // Unread counts by subtraction: a few rows per chat, not one per unread message (issue 18).
    let chats = page.select(&format!(
        "{MEMBER_CHAT_COLUMNS}, me.user_id IS NOT NULL AS is_member,
           CASE WHEN me.user_id IS NULL THEN 0 ELSE {} END AS unread_count",
        unread("c.id", "c.message_count", "me.last_read_message_id")
    ));
    let ids = page.select("c.id, c.chat_type");
    // Every member of a DM or group; a room's first `ROOM_MEMBERS_SHOWN`, read through the
    // seniority index (rows read stay bounded however large the room).
    // The page's chats once, as a CTE both halves read (it is written out, and run, once).
    let members = compose(
        "WITH p AS MATERIALIZED ({})
         SELECT cm.chat_id, cm.is_admin, cm.joined_at, cm.rowid AS member_row,
                u.id, u.username, u.email, u.first_name, u.last_name,
                u.avatar_url
         FROM p JOIN chat_members cm ON cm.chat_id = p.id JOIN users u ON u.id = cm.user_id
         WHERE p.chat_type != 'room'
         UNION ALL
         SELECT cm.chat_id, cm.is_admin, cm.joined_at, cm.rowid AS member_row,
                u.id, u.username, u.email, u.first_name, u.last_name,
                u.avatar_url
         FROM p
         JOIN chat_members cm ON cm.rowid IN (
             SELECT x.rowid FROM chat_members x WHERE x.chat_id = p.id
             ORDER BY x.joined_at, x.rowid LIMIT ?1)
         JOIN users u ON u.id = cm.user_id
         WHERE p.chat_type = 'room'
         ORDER BY 1, 3, 4",
        args![ROOM_MEMBERS_SHOWN],
        &[&ids],
    );
    let last = compose(
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM}
             WHERE msg.id IN (SELECT (SELECT x.id FROM messages x
                                      WHERE x.chat_id = p.id AND x.is_deleted = 0
                                      ORDER BY x.id DESC LIMIT 1)
                              FROM ({{}}) p)"
        ),
        vec![],
        &[&ids],
    );
    let count = compose("SELECT COUNT(*) AS n {}", vec![], &[&page.source()]);
    Ok(PageReads {
        chats: b.query(&chats.text, chats.args)?,
        members: b.query(&members.text, members.args)?,
        last: b.query(&last.text, last.args)?,
        count: match page.counted {
            true => Some(b.query(&count.text, count.args)?),
            false => None,
        },
    })
}

/// Loads a page in its own round trip.
pub async fn load_page(db: &Db, p: &Page) -> ApiResult<PageData> {
    let mut b = Batch::new(db);
    let reads = page(&mut b, p)?;
    reads.read(&b.run().await?)
}

/// The id a new chat takes: past every id ever given out, deleted chats' included (the
/// `chats_id_floor` trigger records those), so no chat inherits a deleted one's Durable
/// Object, sockets or log.
pub const NEXT_CHAT_ID: &str = "(SELECT MAX(COALESCE((SELECT MAX(id) FROM chats), 0),
     (SELECT value FROM id_floors WHERE name = 'chats')) + 1)";

/// What creating a chat did.
pub struct Created {
    pub chat_id: Option<i64>,
    /// False when an existing DM was returned instead.
    pub created: bool,
    /// Requested member ids that are active users (nothing was written unless all are).
    pub found_ids: Vec<i64>,
    /// The chat as its creator sees it (empty when `chat_id` is `None`).
    pub page: PageData,
    /// When created: the members with a user stream open.
    pub streams: Option<Vec<i64>>,
}

/// Creates a group or gets-or-creates a DM, in one transaction that also reads the chat back
/// as the creator sees it. Nothing is written unless every requested member exists. `others`
/// excludes the creator and has no duplicates.
pub async fn create(
    db: &Db,
    creator: i64,
    kind: ChatKind,
    title: &str,
    others: &[i64],
    now: &str,
) -> ApiResult<Created> {
    let ids_json = serde_json::to_string(others)?;
    let all_exist = Sql::new(
        "(SELECT COUNT(*) FROM users WHERE is_active = 1
          AND id IN (SELECT value FROM json_each(?1))) = ?2",
        args![ids_json.as_str(), others.len() as i64],
    );
    // DMs are keyed by the pair, so a concurrent second create hits the unique key instead.
    let dm_key = (kind == ChatKind::Dm).then(|| {
        let other = others.first().copied().unwrap_or(0);
        format!("{}:{}", creator.min(other), creator.max(other))
    });
    // The chat this batch means: the DM of the pair, or the group it just inserted (inside
    // the transaction, the newest chat of this creator at this instant is ours).
    let target = match &dm_key {
        Some(key) => Sql::new(
            "(SELECT id FROM chats WHERE dm_key = ?1)",
            args![key.as_str()],
        ),
        None => Sql::new(
            "(SELECT MAX(id) FROM chats WHERE created_by = ?1 AND created_at = ?2)",
            args![creator, now],
        ),
    };
    let mut b = Batch::new(db);
    let found = active_users(&mut b, &ids_json)?;
    let insert_chat = compose(
        &format!(
            "INSERT INTO chats (id, chat_type, title, dm_key, created_by, created_at, updated_at,
                                last_activity_at)
             SELECT {NEXT_CHAT_ID}, ?1, ?2, ?3, ?4, ?5, ?5, ?5 WHERE {{}}
             ON CONFLICT (dm_key) DO NOTHING"
        ),
        args![kind, title, dm_key.clone(), creator, now],
        &[&all_exist],
    );
    let inserted = b.exec(&insert_chat.text, insert_chat.args)?;
    let insert_members = compose(
        "INSERT OR IGNORE INTO chat_members (chat_id, user_id, is_admin, joined_at)
         SELECT * FROM (SELECT {}, ?1, ?2, ?3
                        UNION ALL
                        SELECT {}, value, 0, ?3 FROM json_each(?4))
         WHERE {}",
        args![creator, kind == ChatKind::Group, now, ids_json.as_str()],
        &[&target, &target, &all_exist],
    );
    b.exec(&insert_members.text, insert_members.args)?;
    let streams = super::stream::created(&mut b, &target, now)?;
    let view = Page {
        filter: compose("c.id = {}", vec![], &[&target]),
        ..Page::one(creator, 0)
    };
    let reads = page(&mut b, &view)?;
    let res = b.run().await?;
    let found_ids = ids(&res, found)?;
    let page = reads.read(&res)?;
    let streams = streams.read(&res)?;
    Ok(Created {
        streams,
        created: res.changes(inserted) > 0,
        chat_id: if found_ids.len() == others.len() {
            page.chats.first().map(|c| c.chat.id)
        } else {
            None
        },
        found_ids,
        page,
    })
}

/// The handles of `rename` in a batch.
pub struct RenameReads {
    event: Sequenced,
    page: PageReads,
}

impl RenameReads {
    /// The event's stamp (`None`: the chat is gone) and the chat as the renamer sees it.
    pub fn read(&self, res: &Results) -> ApiResult<(Option<Stamp>, PageData)> {
        Ok((self.event.stamp(res)?, self.page.read(res)?))
    }
}

/// Renames a chat and logs `chat_updated` (naming who renamed it, whose view of the chat the
/// event carries), reading the chat back as `by` sees it, in the batch `b`.
pub fn rename(
    b: &mut Batch,
    chat_id: i64,
    by: i64,
    title: &str,
    now: &str,
) -> ApiResult<RenameReads> {
    let event = NewEvent {
        kind: EventKind::ChatUpdated,
        message: EventRef::None,
        user_id: Some(by),
        data: None,
        now: now.to_string(),
    };
    let (event, ()) = b.event(chat_id, None, event, |b| {
        b.exec(
            "UPDATE chats SET title = ?1, updated_at = ?2 WHERE id = ?3",
            args![title, now, chat_id],
        )?;
        Ok(())
    })?;
    let page = page(b, &Page::one(by, chat_id))?;
    Ok(RenameReads { event, page })
}

/// Deletes a chat and everything in it (cascades), in the batch `b`; the handle reads the
/// chat's last seq before the delete (`chat_deleted` takes the next one; none: it was gone).
pub fn delete(b: &mut Batch, chat_id: i64, now: &str) -> ApiResult<Sequenced> {
    // `chat_deleted` is logged first: its trigger gives every member `chat_removed` in their
    // user stream, then the chat's rows (its log included) go with it.
    let event = NewEvent {
        kind: EventKind::ChatDeleted,
        message: EventRef::None,
        user_id: None,
        data: None,
        now: now.to_string(),
    };
    let (event, ()) = b.event(chat_id, None, event, |_| Ok(()))?;
    b.exec("DELETE FROM chats WHERE id = ?1", args![chat_id])?;
    Ok(event)
}

/// An `id` column.
#[derive(Deserialize)]
pub struct Id {
    pub id: i64,
}

/// The ids a statement returned.
pub fn ids(res: &Results, h: Rows<Id>) -> ApiResult<Vec<i64>> {
    Ok(res.all(h)?.into_iter().map(|i| i.id).collect())
}

/// Selects the active users among the ids of the JSON array `ids_json`.
pub fn active_users(b: &mut Batch, ids_json: &str) -> ApiResult<Rows<Id>> {
    b.query(
        "SELECT id FROM users WHERE is_active = 1 AND id IN (SELECT value FROM json_each(?1))",
        args![ids_json],
    )
}
