//! The delivered log of a chat room (docs/realtime.md): where the room stands in the chat's
//! `seq` (the next event to deliver) and the newest events it delivered, so a resuming socket
//! usually needs no D1 read. The room is its chat's single writer, so its events arrive here in
//! `seq` order; one that does not follow (events the room did not deliver, after a crash between
//! a commit and its broadcast) is refused, and the room replays the missing ones from D1 first.
//! Plain logic, natively tested.

use std::collections::VecDeque;

/// Delivered events kept in memory for resuming sockets.
const RECENT: usize = 128;

/// An event's JSON text, as sent to clients.
pub type Text = String;

/// A durable event: its seq and its text.
pub type Seqd = (i64, Text);

#[derive(Debug, Default)]
pub struct Log {
    /// The next seq to deliver; `None` until the room learns where the chat's log stands.
    next: Option<i64>,
    /// The newest delivered events, oldest first, contiguous and ending at `next - 1`.
    recent: VecDeque<Seqd>,
}

impl Log {
    /// A log at a saved position.
    pub fn restore(next: Option<i64>) -> Self {
        Log {
            next,
            ..Default::default()
        }
    }

    /// The next seq to deliver, if known.
    pub fn next(&self) -> Option<i64> {
        self.next
    }

    /// Moves the position to `next` (learnt from D1); the recent events are kept only when it
    /// does not change.
    pub fn start_at(&mut self, next: i64) {
        if self.next != Some(next) {
            self.next = Some(next);
            self.recent.clear();
        }
    }

    /// Records `seq` as delivered when it is the next one (an unknown position starts there);
    /// false otherwise, and nothing is recorded.
    pub fn delivered(&mut self, seq: i64, text: &str) -> bool {
        if self.next.is_some_and(|n| n != seq) {
            return false;
        }
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((seq, text.to_string()));
        self.next = Some(seq + 1);
        true
    }

    /// The delivered events with `from <= seq < to`, if all of them are still in memory.
    pub fn recent(&self, from: i64, to: i64) -> Option<Vec<Seqd>> {
        if from >= to {
            return Some(Vec::new());
        }
        let first = self.recent.front()?.0;
        if from < first || self.next != Some(to) {
            return None;
        }
        Some(
            self.recent
                .iter()
                .filter(|(s, _)| *s >= from)
                .cloned()
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deliver(log: &mut Log, seqs: impl IntoIterator<Item = i64>) {
        for s in seqs {
            assert!(log.delivered(s, &format!("e{s}")), "{s} follows");
        }
    }

    #[test]
    fn events_are_delivered_in_seq_order_only() {
        let mut log = Log::restore(Some(1));
        deliver(&mut log, 1..=2);
        assert_eq!(log.next(), Some(3));
        assert!(!log.delivered(5, "e5"), "a gap is refused");
        assert!(!log.delivered(2, "e2"), "a repeat is refused");
        assert_eq!(log.next(), Some(3), "nothing recorded");
    }

    #[test]
    fn an_unknown_position_starts_at_the_first_event() {
        let mut log = Log::default();
        deliver(&mut log, [9]);
        assert_eq!(log.next(), Some(10));
    }

    #[test]
    fn a_new_position_forgets_the_recent_events() {
        let mut log = Log::restore(Some(1));
        deliver(&mut log, 1..=3);
        log.start_at(4);
        assert_eq!(
            log.recent(2, 4).map(|r| r.len()),
            Some(2),
            "same position kept"
        );
        log.start_at(10);
        assert!(log.recent(2, 10).is_none(), "moved: forgotten");
    }

    #[test]
    fn resume_reads_recent_events_from_memory_when_complete() {
        let mut log = Log::restore(Some(1));
        deliver(&mut log, 1..=5);
        let got: Vec<i64> = log.recent(3, 6).unwrap().iter().map(|(s, _)| *s).collect();
        assert_eq!(got, vec![3, 4, 5]);
        assert_eq!(log.recent(6, 6).unwrap().len(), 0, "caught up");
        assert!(log.recent(3, 5).is_none(), "must end at next");
        let mut fresh = Log::restore(Some(10));
        deliver(&mut fresh, [10]);
        assert!(fresh.recent(5, 11).is_none(), "5..9 not in memory");
    }

    #[test]
    fn recent_memory_is_bounded() {
        let mut log = Log::restore(Some(1));
        deliver(&mut log, 1..=(RECENT as i64 + 10));
        assert!(log.recent(1, RECENT as i64 + 11).is_none());
        assert_eq!(log.recent(11, RECENT as i64 + 11).unwrap().len(), RECENT);
    }
}
