//! The outbox: every message `send` accepted and the server has not acknowledged yet — the unsent
//! ones and the ones in flight — in one bounded structure (quinn's send buffer is the model).
//!
//! A message gets its session seq when it is accepted and keeps it until an ACK covering it frees
//! it. Transmission is a cursor (`sent`) over the same entries, so a resumed session replays by
//! moving the cursor back, and a session that could not be resumed hands the in-flight entries to
//! the app (the `gap` event) while the unsent ones are renumbered into the new session.
//!
//! Bounds: `max_messages` and `max_bytes` (the `queueMaxMessages` / `queueMaxBytes` options) cover
//! the whole outbox, unsent and unacknowledged alike, so `bufferedAmount` can never exceed
//! `queueMaxBytes`. The overflow policy decides what a full outbox does with a new message:
//! `reject` refuses it; `drop-oldest` drops the oldest entries, in flight or not, and reports how
//! many (a dropped in-flight message may or may not have reached the server).

use super::types::Payload;
use crate::config::OverflowPolicy;
use crate::protocol::next_seq;
use std::collections::VecDeque;

/// One accepted message and its session seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Its sequence number in the current session.
    pub seq: u64,
    /// The message.
    pub payload: Payload,
}

/// Result of offering a message to the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offer {
    /// Accepted; `dropped` older messages were discarded to make room (drop-oldest policy).
    Accepted {
        /// How many older messages were dropped.
        dropped: usize,
    },
    /// Not accepted: full under the reject policy, or larger than the whole byte budget.
    Full,
    /// The session has used every sequence number (PROTOCOL.md §5): it must end with 1011.
    Exhausted,
}

/// Unsent and unacknowledged messages within `max_messages` and `max_bytes`.
#[derive(Debug)]
pub(crate) struct Outbox {
    /// Seqs strictly increasing by one from the front (only drop-oldest can leave a hole, and
    /// only below the front).
    items: VecDeque<Entry>,
    bytes: usize,
    /// Last seq assigned.
    last_seq: u64,
    /// Highest seq handed to a transport since the last rewind: entries at or below it are in
    /// flight, entries above it are unsent.
    sent: u64,
    /// Highest seq ever handed to a transport in this session (first transmissions are counted
    /// in the stats, replays are not).
    high: u64,
    max_messages: usize,
    max_bytes: usize,
    policy: OverflowPolicy,
}

impl Outbox {
    /// An empty outbox with these bounds.
    pub(crate) fn new(max_messages: usize, max_bytes: usize, policy: OverflowPolicy) -> Self {
        Outbox {
            items: VecDeque::new(),
            bytes: 0,
            last_seq: 0,
            sent: 0,
            high: 0,
            max_messages,
            max_bytes,
            policy,
        }
    }

    /// Offers `p`, applying the bounds and the overflow policy; an accepted message gets the
    /// next seq.
    pub(crate) fn offer(&mut self, p: Payload) -> Offer {
        let len = p.len();
        if len > self.max_bytes {
            return Offer::Full;
        }
        let fits = |o: &Self| o.items.len() < o.max_messages && o.bytes + len <= o.max_bytes;
        let mut dropped = 0;
        let mut dropped_unsent = false;
        if !fits(self) {
            match self.policy {
                OverflowPolicy::Reject => return Offer::Full,
                OverflowPolicy::DropOldest => {
                    while !fits(self) {
                        let Some(old) = self.items.pop_front() else {
                            break;
                        };
                        self.bytes -= old.payload.len();
                        dropped += 1;
                        dropped_unsent |= old.seq > self.high;
                    }
                }
            }
        }
        if dropped_unsent {
            // The peer never saw the dropped ones: close the hole so it sees no gap. Entries are
            // dropped from the front, so every remaining one is unsent too.
            self.renumber_unsent();
        }
        let Some(seq) = next_seq(self.last_seq) else {
            return Offer::Exhausted;
        };
        self.last_seq = seq;
        self.bytes += len;
        self.items.push_back(Entry { seq, payload: p });
        Offer::Accepted { dropped }
    }

