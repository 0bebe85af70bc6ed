//! The one state enum, and the reasons a connection ends.

use super::time::Instant;
use super::ConnId;
use crate::text::dec;
use core::fmt;

/// Where the machine is. Each variant carries exactly the data that exists in it; `transport` is
/// an index into the configured chain and `attempt` counts consecutive failures (0 = none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Created; waiting for `Input::Connect`.
    Idle,
    /// Waiting for the transport `conn` to open, then for the handshake's answer.
    Connecting {
        /// The live connection.
        conn: ConnId,
        /// Index in the transport chain.
        transport: usize,
        /// Consecutive failures so far.
        attempt: u32,
        /// Which half of the attempt we are in.
        phase: Phase,
    },
    /// Open and trusted.
    Open {
        /// The live connection.
        conn: ConnId,
        /// Index in the transport chain.
        transport: usize,
        /// When it opened (the attempt counter resets `min_uptime` after this).
        since: Instant,
        /// Consecutive failures before this open; kept until `min_uptime` passes so a flapping
        /// server keeps backing off.
        attempt: u32,
    },
    /// Waiting out a backoff delay (deadline in the `Backoff` timer).
    Backoff {
        /// Transport index the next attempt starts at.
        transport: usize,
        /// Consecutive failures so far.
        attempt: u32,
    },
    /// Offline: no attempts until `Input::Online`.
    Paused {
        /// Transport index the next attempt starts at.
        transport: usize,
        /// Consecutive failures so far.
        attempt: u32,
    },
    /// Closed for good.
    Closed,
}

/// The two halves of a connection attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The transport is opening.
    Transport,
    /// The transport is open; HELLO sent, waiting for WELCOME (the trust probe).
    Handshake,
}

impl State {
    /// The live connection, if any.
    pub fn conn(&self) -> Option<ConnId> {
        match self {
            State::Connecting { conn, .. } | State::Open { conn, .. } => Some(*conn),
            State::Idle | State::Backoff { .. } | State::Paused { .. } | State::Closed => None,
        }
    }
}

/// The coarse state the app sees (`hf.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateKind {
    /// First connection attempt in progress (or not started).
    Connecting,
    /// Open.
    Open,
    /// Lost, waiting or retrying.
    Reconnecting,
    /// Closed for good.
    Closed,
}

impl StateKind {
    /// `"connecting" | "open" | "reconnecting" | "closed"`.
    pub fn name(self) -> &'static str {
        match self {
            StateKind::Connecting => "connecting",
            StateKind::Open => "open",
            StateKind::Reconnecting => "reconnecting",
            StateKind::Closed => "closed",
        }
    }

    /// WebSocket-style `readyState`: reconnecting shows as CONNECTING (0); 1 OPEN; 3 CLOSED.
    pub fn ready_state(self) -> u16 {
        match self {
            StateKind::Connecting | StateKind::Reconnecting => 0,
            StateKind::Open => 1,
            StateKind::Closed => 3,
        }
    }
}

/// Why a connection ended or an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The attempt was not trusted before the connect deadline.
    ConnectTimeout,
    /// Nothing arrived for the heartbeat timeout (or the probe window after a freeze).
    DeadLink,
    /// A `POST {base}/send` was not answered within the heartbeat timeout.
    SendTimeout,
    /// The transport closed.
    Closed {
        /// Close code.
        code: u16,
        /// Close reason.
        reason: String,
    },
    /// The server sent a CLOSE frame.
    ServerClose {
        /// Close code.
        code: u16,
        /// Close reason.
        reason: String,
    },
    /// The transport failed.
    Failed(super::TransportError),
    /// The server reported an error that ends this connection.
    ServerError(String),
    /// Not an end: the session moved up to a better transport (a `transport` event's reason).
    Upgrade,
    /// The page was left (`pagehide`): closed cleanly, reconnects when the page is restored.
    PageHidden,
}

impl DisconnectReason {
    /// The `Display` text, built without `core::fmt`.
    pub fn message(&self) -> String {
        match self {
            DisconnectReason::ConnectTimeout => "connect timeout".into(),
            DisconnectReason::DeadLink => "dead link: no data within the heartbeat timeout".into(),
            DisconnectReason::SendTimeout => {
                "send timeout: a POST was not answered within the heartbeat timeout".into()
            }
            DisconnectReason::Closed { code, reason } => {
                ["closed (", &dec((*code).into()), ") ", reason].concat()
            }
            DisconnectReason::ServerClose { code, reason } => {
                ["server closed (", &dec((*code).into()), ") ", reason].concat()
            }
            DisconnectReason::Failed(super::TransportError::Network(m)) => {
                ["network error: ", m].concat()
            }
            DisconnectReason::Failed(super::TransportError::Http { status, .. }) => {
                ["HTTP ", &dec((*status).into())].concat()
            }
            DisconnectReason::Failed(super::TransportError::Url(m)) => ["url: ", m].concat(),
            DisconnectReason::ServerError(m) => ["server error: ", m].concat(),
            DisconnectReason::Upgrade => "upgrade".into(),
            DisconnectReason::PageHidden => "page hidden (pagehide)".into(),
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}
