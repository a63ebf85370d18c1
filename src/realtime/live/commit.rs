//! The room's write path (docs/realtime.md, "The write path"): a write waits in `queue`
//! while a batch is in flight; the writer whose batch just committed hands the turn to the
//! first queued write, which commits every write queued by then in one D1 batch (group
//! commit). Its events go out right after the commit, in seq order — to the chat's sockets and
//! to the stream hubs of members with a user stream open.

use std::collections::BTreeMap;

use futures_channel::oneshot;

use super::{LiveChat, Queued, Turn};
use crate::args;
use crate::error::ApiError;
use crate::realtime::fanout::{self, Push};
use crate::realtime::protocol::{self as p, SocketInfo, StreamCall, StreamOp, WriteReply};
use crate::realtime::sockets::Frame;
use crate::realtime::sync;
use crate::settings::Settings;
use crate::storage::batch::Stamp;
use crate::storage::{members, stream, Batch, Db};
use crate::time;
use crate::writes::{self, Close, Done, Reply, Write};

impl LiveChat {
    /// Commits `write` with the writes queued meanwhile, in one batch.
    pub(super) async fn write(&self, mut write: Write) -> WriteReply {
        if self.writing.replace(true) {
            let (turn, wait) = oneshot::channel();
            self.queue.borrow_mut().push(Queued { write, turn });
            match wait.await {
                Ok(Turn::Done(reply)) => return reply,
                Ok(Turn::Drive(mine)) => write = mine,
                Err(_) => return unavailable(),
            }
        }
        let others = self.queue.take();
        let (writes, turns): (Vec<Write>, Vec<_>) = std::iter::once((write, None))
            .chain(others.into_iter().map(|q| (q.write, Some(q.turn))))
            .unzip();
        let mut replies = self.commit(&writes).await.into_iter();
        let mine = replies.next().unwrap_or_else(unavailable);
        for (turn, reply) in turns.into_iter().skip(1).zip(replies) {
            if let Some(turn) = turn {
                let _ = turn.send(Turn::Done(reply)); // a caller gone meanwhile misses it
            }
        }
        self.hand_over();
        mine
    }

    /// Gives the turn to the first queued write whose caller still waits, or ends the turn.
    fn hand_over(&self) {
        loop {
            let next = {
                let mut q = self.queue.borrow_mut();
                (!q.is_empty()).then(|| q.remove(0))
            };
            let Some(q) = next else {
                self.writing.set(false);
                return;
            };
            if q.turn.send(Turn::Drive(q.write)).is_ok() {
                return;
            }
        }
    }

    /// One batch: the chat's log head before it, then every write; their answers in order.
    /// A batch that fails as a whole is retried one write at a time, so one bad write cannot
    /// fail the others.
    async fn commit(&self, writes: &[Write]) -> Vec<WriteReply> {
        let db = match self.db() {
            Ok(db) => db,
            Err(e) => return writes.iter().map(|_| failed(&e)).collect(),
        };
        let chat_id = self.room.borrow().chat_id;
        let now = time::now_iso();
        let mut b = Batch::new(&db);
        // The log's head before this batch, read once per instance: after that the room has
        // delivered everything it committed.
        let head = match self.head_read.get() {
            true => None,
            false => b
                .query::<Stamp>(
                    "SELECT last_seq, member_gen FROM chats WHERE id = ?1",
                    args![chat_id],
                )
                .ok(),
        };
        // Who has a user stream open, among the members and those the batch adds: only they
        // are handed its events (fanout.rs).
        let joining: Vec<i64> = writes
            .iter()
            .flat_map(|w| match w {
                Write::AddMembers { user_ids } => user_ids.clone(),
                _ => Vec::new(),
            })
            .collect();
        let online = stream::online(&mut b, chat_id, &joining, &now);
        let planned: Vec<_> = writes
            .iter()
            .map(|w| writes::plan(&mut b, chat_id, w, &now))
            .collect();
        let res = match b.run().await {
            Ok(res) => res,
            Err(e) if writes.len() == 1 => return vec![failed(&e)],
            Err(_) => {
                let mut out = Vec::new();
                for w in writes {
                    out.extend(Box::pin(self.commit(std::slice::from_ref(w))).await);
                }
                return out;
            }
        };
        if let Some(head) = head {
            self.catch_up_to(&db, res.first(head).ok().flatten()).await;
            self.head_read.set(true);
        }
        let mut cost = db.cost();
        let dones: Vec<Done> = planned
            .into_iter()
            .map(|p| match p {
                Ok(p) => p.done(&res),
                Err(e) => Done::refused(&e),
            })
            .collect();
        let online: Vec<i64> = match online.and_then(|h| stream::OnlineIds::read(&res, h)) {
            Ok(ids) => ids,
            Err(e) => {
                worker::console_error!("stream presence not read: {e:?}");
                Vec::new()
            }
        };
        if !online.is_empty() {
            let changes: Vec<fanout::Change> = dones.iter().map(change).collect();
            let plan = fanout::plan(chat_id, &online, &changes);
            cost.streams = self.push_streams(plan) as u32;
        }
        let replies = dones
            .into_iter()
            .map(|done| WriteReply {
                reply: self.deliver(done),
                cost,
            })
            .collect();
        self.persist().await;
        replies
    }

