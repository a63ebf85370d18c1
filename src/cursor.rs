//! Positions in a user's stream (docs/realtime.md, "The user stream"), and the rule by which a
//! live stream takes or refuses an event. Pure logic: the poll endpoint and the UserStream
//! Durable Object both use it.
//!
//! Every chat event has a `gid`, one sequence over all chats in commit order. A poll reads
//! from D1 in gid order, so a gid is a complete position there. A live stream cannot be that
//! simple: two chats' rooms push their events independently, so gid 11 may arrive before
//! gid 10. A position is therefore a `base` gid — everything at or below it is behind — plus,
//! per chat, the seq of the newest event delivered above the base. Resuming from it replays
//! exactly what is missing. A catch-up from D1 folds the per-chat part into a new base.

use std::collections::BTreeMap;

/// The largest gid or seq a cursor may name (JSON numbers are exact below 2^53).
const MAX: i64 = 1 << 53;
/// Chats a cursor may name above its base; a stream catches up from D1 (which folds them
/// into the base) before it would need more.
pub const MAX_SEEN: usize = 64;
/// The longest cursor text: a base and `MAX_SEEN` chat-seq pairs of 16 digits each.
pub const MAX_TEXT: usize = 16 + MAX_SEEN * 34;

/// A position in a user's stream. Printed as `<base>` or `<base>.<chat>-<seq>.<chat>-<seq>`;
/// clients treat it as an opaque string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Every event with a gid at or below this is behind the cursor.
    pub base: i64,
    /// Per chat, the seq of the newest event delivered with a gid above `base`.
    pub seen: BTreeMap<i64, i64>,
}

/// What a live stream does with a pushed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// Send it: it is the next one of its chat.
    Deliver,
    /// Already behind the cursor: drop it.
    Behind,
    /// An event of its chat before it has not been delivered: catch up from D1 first.
    Gap,
}

impl Cursor {
    pub fn at(base: i64) -> Cursor {
        Cursor {
            base,
            seen: BTreeMap::new(),
        }
    }

    /// Parses a cursor; `None` when malformed (a 400).
    pub fn parse(text: &str) -> Option<Cursor> {
        if text.len() > MAX_TEXT {
            return None;
        }
        let mut parts = text.trim().split('.');
        let base = number(parts.next()?)?;
        let mut seen = BTreeMap::new();
        for part in parts {
            let (chat, seq) = part.split_once('-')?;
            let (chat, seq) = (number(chat)?, number(seq)?);
            if chat == 0 || seq == 0 || seen.insert(chat, seq).is_some() || seen.len() > MAX_SEEN {
                return None;
            }
        }
        Some(Cursor { base, seen })
    }

    /// The seen map as the JSON object the poll's SQL reads (`{"c5": 17}`).
    pub fn seen_json(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = self
            .seen
            .iter()
            .map(|(c, s)| (format!("c{c}"), (*s).into()))
            .collect();
        serde_json::Value::Object(map).to_string()
    }

    /// Whether the event (`chat_id`, `seq`, `gid`) is behind the cursor.
    pub fn covers(&self, chat_id: i64, seq: i64, gid: i64) -> bool {
        gid <= self.base || self.seen.get(&chat_id).is_some_and(|&s| s >= seq)
    }

    /// Decides on a pushed chat event: its chat, seq, gid, and the gid of its chat's event
    /// before it. Moves the cursor past it when delivered.
    pub fn take(&mut self, chat_id: i64, seq: i64, gid: i64, prev_gid: i64) -> Take {
        if self.covers(chat_id, seq, gid) {
            return Take::Behind;
        }
        let next = match self.seen.get(&chat_id) {
            Some(&s) => s + 1 == seq,
            // The first above the base: its predecessor must be behind the base.
            None => prev_gid <= self.base,
        };
        if !next || (self.seen.len() >= MAX_SEEN && !self.seen.contains_key(&chat_id)) {
            return Take::Gap;
        }
        self.seen.insert(chat_id, seq);
        Take::Deliver
    }

    /// An event read from the log (in gid order): the base moves to it. True when it was not
    /// yet delivered (a membership change has no seq: its gid alone decides).
    pub fn logged(&mut self, chat_id: i64, seq: Option<i64>, gid: i64) -> bool {
        let new = match seq {
            Some(s) => !self.covers(chat_id, s, gid),
            None => gid > self.base,
        };
        self.base = self.base.max(gid);
        if let (Some(s), Some(seen)) = (seq, self.seen.get_mut(&chat_id)) {
            *seen = (*seen).max(s);
        }
        new
    }

