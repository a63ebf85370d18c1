//! Rooms (SPEC §10): pages of rooms for anyone signed in, get-or-create by key, and joining
//! and leaving. A join or leave writes the member's own row and the chat's log; the room's
//! `member_count` follows in the same statement (trigger `chat_members_count_*`), and the
//! admin hand-over reads two indexes (schema.sql): nothing grows with the room's size.

use serde::Deserialize;

use super::batch::{pending, EventRef, NewEvent, Sequenced, Stamp, PENDING};
use super::chats::{page, Id, Page, PageData, PageReads, NEXT_CHAT_ID};
use super::{compose, int_bool, Batch, Db, Results, Rows, Sql, Viewer};
use crate::args;
use crate::domain::{ChatKind, EventKind};
use crate::error::ApiResult;

/// Which room a read means.
pub enum RoomRef<'a> {
    Id(i64),
    Key(&'a str),
}

/// Rooms whose title or key contains `search`, newest activity first, the viewer a member
/// or not.
pub fn list(viewer: impl Into<Viewer>, search: Option<&str>, limit: i64, offset: i64) -> Page {
    let filter = match search {
        None => Sql::new("1", vec![]),
        // `instr`, not `LIKE`: D1 refuses LIKE patterns over 50 bytes.
        Some(q) => Sql::new(
            "(instr(lower(c.title), ?1) > 0 OR instr(lower(COALESCE(c.room_key, '')), ?1) > 0)",
            args![q.to_lowercase()],
        ),
    };
    Page {
        viewer: viewer.into(),
        filter,
        limit,
        offset,
        rooms: true,
        counted: true,
    }
}

/// One room, as the viewer sees it.
pub fn one(viewer: impl Into<Viewer>, room: &RoomRef) -> Page {
    let filter = match room {
        RoomRef::Id(id) => Sql::new("c.id = ?1", args![*id]),
        RoomRef::Key(key) => Sql::new("c.room_key = ?1", args![*key]),
    };
    Page {
        viewer: viewer.into(),
        filter,
        limit: 1,
        offset: 0,
        rooms: true,
        counted: false,
    }
}

/// What creating a room did.
pub struct Created {
    /// False when a room with the key existed (it is returned instead).
    pub created: bool,
    /// The room as its creator sees it.
    pub page: PageData,
    /// When created: the members (its creator) with a user stream open.
    pub streams: Option<Vec<i64>>,
}

/// Creates a room (its creator joins as admin) or, with a `key` some room already has,
/// returns that room: one transaction, and the unique key makes concurrent creates agree.
pub async fn create(
    db: &Db,
    creator: i64,
    key: Option<&str>,
    title: &str,
    now: &str,
) -> ApiResult<Created> {
    // The room this batch means: the key's, or the one it just inserted (inside the
    // transaction, the newest room of this creator at this instant is ours).
    let target = match key {
        Some(key) => Sql::new("(SELECT id FROM chats WHERE room_key = ?1)", args![key]),
        None => Sql::new(
            "(SELECT MAX(id) FROM chats
              WHERE created_by = ?1 AND created_at = ?2 AND chat_type = 'room')",
            args![creator, now],
        ),
    };
    let mut b = Batch::new(db);
    let inserted = b.exec(
        &format!(
            "INSERT INTO chats (id, chat_type, title, room_key, created_by, created_at,
                                updated_at, last_activity_at)
             SELECT {NEXT_CHAT_ID}, 'room', ?1, ?2, ?3, ?4, ?4, ?4 WHERE 1
             ON CONFLICT (room_key) DO NOTHING"
        ),
        args![title, key, creator, now],
    )?;
    // Only the batch that inserted the room (made by this creator now, still empty) adds
    // its creator, as admin.
    let creator_joins = compose(
        "INSERT INTO chat_members (chat_id, user_id, is_admin, joined_at)
         SELECT c.id, ?1, 1, ?2 FROM chats c
         WHERE c.id = {} AND c.created_by = ?1 AND c.created_at = ?2 AND c.member_count = 0
         ON CONFLICT DO NOTHING",
        args![creator, now],
        &[&target],
    );
    b.exec(&creator_joins.text, creator_joins.args)?;
    let streams = super::stream::created(&mut b, &target, now)?;
    let view = Page {
        filter: compose("c.id = {}", vec![], &[&target]),
        ..one(creator, &RoomRef::Id(0))
    };
    let reads = page(&mut b, &view)?;
    let res = b.run().await?;
    Ok(Created {
        created: res.changes(inserted) > 0,
        page: reads.read(&res)?,
        streams: streams.read(&res)?,
    })
}

#[derive(Deserialize)]
struct Count {
    member_count: i64,
}

#[derive(Deserialize)]
struct Gen {
    member_gen: i64,
}

/// What a join or leave did.
pub struct Changed {
    /// The event's stamp; `None` when nothing changed (already members, not a member, not a
    /// room, no such chat).
    pub stamp: Option<Stamp>,
    /// The room's member count after the batch.
    pub member_count: Option<i64>,
    /// The membership generation a leave bumped the room to.
    pub member_gen: Option<i64>,
    /// The room as the joiner sees it, when asked for.
    pub page: Option<PageData>,
}

/// The handles of a join or leave in a batch.
pub struct ChangeReads {
    event: Sequenced,
    count: Rows<Count>,
    gen: Option<Rows<Gen>>,
    page: Option<PageReads>,
}

impl ChangeReads {
    pub fn read(&self, res: &Results) -> ApiResult<Changed> {
        let stamp = self.event.stamp(res)?;
        let member_gen = match self.gen {
            Some(g) => res.first(g)?.map(|g| g.member_gen),
            None => None,
        };
        Ok(Changed {
            stamp,
            member_count: res.first(self.count)?.map(|c| c.member_count),
            member_gen,
            page: self.page.as_ref().map(|p| p.read(res)).transpose()?,
        })
    }
}