    /// Hands the stream hubs their pushes: one call per hub at a time, in order (a stream
    /// relies on each chat's events arriving in seq order); what queues meanwhile goes in the
    /// next call. The number of calls made for this batch.
    fn push_streams(&self, plan: BTreeMap<i64, Vec<Push>>) -> usize {
        let hubs = fanout::by_hub(plan, Settings::from_env(&self.env).stream_hubs);
        let calls = hubs.len();
        for (hub, push) in hubs {
            let start = {
                let mut outbox = self.outbox.borrow_mut();
                let idle = !outbox.contains_key(&hub);
                outbox.entry(hub).or_default().push(push);
                idle
            };
            if start {
                let (env, outbox) = (self.env.clone(), self.outbox.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    loop {
                        let batches = match outbox.borrow_mut().get_mut(&hub) {
                            Some(q) => std::mem::take(q),
                            None => return,
                        };
                        if batches.is_empty() {
                            outbox.borrow_mut().remove(&hub);
                            return;
                        }
                        let call = StreamCall {
                            hub,
                            op: StreamOp::Push { batches },
                        };
                        if let Err(e) = crate::realtime::call_stream(&env, &call).await {
                            worker::console_error!("stream hub {hub} missed a push: {e:?}");
                        }
                    }
                });
            }
        }
        calls
    }

    /// Before a batch's events go out: the events committed before it that this room did not
    /// deliver (it crashed between a commit and its broadcast) go first, and a removal it did
    /// not apply closes the removed members' sockets.
    async fn catch_up_to(&self, db: &Db, head: Option<Stamp>) {
        let Some(head) = head else {
            return;
        };
        let behind = self.room.borrow().log.next().is_none_or(|n| n <= head.seq);
        if behind {
            if let Err(e) = sync::replay_to(db, &self.room, head.seq, &self.broadcast()).await {
                worker::console_error!("replay before a write failed: {e:?}");
            }
        }
        self.check_members(head.member_gen).await;
    }

    /// Delivers what a write did: its events in order, then the sockets it closes (or, in a
    /// room, turns into watchers), then a room's new member count. Joiners' watcher sockets
    /// become members' first, so they receive the join's own event.
    fn deliver(&self, done: Done) -> Reply {
        if !done.promote.is_empty() {
            let after = done.events.first().map_or(0, |e| e.seq - 1);
            self.room.borrow_mut().joined(&done.promote);
            self.sockets
                .set_role(&self.state, &done.promote, false, after);
        }
        for e in &done.events {
            if self.room.borrow_mut().log.delivered(e.seq, &e.text) {
                self.broadcast()(&[Frame::new(&e.text, Some(e.seq))]);
            }
        }
        if let Some(gen) = done.member_gen {
            let mut r = self.room.borrow_mut();
            r.member_gen = r.member_gen.max(gen);
        }
        match &done.close {
            Some(Close::Users(ids)) => {
                self.room.borrow_mut().disconnected(Some(ids));
                let hit = |i: &SocketInfo| ids.contains(&i.user_id);
                self.sockets.close(&self.state, "No longer a member.", hit);
            }
            Some(Close::Demote(ids)) => {
                self.room.borrow_mut().disconnected(Some(ids));
                self.sockets.set_role(&self.state, ids, true, 0);
            }
            Some(Close::Everyone) => {
                self.room.borrow_mut().disconnected(None);
                self.sockets
                    .close(&self.state, "The chat was deleted.", |_| true);
            }
            None => {}
        }
        if let Some(count) = done.member_count {
            let frame = Frame::for_everyone(&p::member_count_frame(count).to_string());
            self.sockets
                .send_all(&self.state, &[frame], None, time::now_ms());
        }
        done.reply
    }

    /// The sockets of users who are no longer members close, when D1's membership generation
    /// is newer than the room's.
    async fn check_members(&self, member_gen: i64) {
        if member_gen <= self.room.borrow().member_gen {
            return;
        }
        let chat_id = self.room.borrow().chat_id;
        let users = self.sockets.users(&self.state);
        let members = match self.db() {
            Ok(db) => members::which_are_members(&db, chat_id, &users).await,
            Err(e) => Err(e),
        };
        match members {
            Ok(members) => {
                let gone = |i: &SocketInfo| !members.contains(&i.user_id);
                // A room's former members stay, as watchers; other chats' sockets close.
                let left: Vec<i64> = (self.sockets.list(&self.state).iter())
                    .filter(|o| o.info.room && !o.info.watcher && gone(&o.info))
                    .map(|o| o.info.user_id)
                    .collect();
                self.sockets.set_role(&self.state, &left, true, 0);
                let close = |i: &SocketInfo| !i.room && gone(i);
                self.sockets
                    .close(&self.state, "No longer a member.", close);
                let mut r = self.room.borrow_mut();
                r.member_gen = r.member_gen.max(member_gen);
            }
            Err(e) => worker::console_error!("membership re-check failed: {e:?}"),
        }
    }
}

/// What a write did to whom, for the user streams.
fn change(d: &Done) -> fanout::Change<'_> {
    let (removed, deleted): (&[i64], bool) = match &d.close {
        Some(Close::Users(ids)) | Some(Close::Demote(ids)) => (ids, false),
        Some(Close::Everyone) => (&[], true),
        None => (&[], false),
    };
    fanout::Change {
        events: &d.events,
        // A room's joiners are its `promote` list.
        added: if d.added.is_empty() {
            &d.promote
        } else {
            &d.added
        },
        removed,
        deleted,
    }
}

/// The answer of a write whose batch could not run.
fn failed(e: &ApiError) -> WriteReply {
    WriteReply {
        reply: Reply::refusal(e),
        cost: Default::default(),
    }
}

/// The answer of a write whose turn never came (its room was torn down).
fn unavailable() -> WriteReply {
    failed(&ApiError::Internal("a write was dropped".into()))
}
