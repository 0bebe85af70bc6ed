//! The delivery rules both peers follow (PROTOCOL.md §5), in one place: how sequence numbers are
//! allocated, how a receiver classifies an inbound data frame, and when it acknowledges.
//!
//! The client core and the reference server both use these, so the two sides cannot drift apart
//! (they once did: the client saturated at `u64::MAX` while the server closed at 2^63).

/// A receiver acknowledges an unacknowledged data frame at most this late.
pub const ACK_DELAY_MS: u64 = 200;
/// A receiver acknowledges at once when this many data frames are unacknowledged.
pub const ACK_EVERY: u32 = 32;
/// Sequence numbers never wrap: a sender whose next seq would exceed this ends the session with
/// CLOSE `1011`.
pub const MAX_SEQ: u64 = 1 << 63;

/// The seq after `last`, or `None` when the session has used every sequence number (the sender
/// must then end the session with CLOSE `1011`).
pub fn next_seq(last: u64) -> Option<u64> {
    if last >= MAX_SEQ {
        None
    } else {
        Some(last + 1)
    }
}

/// What a receiver does with an inbound data frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    /// The next one in order: deliver it.
    InOrder,
    /// At or below the last delivered seq: a resend after resume. Drop it silently.
    Duplicate,
    /// Further ahead than the next expected seq. With resume this only happens when the peer
    /// broke the rules (or dropped messages on purpose under a drop-oldest policy); the frame is
    /// reported and delivered, and the receiver moves on from it.
    Gap {
        /// The seq that was expected.
        expected: u64,
    },
    /// Above [`MAX_SEQ`], which no sender ever uses: a malformed frame. Not delivered, and the
    /// receiver does not move (moved there, it would take every later frame for a duplicate).
    OutOfRange,
}

/// One direction's receiving side: the last seq delivered in order and the acknowledgement due.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Receiver {
    /// Highest seq delivered in order (0 = none yet). This is what HELLO's `last_seq` and the
    /// WELCOME's `ack` carry, and what an ACK acknowledges.
    pub last: u64,
    /// Data frames delivered since the last ACK was sent (at least 1 after a duplicate: an ACK
    /// is owed again).
    pub unacked: u32,
}

impl Receiver {
    /// A receiver that already delivered everything up to `last` (a resumed session).
    pub fn resumed(last: u64) -> Self {
        Receiver { last, unacked: 0 }
    }

    /// Classifies `seq` and, unless it is a duplicate, records it as delivered. A duplicate
    /// means the peer resent because it never got our ACK (a resume, or an ACK lost with a
    /// connection): it makes an ACK due again, so the peer can free its log.
    pub fn accept(&mut self, seq: u64) -> Inbound {
        if seq > MAX_SEQ {
            return Inbound::OutOfRange;
        }
        if seq <= self.last {
            self.unacked = self.unacked.max(1);
            return Inbound::Duplicate;
        }
        let expected = self.last.saturating_add(1);
        self.last = seq;
        self.unacked = self.unacked.saturating_add(1);
        if seq == expected {
            Inbound::InOrder
        } else {
            Inbound::Gap { expected }
        }
    }

    /// Whether enough frames are unacknowledged that the ACK must go out now rather than after
    /// [`ACK_DELAY_MS`].
    pub fn ack_now(&self) -> bool {
        self.unacked >= ACK_EVERY
    }

    /// Takes the ACK to send, if anything is unacknowledged: the cumulative seq to acknowledge.
    pub fn take_ack(&mut self) -> Option<u64> {
        if self.unacked == 0 {
            return None;
        }
        self.unacked = 0;
        Some(self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_allocation_stops_at_the_limit() {
        assert_eq!(next_seq(0), Some(1));
        assert_eq!(next_seq(MAX_SEQ - 1), Some(MAX_SEQ));
        assert_eq!(next_seq(MAX_SEQ), None);
        assert_eq!(next_seq(u64::MAX), None);
    }

    #[test]
    fn receiver_classifies_and_acks() {
        let mut r = Receiver::default();
        assert_eq!(r.accept(1), Inbound::InOrder);
        assert_eq!(r.accept(1), Inbound::Duplicate);
        assert_eq!(r.accept(3), Inbound::Gap { expected: 2 });
        assert_eq!(r.take_ack(), Some(3));
        assert_eq!(r.take_ack(), None);
        // A duplicate after the ACK: the peer missed it, so it is owed again.
        assert_eq!(r.accept(2), Inbound::Duplicate);
        assert_eq!(r.take_ack(), Some(3));
        assert_eq!(r.take_ack(), None);
        // Out of range: refused, and the receiver stays where it was.
        assert_eq!(r.accept(MAX_SEQ + 1), Inbound::OutOfRange);
        assert_eq!(r.accept(u64::MAX), Inbound::OutOfRange);
        assert_eq!(r.accept(4), Inbound::InOrder);
        assert_eq!(r.take_ack(), Some(4));
        let mut r = Receiver::resumed(10);
        assert_eq!(r.accept(10), Inbound::Duplicate);
        assert_eq!(r.accept(11), Inbound::InOrder);
        for s in 12..(12 + u64::from(ACK_EVERY)) {
            r.accept(s);
        }
        assert!(r.ack_now());
    }
}