    /// After a catch-up that delivered everything up to `head`: the base moves there, and
    /// what was seen above the old base is behind it now.
    pub fn caught_up(&mut self, head: i64) {
        if head >= self.base {
            self.base = head;
            self.seen.clear();
        }
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.base)?;
        for (chat, seq) in &self.seen {
            write!(f, ".{chat}-{seq}")?;
        }
        Ok(())
    }
}

/// A non-negative decimal below 2^53, digits only.
fn number(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok().filter(|&n| n <= MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_print_and_parse_back() {
        let mut c = Cursor::at(120);
        assert_eq!(c.to_string(), "120");
        c.seen.insert(5, 17);
        c.seen.insert(9, 3);
        assert_eq!(c.to_string(), "120.5-17.9-3");
        assert_eq!(Cursor::parse("120.5-17.9-3"), Some(c.clone()));
        assert_eq!(c.seen_json(), r#"{"c5":17,"c9":3}"#);
        assert_eq!(Cursor::parse(" 0 "), Some(Cursor::at(0)));
    }

    #[test]
    fn malformed_cursors_are_refused() {
        let too_many: String = (1..=65).map(|c| format!(".{c}-1")).collect();
        for bad in [
            "",
            "x",
            "-1",
            "1.5",
            "1.5-",
            "1.-5",
            "1.0-4",
            "1.4-0",
            "1.5-1.5-2",
            "+3",
            "1e3",
            "9007199254740993",
            "1..2-3",
            "1.2-3.",
            "12345678901234567",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?}");
        }
        assert_eq!(
            Cursor::parse(&format!("1{too_many}")),
            None,
            "more than MAX_SEEN chats"
        );
    }

    #[test]
    fn events_are_taken_in_chat_order_across_chats_arriving_out_of_gid_order() {
        let mut c = Cursor::at(100);
        // Chat 2's event (gid 102) arrives before chat 1's (gid 101): both are next in
        // their chats, so both are delivered.
        assert_eq!(c.take(2, 7, 102, 90), Take::Deliver);
        assert_eq!(c.take(1, 4, 101, 95), Take::Deliver);
        assert_eq!(c.take(1, 5, 103, 101), Take::Deliver);
        assert_eq!(c.to_string(), "100.1-5.2-7");
        // Duplicates (a room replaying after a restart) and old events are behind.
        assert_eq!(c.take(1, 5, 103, 101), Take::Behind);
        assert_eq!(c.take(3, 1, 99, 0), Take::Behind);
        // A chat's event whose predecessor was not delivered is a gap.
        assert_eq!(c.take(2, 9, 110, 108), Take::Gap);
        assert_eq!(
            c.take(4, 2, 111, 104),
            Take::Gap,
            "predecessor above the base, unseen"
        );
        // Resuming from the printed cursor covers exactly what was delivered.
        let resumed = Cursor::parse(&c.to_string()).unwrap();
        assert!(resumed.covers(1, 5, 103) && resumed.covers(2, 7, 102));
        assert!(!resumed.covers(2, 8, 104) && !resumed.covers(4, 2, 111));
        // A catch-up to 111 folds everything into the base.
        c.caught_up(111);
        assert_eq!(c.to_string(), "111");
        assert_eq!(c.take(2, 10, 112, 110), Take::Deliver);
        c.caught_up(50);
        assert_eq!(
            c.to_string(),
            "111.2-10",
            "a catch-up never moves the base back"
        );
    }

    #[test]
    fn reading_the_log_skips_what_was_pushed_and_keeps_chats_in_step() {
        let mut c = Cursor::at(100);
        assert_eq!(c.take(1, 4, 103, 95), Take::Deliver);
        // The log from 100: chat 2's gid 101 (missed), chat 1's 103 (already pushed), a
        // membership change at 104, chat 1's 105 (missed).
        assert!(c.logged(2, Some(8), 101));
        assert!(!c.logged(1, Some(4), 103));
        assert!(c.logged(9, None, 104));
        assert!(c.logged(1, Some(5), 105));
        assert_eq!(c.to_string(), "105.1-5");
        // The next push of chat 1 follows on.
        assert_eq!(c.take(1, 6, 107, 105), Take::Deliver);
        assert!(!c.logged(9, None, 104), "a membership change once");
    }

    #[test]
    fn a_full_seen_map_asks_for_a_catch_up_instead_of_growing() {
        let mut c = Cursor::at(0);
        for chat in 1..=MAX_SEEN as i64 {
            assert_eq!(c.take(chat, 1, chat, 0), Take::Deliver);
        }
        assert_eq!(
            c.take(1, 2, 1000, 1),
            Take::Deliver,
            "a seen chat still moves"
        );
        assert_eq!(
            c.take(999, 1, 1001, 0),
            Take::Gap,
            "a new chat waits for the catch-up"
        );
        assert!(Cursor::parse(&c.to_string()).is_some());
    }
}
