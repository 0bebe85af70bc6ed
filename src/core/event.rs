//! Events: what the app hears.

use super::{DisconnectReason, Payload};
use crate::config::TransportKind;
use crate::protocol::{DecodeError, ErrorCode};
use crate::text::dec;
use core::fmt;

/// Something the app should hear about. Drain with [`super::Machine::poll_event`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The connection is open and trusted; queued messages were already flushed.
    Open {
        /// The transport in use.
        transport: TransportKind,
    },
    /// A message from the server.
    Message(Payload),
    /// The connection was lost (or never made); the next attempt is scheduled.
    Reconnecting {
        /// 1-based number of consecutive failures.
        attempt: u32,
        /// Delay before the next attempt.
        delay_ms: u64,
        /// What failed.
        reason: DisconnectReason,
    },
    /// The client moved to another transport of the chain.
    Transport {
        /// The transport left.
        from: TransportKind,
        /// The transport tried next.
        to: TransportKind,
        /// Why.
        reason: DisconnectReason,
    },
    /// The server could not resume the session (it expired, or the server restarted): a new
    /// session started. Says exactly what is uncertain. Emitted before the `Open` of the new
    /// session; the messages listed are **not** resent into it — the app decides.
    Gap {
        /// The messages sent in the old session that the server never acknowledged: it may or
        /// may not have received them. Messages that never left the client are not here; they
        /// go out in the new session as usual.
        messages: Vec<Payload>,
        /// Their total payload bytes.
        bytes: usize,
        /// The last server seq delivered in order in the old session: server messages after it
        /// may be missing.
        last_seq: u64,
    },
    /// A non-fatal problem: the connection goes on.
    Error(ClientError),
    /// Terminal: the client is closed for good. Exactly one per lifetime; nothing follows it.
    Close {
        /// Close code.
        code: u16,
        /// Close reason.
        reason: String,
        /// Whether the close was requested (by the app or a final server close) rather than a
        /// failure.
        was_clean: bool,
    },
}

/// A non-fatal problem reported through an `error` event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// An inbound frame could not be decoded; it was dropped.
    BadFrame(DecodeError),
    /// A text message arrived where protocol frames are binary; it was dropped.
    UnexpectedText,
    /// A frame arrived that makes no sense now (e.g. a second WELCOME); it was dropped.
    UnexpectedFrame(&'static str),
    /// Data arrived with a sequence number ahead of the next expected one.
    SequenceGap {
        /// The seq expected.
        expected: u64,
        /// The seq received.
        got: u64,
    },
    /// The server reported an error.
    Server {
        /// Its code.
        code: ErrorCode,
        /// Its message.
        message: String,
    },
    /// `send` refused a message because the queue is full (reject policy).
    QueueFull,
    /// `send` queued a message by dropping this many older ones (drop-oldest policy).
    QueueOverflow {
        /// How many were dropped.
        dropped: usize,
    },
    /// `send` refused a message larger than `maxMessageBytes`, or the transport dropped an
    /// inbound message larger than a frame carrying `maxMessageBytes`, unread.
    MessageTooBig {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The client closed with messages the server never acknowledged (queued, or in flight on
    /// a link that was not open any more); they were discarded.
    QueueDiscarded {
        /// How many.
        count: usize,
    },
    /// `close` was called with a code or reason that cannot be sent; the client stays as it was.
    InvalidClose {
        /// The code given.
        code: u16,
        /// What is wrong.
        why: &'static str,
    },
}

impl ClientError {
    /// The `Display` text, built without `core::fmt`.
    pub fn message(&self) -> String {
        let n = |v: usize| dec(v as u64);
        match self {
            ClientError::BadFrame(e) => ["bad frame dropped: ", &e.message()].concat(),
            ClientError::UnexpectedText => "text message in protocol mode dropped".into(),
            ClientError::UnexpectedFrame(k) => ["unexpected ", k, " frame dropped"].concat(),
            ClientError::SequenceGap { expected, got } => [
                "sequence gap: expected ",
                &dec(*expected),
                ", got ",
                &dec(*got),
            ]
            .concat(),
            ClientError::Server { code, message } => {
                ["server error ", &dec(code.to_u64()), ": ", message].concat()
            }
            ClientError::QueueFull => "send queue full; message rejected".into(),
            ClientError::QueueOverflow { dropped } => [
                "send queue full; dropped ",
                &n(*dropped),
                " oldest message(s)",
            ]
            .concat(),
            ClientError::MessageTooBig { size, limit } => [
                "message of ",
                &n(*size),
                " bytes exceeds maxMessageBytes ",
                &n(*limit),
            ]
            .concat(),
            ClientError::QueueDiscarded { count } => {
                ["closed with ", &n(*count), " message(s) never acknowledged"].concat()
            }
            ClientError::InvalidClose { code, why } => {
                ["close(", &dec((*code).into()), ") refused: ", why].concat()
            }
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}
