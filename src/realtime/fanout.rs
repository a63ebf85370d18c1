//! Which user streams a committed batch goes to (docs/realtime.md, "The user stream"). The
//! chat's write batch reads which of its members have a stream open (`stream_presence`); the
//! room hands each of them, in one call per batch, the events they may see, and tells the
//! users whose membership changed to catch up from D1 (their `chat_added` / `chat_removed`
//! is rendered there). Members without a stream open cost nothing: no call, no write.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::writes::Published;

/// What a room hands a user's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Push {
    /// A chat event, delivered when it is the next of its chat (`cursor::Cursor::take`).
    Event {
        chat_id: i64,
        seq: i64,
        gid: i64,
        prev_gid: i64,
        text: String,
    },
    /// The user's membership changed: read the stream from D1 now.
    CatchUp,
}

/// A batch's pushes for the users of one stream hub: its events once, and per user what they
/// get (event indices and catch-ups), so an event going to many users travels once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HubPush {
    pub events: Vec<Push>,
    pub users: Vec<(i64, Vec<Item>)>,
}

/// One user's item of a `HubPush`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Item {
    /// `events[i]`.
    Event(u32),
    CatchUp,
}

impl HubPush {
    /// `user_id`'s pushes, in order.
    pub fn of(&self, items: &[Item]) -> Vec<Push> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Event(n) => self.events.get(*n as usize).cloned(),
                Item::CatchUp => Some(Push::CatchUp),
            })
            .collect()
    }
}

/// Groups a plan by hub (`user_id % hubs`).
pub fn by_hub(plan: BTreeMap<i64, Vec<Push>>, hubs: u32) -> BTreeMap<u32, HubPush> {
    let mut out: BTreeMap<u32, HubPush> = BTreeMap::new();
    for (user_id, pushes) in plan {
        let hub = out.entry(hub_of(user_id, hubs)).or_default();
        let items = pushes
            .into_iter()
            .map(|p| match p {
                Push::CatchUp => Item::CatchUp,
                Push::Event { gid, .. } => {
                    let at = hub
                        .events
                        .iter()
                        .position(|e| matches!(e, Push::Event { gid: g, .. } if *g == gid));
                    let at = at.unwrap_or_else(|| {
                        hub.events.push(p);
                        hub.events.len() - 1
                    });
                    Item::Event(at as u32)
                }
            })
            .collect();
        hub.users.push((user_id, items));
    }
    out
}

/// The stream hub of `user_id`.
pub fn hub_of(user_id: i64, hubs: u32) -> u32 {
    user_id.rem_euclid(hubs.max(1) as i64) as u32
}

/// What one write of the batch did to whom.
pub struct Change<'a> {
    pub events: &'a [Published],
    /// Users it made members.
    pub added: &'a [i64],
    /// Users it removed.
    pub removed: &'a [i64],
    /// Whether it deleted the chat.
    pub deleted: bool,
}