    /// The next unsent entry, now counted as sent, and whether this is its first transmission
    /// in this session. Call until `None` to flush.
    pub(crate) fn transmit_next(&mut self) -> Option<(&Entry, bool)> {
        let front = self.items.front()?.seq;
        let index = if front > self.sent {
            0
        } else {
            usize::try_from(self.sent + 1 - front).ok()?
        };
        let entry = self.items.get(index)?;
        self.sent = entry.seq;
        let first = entry.seq > self.high;
        self.high = self.high.max(entry.seq);
        Some((entry, first))
    }

    /// Removes and returns the oldest unsent entry (raw mode: no acks exist, so a message is done
    /// once handed to the transport).
    pub(crate) fn pop_unsent(&mut self) -> Option<Payload> {
        if self.items.front()?.seq <= self.sent {
            return None;
        }
        let e = self.items.pop_front()?;
        self.bytes -= e.payload.len();
        self.sent = e.seq;
        self.high = self.high.max(e.seq);
        Some(e.payload)
    }

    /// The peer acknowledged every seq up to `seq`: frees those entries. An ack beyond what was
    /// ever sent is clamped (the peer cannot have seen unsent messages).
    pub(crate) fn ack(&mut self, seq: u64) {
        let seq = seq.min(self.high);
        while self.items.front().is_some_and(|e| e.seq <= seq) {
            if let Some(e) = self.items.pop_front() {
                self.bytes -= e.payload.len();
            }
        }
    }

    /// A new connection resumed the session: everything still held is sent again, in order.
    pub(crate) fn rewind(&mut self) {
        self.sent = self
            .items
            .front()
            .map_or(self.last_seq, |e| e.seq.saturating_sub(1));
    }

    /// The session could not be resumed: removes and returns the entries that were in flight
    /// (the server may or may not have them) and renumbers the unsent ones from 1 for the new
    /// session.
    pub(crate) fn take_in_flight(&mut self) -> Vec<Payload> {
        let mut in_flight = Vec::new();
        while self.items.front().is_some_and(|e| e.seq <= self.high) {
            if let Some(e) = self.items.pop_front() {
                self.bytes -= e.payload.len();
                in_flight.push(e.payload);
            }
        }
        self.sent = 0;
        self.high = 0;
        self.renumber_unsent();
        in_flight
    }

    /// Gives the entries never transmitted consecutive seqs right after the highest one that was.
    fn renumber_unsent(&mut self) {
        let high = self.high;
        let mut seq = high;
        for e in self.items.iter_mut().filter(|e| e.seq > high) {
            seq += 1;
            e.seq = seq;
        }
        self.last_seq = seq;
    }

    /// Messages held (unsent + unacknowledged).
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Messages not handed to the current connection yet.
    pub(crate) fn unsent(&self) -> usize {
        self.items.iter().filter(|e| e.seq > self.sent).count()
    }

