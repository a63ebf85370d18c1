//! The ordering buffer of a chat room (docs/realtime.md): durable events reach the room in any order
//! (two requests publish concurrently, a publish gets lost) and leave it strictly in `seq`
//! order, with no gaps and no duplicates. It also owns the gap timer: a gap that outlives
//! `GAP_TIMEOUT_MS` is filled from D1 by the room. Plain logic, natively tested.

use std::collections::{BTreeMap, VecDeque};

/// How long a gap may wait for its publish before the room reads the missing events from D1.
pub const GAP_TIMEOUT_MS: i64 = 2_000;

/// Delivered events kept in memory so a resuming socket usually needs no D1 read.
const RECENT: usize = 128;

/// An event's JSON text, as sent to clients.
pub type Text = String;

/// A durable event: its seq and its text.
pub type Seqd = (i64, Text);

#[derive(Debug, Default)]
pub struct OrderBuffer {
    /// The next seq to deliver; `None` until the room learns where the chat's log stands.
    next: Option<i64>,
    /// Events that arrived ahead of `next`, waiting for the gap before them.
    pending: BTreeMap<i64, Text>,
    /// The newest delivered events, oldest first, contiguous and ending at `next - 1`.
    recent: VecDeque<(i64, Text)>,
    /// When the current gap appeared: set exactly while some event waits for an earlier one.
    gap_since: Option<i64>,
}

impl OrderBuffer {
    /// A buffer at a saved position (and gap timer).
    pub fn restore(next: Option<i64>, gap_since: Option<i64>) -> Self {
        OrderBuffer {
            next,
            gap_since: next.and(gap_since),
            ..Default::default()
        }
    }

    /// The next seq to deliver, if known.
    pub fn next(&self) -> Option<i64> {
        self.next
    }

    /// When the current gap appeared, if there is one.
    pub fn gap_since(&self) -> Option<i64> {
        self.gap_since
    }

    /// When the gap must be filled from D1, if there is one.
    pub fn gap_deadline(&self) -> Option<i64> {
        self.gap_since.map(|t| t + GAP_TIMEOUT_MS)
    }

    /// Accepts one event at `now`; returns the events now deliverable, in order. An unknown
    /// position starts at the first event seen: nobody can be connected then (connecting
    /// fixes `next`).
    pub fn offer(&mut self, seq: i64, event: Text, now: i64) -> Vec<Seqd> {
        let next = *self.next.get_or_insert(seq);
        if seq >= next {
            self.pending.entry(seq).or_insert(event);
        }
        self.drain(now)
    }

    /// Sets the position when it is still unknown (read from D1's `last_seq + 1`); returns the
    /// waiting events that became deliverable.
    pub fn start_at(&mut self, next: i64, now: i64) -> Vec<Seqd> {
        if self.next.is_none() {
            self.next = Some(next);
            self.pending = self.pending.split_off(&next);
        }
        self.drain(now)
    }

    /// Moves the position to `next` whatever it was (a chat id reused after a delete, or
    /// events pruned before the room saw them); forgets everything before it.
    pub fn reset(&mut self, next: i64, now: i64) -> Vec<Seqd> {
        self.next = Some(next);
        self.pending = self.pending.split_off(&next);
        self.recent.clear();
        self.drain(now)
    }