/// Per user with a stream open, what to hand them, in order. `online` holds the users with a
/// stream open among the chat's members before the batch and those the batch adds.
pub fn plan(chat_id: i64, online: &[i64], changes: &[Change]) -> BTreeMap<i64, Vec<Push>> {
    let joining: BTreeSet<i64> = changes
        .iter()
        .flat_map(|c| c.added.iter().copied())
        .collect();
    let online: BTreeSet<i64> = online.iter().copied().collect();
    let mut members: BTreeSet<i64> = online.difference(&joining).copied().collect();
    let mut out: BTreeMap<i64, Vec<Push>> = BTreeMap::new();
    let catch_up = |out: &mut BTreeMap<i64, Vec<Push>>, u: i64| {
        let items = out.entry(u).or_default();
        if items.last() != Some(&Push::CatchUp) {
            items.push(Push::CatchUp);
        }
    };
    for change in changes {
        if change.deleted {
            for &u in &members {
                catch_up(&mut out, u);
            }
            members.clear();
            continue;
        }
        for e in change.events.iter().filter(|e| e.global.gid > 0) {
            for &u in members.iter().filter(|u| !change.removed.contains(u)) {
                out.entry(u).or_default().push(Push::Event {
                    chat_id,
                    seq: e.seq,
                    gid: e.global.gid,
                    prev_gid: e.global.prev_gid,
                    text: e.text.clone(),
                });
            }
        }
        for u in change.removed {
            if members.remove(u) {
                catch_up(&mut out, *u);
            }
        }
        for &u in change.added.iter().filter(|u| online.contains(u)) {
            members.insert(u);
            catch_up(&mut out, u);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::batch::Global;

    fn ev(seq: i64, gid: i64) -> Published {
        Published {
            seq,
            global: Global {
                gid,
                prev_gid: gid - 1,
            },
            text: format!("e{seq}"),
        }
    }

    fn change<'a>(events: &'a [Published], added: &'a [i64], removed: &'a [i64]) -> Change<'a> {
        Change {
            events,
            added,
            removed,
            deleted: false,
        }
    }

    fn seqs(items: &[Push]) -> Vec<String> {
        items
            .iter()
            .map(|p| match p {
                Push::Event { seq, .. } => seq.to_string(),
                Push::CatchUp => "catch-up".into(),
            })
            .collect()
    }

    #[test]
    fn only_online_members_get_events_and_only_while_members() {
        let (a, b, c) = ([ev(1, 10)], [ev(2, 11)], [ev(3, 12)]);
        let (d, e) = ([ev(4, 13)], [ev(5, 14)]);
        // 1 and 2 online members; 3 is offline; 4 joins in the batch; 2 leaves.
        let plan = plan(
            7,
            &[1, 2, 4],
            &[
                change(&a, &[], &[]),
                change(&b, &[4, 3], &[]),
                change(&c, &[], &[]),
                change(&d, &[], &[2]),
                change(&e, &[], &[]),
            ],
        );
        assert_eq!(seqs(&plan[&1]), ["1", "2", "3", "4", "5"]);
        // Not the event that removed them, nor any after; told to catch up instead.
        assert_eq!(seqs(&plan[&2]), ["1", "2", "3", "catch-up"]);
        // Not the event that added them, nor any before; its chat_added comes from D1.
        assert_eq!(seqs(&plan[&4]), ["catch-up", "3", "4", "5"]);
        assert!(!plan.contains_key(&3), "offline users cost nothing");
    }

    #[test]
    fn a_deleted_chat_tells_everyone_online_to_catch_up_and_nobody_hears_more() {
        let (a, b) = ([ev(1, 10)], [ev(2, 11)]);
        let deleted = Change {
            events: &b,
            added: &[],
            removed: &[],
            deleted: true,
        };
        let plan = plan(7, &[1, 2], &[change(&a, &[], &[]), deleted]);
        assert_eq!(seqs(&plan[&1]), ["1", "catch-up"]);
        assert_eq!(seqs(&plan[&2]), ["1", "catch-up"]);
        // Events with no place in the log (gid 0) are not for streams.
        let unlogged = [Published {
            seq: 3,
            global: Global::default(),
            text: String::new(),
        }];
        assert!(plan_is_empty(&[change(&unlogged, &[], &[])]));
        assert!(plan_is_empty(&[]), "nobody online, nothing to do");
    }

    #[test]
    fn hubs_carry_each_event_once_and_each_users_items_in_order() {
        let (a, b) = ([ev(1, 10)], [ev(2, 11)]);
        let p = plan(
            7,
            &[1, 2, 5],
            &[change(&a, &[], &[]), change(&b, &[], &[2])],
        );
        let hubs = by_hub(p.clone(), 4);
        assert_eq!(
            hubs.len(),
            2,
            "users 1 and 5 share hub 1, user 2 is in hub 2"
        );
        let one = &hubs[&1];
        assert_eq!(one.events.len(), 2, "events once per hub");
        for (user, items) in &one.users {
            assert_eq!(one.of(items), p[user]);
        }
        assert_eq!(hubs[&2].of(&hubs[&2].users[0].1), p[&2]);
        assert_eq!(hub_of(-3, 4), 1);
    }

    fn plan_is_empty(changes: &[Change]) -> bool {
        plan(1, &[5], changes).is_empty()
    }
}