    /// Payload bytes held (unsent + unacknowledged): `bufferedAmount`.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Discards everything, returning how many messages were dropped.
    pub(crate) fn clear(&mut self) -> usize {
        let n = self.items.len();
        self.items.clear();
        self.bytes = 0;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Payload {
        Payload::Text(s.to_owned())
    }

    fn flush(o: &mut Outbox) -> Vec<u64> {
        std::iter::from_fn(|| o.transmit_next().map(|(e, _)| e.seq)).collect()
    }

    #[test]
    fn seqs_are_assigned_at_accept_and_freed_by_ack() {
        let mut o = Outbox::new(10, 100, OverflowPolicy::Reject);
        for s in ["a", "bb", "ccc"] {
            assert_eq!(o.offer(t(s)), Offer::Accepted { dropped: 0 });
        }
        assert_eq!((o.len(), o.bytes(), o.unsent()), (3, 6, 3));
        assert_eq!(flush(&mut o), vec![1, 2, 3]);
        assert_eq!(o.unsent(), 0);
        o.ack(2);
        assert_eq!((o.len(), o.bytes()), (1, 3));
        // An ack beyond what was sent frees only what was sent.
        o.offer(t("d"));
        o.ack(99);
        assert_eq!((o.len(), o.bytes()), (1, 1));
        assert_eq!(flush(&mut o), vec![4]);
    }

    #[test]
    fn rewind_replays_everything_unacknowledged_once_more() {
        let mut o = Outbox::new(10, 100, OverflowPolicy::Reject);
        for s in ["a", "b", "c"] {
            o.offer(t(s));
        }
        assert_eq!(flush(&mut o), vec![1, 2, 3]);
        o.ack(1);
        o.rewind();
        let replay: Vec<(u64, bool)> =
            std::iter::from_fn(|| o.transmit_next().map(|(e, first)| (e.seq, first))).collect();
        assert_eq!(replay, vec![(2, false), (3, false)]);
    }

    #[test]
    fn a_lost_session_hands_back_the_in_flight_and_renumbers_the_rest() {
        let mut o = Outbox::new(10, 100, OverflowPolicy::Reject);
        for s in ["a", "b", "c", "d"] {
            o.offer(t(s));
        }
        o.transmit_next();
        o.transmit_next();
        assert_eq!(o.take_in_flight(), vec![t("a"), t("b")]);
        assert_eq!((o.len(), o.bytes()), (2, 2));
        assert_eq!(flush(&mut o), vec![1, 2]);
    }

    #[test]
    fn bounds_cover_unsent_and_unacknowledged_together() {
        let mut o = Outbox::new(2, 100, OverflowPolicy::Reject);
        o.offer(t("a"));
        flush(&mut o);
        o.offer(t("b"));
        assert_eq!(o.offer(t("c")), Offer::Full);
        o.ack(1);
        assert_eq!(o.offer(t("c")), Offer::Accepted { dropped: 0 });
        let mut small = Outbox::new(10, 3, OverflowPolicy::Reject);
        assert_eq!(small.offer(t("abcd")), Offer::Full);
    }

    #[test]
    fn drop_oldest_closes_the_hole_when_it_drops_unsent_messages() {
        let mut o = Outbox::new(2, 100, OverflowPolicy::DropOldest);
        o.offer(t("a"));
        o.offer(t("b"));
        assert_eq!(o.offer(t("c")), Offer::Accepted { dropped: 1 });
        // "a" never left: "b" and "c" become 1 and 2, so the server sees no gap.
        assert_eq!(flush(&mut o), vec![1, 2]);
        // Dropping an in-flight one keeps the numbering (the server may have it).
        assert_eq!(o.offer(t("d")), Offer::Accepted { dropped: 1 });
        assert_eq!(flush(&mut o), vec![3]);
    }

    #[test]
    fn raw_mode_pops_on_transmission() {
        let mut o = Outbox::new(10, 100, OverflowPolicy::Reject);
        o.offer(t("a"));
        o.offer(t("b"));
        assert_eq!(o.pop_unsent(), Some(t("a")));
        assert_eq!(o.pop_unsent(), Some(t("b")));
        assert_eq!(o.pop_unsent(), None);
        assert_eq!((o.len(), o.bytes()), (0, 0));
    }

    #[test]
    fn sequence_numbers_stop_at_the_protocol_limit() {
        let mut o = Outbox::new(10, 100, OverflowPolicy::Reject);
        o.last_seq = crate::protocol::MAX_SEQ - 1;
        assert_eq!(o.offer(t("a")), Offer::Accepted { dropped: 0 });
        assert_eq!(o.offer(t("b")), Offer::Exhausted);
        assert_eq!(o.len(), 1);
    }
}