    /// A fill from D1 at `now` did not close the gap: wait one more timeout before the next.
    pub fn fill_failed(&mut self, now: i64) {
        if self.gap_since.is_some() {
            self.gap_since = Some(now);
        }
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

    fn drain(&mut self, now: i64) -> Vec<Seqd> {
        let mut out = Vec::new();
        let Some(mut next) = self.next else {
            return out;
        };
        while let Some(event) = self.pending.remove(&next) {
            if self.recent.len() == RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back((next, event.clone()));
            out.push((next, event));
            next += 1;
        }
        self.next = Some(next);
        self.gap_since = match self.pending.is_empty() {
            true => None,
            false => Some(self.gap_since.unwrap_or(now)),
        };
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: i64) -> Text {
        format!("e{seq}")
    }

    fn seqs(events: &[Seqd]) -> Vec<i64> {
        for (seq, text) in events {
            assert_eq!(*text, ev(*seq), "each event keeps its text");
        }
        events.iter().map(|(s, _)| *s).collect()
    }

    #[test]
    fn in_order_events_pass_straight_through() {
        let mut b = OrderBuffer::restore(Some(1), None);
        assert_eq!(seqs(&b.offer(1, ev(1), 0)), vec![1]);
        assert_eq!(seqs(&b.offer(2, ev(2), 0)), vec![2]);
        assert_eq!(b.next(), Some(3));
        assert_eq!(b.gap_since(), None);
    }

    #[test]
    fn out_of_order_events_wait_for_the_gap_then_leave_in_order() {
        let mut b = OrderBuffer::restore(Some(5), None);
        assert!(b.offer(7, ev(7), 100).is_empty(), "7 waits for 5 and 6");
        assert_eq!(b.gap_since(), Some(100), "the gap appeared at 100");
        assert!(b.offer(6, ev(6), 300).is_empty(), "6 waits for 5");
        assert_eq!(b.gap_deadline(), Some(100 + GAP_TIMEOUT_MS), "timer kept");
        assert_eq!(seqs(&b.offer(5, ev(5), 400)), vec![5, 6, 7]);
        assert_eq!(b.gap_since(), None, "closed");
    }

    #[test]
    fn duplicates_are_delivered_once() {
        let mut b = OrderBuffer::restore(Some(1), None);
        assert_eq!(seqs(&b.offer(1, ev(1), 0)), vec![1]);
        assert!(b.offer(1, ev(1), 0).is_empty(), "already delivered");
        assert!(b.offer(3, ev(3), 0).is_empty());
        assert!(b.offer(3, ev(3), 0).is_empty(), "already pending");
        assert_eq!(seqs(&b.offer(2, ev(2), 0)), vec![2, 3]);
    }

    #[test]
    fn an_unknown_position_starts_at_the_first_event() {
        let mut b = OrderBuffer::default();
        assert_eq!(seqs(&b.offer(9, ev(9), 0)), vec![9]);
        assert!(b.offer(8, ev(8), 0).is_empty(), "before the start: dropped");
        assert_eq!(b.gap_since(), None, "a dropped event is no gap");
    }

    #[test]
    fn start_at_releases_waiting_events_and_drops_older_ones() {
        let mut b = OrderBuffer::default();
        b.pending.insert(3, ev(3));
        b.pending.insert(5, ev(5));
        assert_eq!(seqs(&b.start_at(5, 0)), vec![5]);
        assert_eq!(b.next(), Some(6));
        assert!(b.start_at(1, 0).is_empty(), "a known position is kept");
        assert_eq!(b.next(), Some(6));
    }

    #[test]
    fn gap_fill_from_the_log_closes_the_gap_without_duplicates() {
        let mut b = OrderBuffer::restore(Some(1), None);
        b.offer(1, ev(1), 0);
        b.offer(4, ev(4), 0);
        // The room reads 2..=4 from D1 after the timeout: 4 is already pending.
        let mut out = Vec::new();
        for s in 2..=4 {
            out.extend(b.offer(s, ev(s), GAP_TIMEOUT_MS));
        }
        assert_eq!(seqs(&out), vec![2, 3, 4]);
        // The lost publish arrives late: dropped.
        assert!(b.offer(3, ev(3), GAP_TIMEOUT_MS).is_empty());
    }

    #[test]
    fn a_failed_fill_waits_one_more_timeout() {
        let mut b = OrderBuffer::restore(Some(1), None);
        b.offer(3, ev(3), 0);
        b.fill_failed(GAP_TIMEOUT_MS);
        assert_eq!(b.gap_deadline(), Some(2 * GAP_TIMEOUT_MS));
        let mut closed = OrderBuffer::restore(Some(1), None);
        closed.fill_failed(5);
        assert_eq!(closed.gap_since(), None, "no gap, no timer");
    }

    #[test]
    fn resume_reads_recent_events_from_memory_when_complete() {
        let mut b = OrderBuffer::restore(Some(1), None);
        for s in 1..=5 {
            b.offer(s, ev(s), 0);
        }
        assert_eq!(seqs(&b.recent(3, 6).unwrap()), vec![3, 4, 5]);
        assert_eq!(b.recent(6, 6).unwrap().len(), 0, "caught up");
        assert!(b.recent(3, 5).is_none(), "must end at next");
        let mut fresh = OrderBuffer::restore(Some(10), None);
        fresh.offer(10, ev(10), 0);
        assert!(fresh.recent(5, 11).is_none(), "5..9 not in memory");
    }

    #[test]
    fn recent_memory_is_bounded() {
        let mut b = OrderBuffer::restore(Some(1), None);
        for s in 1..=(RECENT as i64 + 10) {
            b.offer(s, ev(s), 0);
        }
        assert!(b.recent(1, RECENT as i64 + 11).is_none());
        assert_eq!(b.recent(11, RECENT as i64 + 11).unwrap().len(), RECENT);
    }

    #[test]
    fn reset_moves_the_position_back_for_a_recreated_chat() {
        let mut b = OrderBuffer::restore(Some(50), None);
        assert!(b.reset(1, 0).is_empty());
        assert_eq!(seqs(&b.offer(1, ev(1), 0)), vec![1]);
    }
}
