//! The logical session: id and per-direction sequence numbers (PROTOCOL.md §5).
//!
//! Resume (resending unacknowledged frames after a reconnect) is specified in v1 and implemented
//! later; today each WELCOME starts a fresh numbering.

/// Sequence-number bookkeeping for one session.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// The server-assigned id.
    pub id: Option<String>,
    /// Last outbound seq used (next data frame gets this + 1).
    pub out_seq: u64,
    /// Last inbound seq delivered in order.
    pub in_seq: u64,
    /// Inbound data frames delivered but not yet acknowledged.
    pub unacked_in: u32,
}

/// What to do with an inbound data frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    /// The next one in order: deliver.
    InOrder,
    /// Already delivered: drop silently.
    Duplicate,
    /// Ahead of the next expected: report the gap, then deliver.
    Gap {
        /// The seq that was expected.
        expected: u64,
    },
}

impl Session {
    /// Starts a fresh numbering for session `id`.
    pub fn start(&mut self, id: String) {
        *self = Session {
            id: Some(id),
            ..Session::default()
        };
    }

    /// The seq for the next outbound data frame.
    pub fn next_out(&mut self) -> u64 {
        self.out_seq = self.out_seq.saturating_add(1);
        self.out_seq
    }

    /// Classifies inbound `seq` and, unless it is a duplicate, records it as delivered.
    pub fn accept(&mut self, seq: u64) -> Inbound {
        if seq <= self.in_seq {
            return Inbound::Duplicate;
        }
        let expected = self.in_seq.saturating_add(1);
        self.in_seq = seq;
        self.unacked_in = self.unacked_in.saturating_add(1);
        if seq == expected {
            Inbound::InOrder
        } else {
            Inbound::Gap { expected }
        }
    }
}
