//! The logical session (protocol mode): its id, the inbound sequence numbers (PROTOCOL.md §5;
//! outbound numbering lives in the outbox, which assigns a seq when `send` accepts a message)
//! and the negotiation of the server's WELCOME into this connection's timers and limits.

use crate::config::Config;
use crate::protocol::{Receiver, Welcome};

/// Longest dead-link timeout a server's announced ping interval can push the client to.
const MAX_SERVER_PING_WAIT_MS: u64 = 30_000;

/// Sequence-number bookkeeping for one session.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// The server-assigned id.
    pub id: Option<String>,
    /// The inbound direction: last seq delivered in order, acks due.
    pub inbound: Receiver,
}

impl Session {
    /// Starts a fresh numbering for session `id`.
    pub fn start(&mut self, id: String) {
        *self = Session {
            id: Some(id),
            ..Session::default()
        };
    }
}

/// This connection's heartbeat and size limits, after the server's announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Negotiated {
    /// Effective ping interval.
    pub interval_ms: u64,
    /// Effective dead-link timeout.
    pub timeout_ms: u64,
    /// Largest data payload either way.
    pub max_message_bytes: usize,
}

/// The client's options, adjusted by what the server announced in `welcome` (none in raw mode).
pub(crate) fn negotiate(config: &Config, welcome: Option<&Welcome>) -> Negotiated {
    let mut n = Negotiated {
        interval_ms: config.heartbeat_interval_ms,
        timeout_ms: config.heartbeat_timeout_ms,
        max_message_bytes: config.max_message_bytes,
    };
    if let Some(w) = welcome {
        // In a throttled tab only the server's pings prove life: never expect them more often
        // than twice their announced interval (capped, so a hostile value cannot hide a dead
        // link for long).
        let server_ping = w.ping_interval_ms.clamp(250, 300_000);
        n.timeout_ms = n
            .timeout_ms
            .max(server_ping.saturating_mul(2).min(MAX_SERVER_PING_WAIT_MS));
        // Announced values are clamped (PROTOCOL.md §7): an announced 0 never becomes a 0 ms
        // timer, a huge one never disables the heartbeat.
        let idle = w.idle_timeout_ms.clamp(1_000, 600_000);
        n.interval_ms = n.interval_ms.min(idle / 2);
        let max = usize::try_from(w.max_message_bytes.clamp(1024, 16 * 1024 * 1024))
            .unwrap_or(usize::MAX);
        n.max_message_bytes = config.max_message_bytes.min(max);
    }
    n
}