/// Adds `user_ids` (active users, none of them members) to room `chat_id` and logs
/// `members_added`, in the batch `b`; nothing is written when the chat is not a room or one
/// of them is a member already. The first of them becomes admin of a room that has none (an
/// emptied room). A joiner's read pointer starts at the room's newest message: a large room's
/// history is not unread (and its unread count stays cheap to read). With `view_as`, the room
/// is read back as that user sees it.
pub fn join(
    b: &mut Batch,
    chat_id: i64,
    user_ids: &[i64],
    view_as: Option<i64>,
    now: &str,
) -> ApiResult<ChangeReads> {
    let ids_json = serde_json::to_string(user_ids)?;
    let (not_members, event) = super::members::adding(&ids_json, now);
    let guard = compose("chats.chat_type = 'room' AND {}", vec![], &[&not_members]);
    let (event, ()) = b.event(chat_id, Some(guard), event, |b| {
        b.exec(
            &format!(
                "INSERT INTO chat_members (chat_id, user_id, is_admin, joined_at,
                                           last_read_message_id)
                 SELECT ?1, j.value, j.key = 0 AND NOT EXISTS (SELECT 1 FROM chat_members a
                                                  WHERE a.chat_id = ?1 AND a.is_admin = 1), ?2,
                        (SELECT COALESCE(MAX(m.id), 0) FROM messages m WHERE m.chat_id = ?1)
                 FROM json_each(?3) j WHERE {}",
                pending(1)
            ),
            args![chat_id, now, ids_json.as_str()],
        )?;
        Ok(())
    })?;
    let count = member_count(b, chat_id)?;
    let page = view_as
        .map(|me| page(b, &one(me, &RoomRef::Id(chat_id))))
        .transpose()?;
    Ok(ChangeReads {
        event,
        count,
        gen: None,
        page,
    })
}

/// Removes `user_id` from room `chat_id` (leaving, or removed by an admin), logging
/// `member_removed` and bumping the membership generation, in the batch `b`. When no admin
/// remains the longest-standing member becomes admin. An emptied room stays: its messages
/// are still the page's discussion, and whoever joins next becomes its admin.
pub fn leave(b: &mut Batch, chat_id: i64, user_id: i64, now: &str) -> ApiResult<ChangeReads> {
    let guard = Sql::new(
        "chats.chat_type = 'room' AND EXISTS (SELECT 1 FROM chat_members
           WHERE chat_id = chats.id AND user_id = ?1)",
        args![user_id],
    );
    let event = NewEvent {
        kind: EventKind::MemberRemoved,
        message: EventRef::None,
        user_id: Some(user_id),
        data: None,
        now: now.to_string(),
    };
    let (event, gen) = b.event(chat_id, Some(guard), event, |b| {
        let gen = b.query::<Gen>(
            &format!(
                "UPDATE chats SET member_gen = member_gen + 1 WHERE id = ?1 AND {PENDING}
                 RETURNING member_gen"
            ),
            args![chat_id],
        )?;
        b.exec(
            &format!(
                "DELETE FROM chat_members WHERE chat_id = ?1 AND user_id = ?2 AND {}",
                pending(1)
            ),
            args![chat_id, user_id],
        )?;
        Ok(gen)
    })?;
    // Both lookups go through an index (chat_members_admins, chat_members_by_seniority).
    b.exec(
        "UPDATE chat_members SET is_admin = 1
         WHERE rowid = (SELECT rowid FROM chat_members WHERE chat_id = ?1
                        ORDER BY joined_at, rowid LIMIT 1)
           AND NOT EXISTS (SELECT 1 FROM chat_members WHERE chat_id = ?1 AND is_admin = 1)",
        args![chat_id],
    )?;
    let count = member_count(b, chat_id)?;
    Ok(ChangeReads {
        event,
        count,
        gen: Some(gen),
        page: None,
    })
}

fn member_count(b: &mut Batch, chat_id: i64) -> ApiResult<Rows<Count>> {
    b.query(
        "SELECT member_count FROM chats WHERE id = ?1 AND chat_type = 'room'",
        args![chat_id],
    )
}

/// Who may open a chat's socket, and as what.
#[derive(Debug, Deserialize)]
pub struct SocketAccess {
    pub chat_type: ChatKind,
    #[serde(deserialize_with = "int_bool")]
    pub is_member: bool,
}

/// Chat `chat_id` for the holder of a live session who may open its socket: a member, or
/// anyone when it is a room and `rooms_open` (a watcher). No row otherwise (batched with
/// authentication).
pub fn socket_access(
    b: &mut Batch,
    chat_id: i64,
    token_hash: &str,
    now: &str,
    rooms_open: bool,
) -> ApiResult<Rows<SocketAccess>> {
    b.query(
        "SELECT c.chat_type, me.user_id IS NOT NULL AS is_member
         FROM sessions s JOIN chats c ON c.id = ?1
         LEFT JOIN chat_members me ON me.chat_id = c.id AND me.user_id = s.user_id
         WHERE s.token_hash = ?2 AND s.expires_at > ?3
           AND (me.user_id IS NOT NULL OR (c.chat_type = 'room' AND ?4))",
        args![chat_id, token_hash, now, rooms_open],
    )
}

/// Chat `chat_id` when it is a room (a row) — public, so its non-members learn it exists.
pub fn is_room(b: &mut Batch, chat_id: i64) -> ApiResult<Rows<Id>> {
    b.query(
        "SELECT id FROM chats WHERE id = ?1 AND chat_type = 'room'",
        args![chat_id],
    )
}
