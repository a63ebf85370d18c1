//! The ordering buffer of a chat room (SPEC §6): durable events reach the room in any order
//! (two requests publish concurrently, a publish gets lost) and leave it strictly in `seq`
//! order, with no gaps and no duplicates. Plain logic, natively tested; the Durable Object
//! persists `next` and fills gaps from D1 when they outlive `GAP_TIMEOUT_MS`.

use std::collections::{BTreeMap, VecDeque};

use serde_json::Value;

/// How long a gap may wait for its publish before the room reads the missing events from D1.
pub const GAP_TIMEOUT_MS: i64 = 2_000;

/// Delivered events kept in memory so a resuming socket usually needs no D1 read.
const RECENT: usize = 128;

#[derive(Debug, Default)]
pub struct OrderBuffer {
    /// The next seq to deliver; `None` until the room learns where the chat's log stands.
    next: Option<i64>,
    /// Events that arrived ahead of `next`, waiting for the gap before them.
    pending: BTreeMap<i64, Value>,
    /// The newest delivered events, oldest first, contiguous and ending at `next - 1`.
    recent: VecDeque<(i64, Value)>,
}

impl OrderBuffer {
    pub fn new(next: Option<i64>) -> Self {
        OrderBuffer {
            next,
            ..Default::default()
        }
    }

    /// The next seq to deliver, if known.
    pub fn next(&self) -> Option<i64> {
        self.next
    }

    /// True while some event waits for an earlier one.
    pub fn has_gap(&self) -> bool {
        self.next.is_some() && !self.pending.is_empty()
    }

    /// Accepts one event; returns the events now deliverable, in order. An unknown position
    /// starts at the first event seen: nobody can be connected then (connecting fixes `next`).
    pub fn offer(&mut self, seq: i64, event: Value) -> Vec<Value> {
        let next = *self.next.get_or_insert(seq);
        if seq >= next {
            self.pending.entry(seq).or_insert(event);
        }
        self.drain()
    }

    /// Sets the position when it is still unknown (read from D1's `last_seq + 1`); returns the
    /// waiting events that became deliverable.
    pub fn start_at(&mut self, next: i64) -> Vec<Value> {
        if self.next.is_none() {
            self.next = Some(next);
            self.pending = self.pending.split_off(&next);
        }
        self.drain()
    }

    /// Moves the position to `next` whatever it was (a chat id reused after a delete, or
    /// events pruned before the room saw them); forgets everything before it.
    pub fn reset(&mut self, next: i64) -> Vec<Value> {
        self.next = Some(next);
        self.pending = self.pending.split_off(&next);
        self.recent.clear();
        self.drain()
    }

    /// The delivered events with `from <= seq < to`, if all of them are still in memory.
    pub fn recent(&self, from: i64, to: i64) -> Option<Vec<Value>> {
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
                .map(|(_, e)| e.clone())
                .collect(),
        )
    }

    fn drain(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        let Some(mut next) = self.next else {
            return out;
        };
        while let Some(event) = self.pending.remove(&next) {
            if self.recent.len() == RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back((next, event.clone()));
            out.push(event);
            next += 1;
        }
        self.next = Some(next);
        out
    }
}

/// The seq of a client event, if it is durable.
pub fn seq_of(event: &Value) -> Option<i64> {
    event.get("seq").and_then(Value::as_i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(seq: i64) -> Value {
        json!({"type": "new_message", "seq": seq})
    }

    fn seqs(events: &[Value]) -> Vec<i64> {
        events.iter().filter_map(seq_of).collect()
    }

    #[test]
    fn in_order_events_pass_straight_through() {
        let mut b = OrderBuffer::new(Some(1));
        assert_eq!(seqs(&b.offer(1, ev(1))), vec![1]);
        assert_eq!(seqs(&b.offer(2, ev(2))), vec![2]);
        assert_eq!(b.next(), Some(3));
        assert!(!b.has_gap());
    }

    #[test]
    fn out_of_order_events_wait_for_the_gap_then_leave_in_order() {
        let mut b = OrderBuffer::new(Some(5));
        assert!(b.offer(7, ev(7)).is_empty(), "7 waits for 5 and 6");
        assert!(b.offer(6, ev(6)).is_empty(), "6 waits for 5");
        assert!(b.has_gap());
        assert_eq!(seqs(&b.offer(5, ev(5))), vec![5, 6, 7]);
        assert!(!b.has_gap());
    }

    #[test]
    fn duplicates_are_delivered_once() {
        let mut b = OrderBuffer::new(Some(1));
        assert_eq!(seqs(&b.offer(1, ev(1))), vec![1]);
        assert!(b.offer(1, ev(1)).is_empty(), "already delivered");
        assert!(b.offer(3, ev(3)).is_empty());
        assert!(b.offer(3, ev(3)).is_empty(), "already pending");
        assert_eq!(seqs(&b.offer(2, ev(2))), vec![2, 3]);
    }

    #[test]
    fn an_unknown_position_starts_at_the_first_event() {
        let mut b = OrderBuffer::new(None);
        assert_eq!(seqs(&b.offer(9, ev(9))), vec![9]);
        assert!(b.offer(8, ev(8)).is_empty(), "before the start: dropped");
    }

    #[test]
    fn start_at_releases_waiting_events_and_drops_older_ones() {
        let mut b = OrderBuffer::new(None);
        b.pending.insert(3, ev(3));
        b.pending.insert(5, ev(5));
        assert_eq!(seqs(&b.start_at(5)), vec![5]);
        assert_eq!(b.next(), Some(6));
        assert!(b.start_at(1).is_empty(), "a known position is kept");
        assert_eq!(b.next(), Some(6));
    }

    #[test]
    fn gap_fill_from_the_log_closes_the_gap_without_duplicates() {
        let mut b = OrderBuffer::new(Some(1));
        b.offer(1, ev(1));
        b.offer(4, ev(4));
        // The room reads 2..=4 from D1 after the timeout: 4 is already pending.
        let mut out = Vec::new();
        for s in 2..=4 {
            out.extend(b.offer(s, ev(s)));
        }
        assert_eq!(seqs(&out), vec![2, 3, 4]);
        // The lost publish arrives late: dropped.
        assert!(b.offer(3, ev(3)).is_empty());
    }

    #[test]
    fn resume_reads_recent_events_from_memory_when_complete() {
        let mut b = OrderBuffer::new(Some(1));
        for s in 1..=5 {
            b.offer(s, ev(s));
        }
        assert_eq!(seqs(&b.recent(3, 6).unwrap()), vec![3, 4, 5]);
        assert_eq!(b.recent(6, 6).unwrap().len(), 0, "caught up");
        assert!(b.recent(3, 5).is_none(), "must end at next");
        let mut fresh = OrderBuffer::new(Some(10));
        fresh.offer(10, ev(10));
        assert!(fresh.recent(5, 11).is_none(), "5..9 not in memory");
    }

    #[test]
    fn recent_memory_is_bounded() {
        let mut b = OrderBuffer::new(Some(1));
        for s in 1..=(RECENT as i64 + 10) {
            b.offer(s, ev(s));
        }
        assert!(b.recent(1, RECENT as i64 + 11).is_none());
        assert_eq!(b.recent(11, RECENT as i64 + 11).unwrap().len(), RECENT);
    }

    #[test]
    fn reset_moves_the_position_back_for_a_recreated_chat() {
        let mut b = OrderBuffer::new(Some(50));
        assert_eq!(seqs(&b.reset(1)), Vec::<i64>::new());
        assert_eq!(seqs(&b.offer(1, ev(1))), vec![1]);
    }
}
