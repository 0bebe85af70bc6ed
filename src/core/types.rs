//! The small value types every part of the core shares: connection ids, payloads, send outcomes
//! and the counters behind `stats()`.

use crate::config::TransportKind;

/// Identifies one physical connection attempt. Inputs carrying an older id are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// A message: text or binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A string message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

impl Payload {
    /// Size in bytes (UTF-8 length for text).
    pub fn len(&self) -> usize {
        match self {
            Payload::Text(s) => s.len(),
            Payload::Binary(b) => b.len(),
        }
    }

    /// Whether the message is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What happened to a message given to [`super::Machine::send`]. Every send gets one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// Handed to the open transport.
    Sent,
    /// Held in the outbox; it will be sent, in order, before the next `Open` event.
    Queued,
    /// Not accepted; an `error` event says why (except after close).
    Rejected(RejectReason),
}

/// Why a send was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// The client is closed.
    Closed,
    /// The outbox is full (reject policy), or the message is larger than its whole byte budget.
    QueueFull,
    /// The message exceeds `maxMessageBytes`.
    TooBig,
}

impl SendOutcome {
    /// `"sent" | "queued" | "rejected"`, as the JS API returns it.
    pub fn name(self) -> &'static str {
        match self {
            SendOutcome::Sent => "sent",
            SendOutcome::Queued => "queued",
            SendOutcome::Rejected(_) => "rejected",
        }
    }
}

/// Counters for `stats()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Smoothed heartbeat round-trip time.
    pub rtt_ms: Option<u64>,
    /// Successful opens after the first.
    pub reconnects: u64,
    /// The transport of the current attempt or connection.
    pub transport: Option<TransportKind>,
    /// App messages sent / received.
    pub messages_sent: u64,
    /// App messages received.
    pub messages_received: u64,
    /// App payload bytes sent.
    pub bytes_sent: u64,
    /// App payload bytes received.
    pub bytes_received: u64,
    /// Messages in the outbox: queued, or sent and not yet acknowledged.
    pub queued: usize,
    /// Their bytes (= `bufferedAmount`).
    pub queued_bytes: usize,
    /// Consecutive failed attempts so far.
    pub attempt: u32,
    /// Upgrade probes started (each a WebSocket tried beside a session on a lower rung).
    pub probes: u64,
}
