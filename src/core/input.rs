//! Inputs: everything that happens to the machine, from the app, the transport or the page.

use super::ConnId;
use super::Payload;

/// Something that happened. Feed it with [`super::Machine::handle_input`] together with `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The app wants a connection: start the first attempt. Ignored unless idle.
    Connect,
    /// The app closes for good: exactly one `Close` event follows, and nothing after it.
    Close {
        /// Close code reported to the app and sent to the server.
        code: u16,
        /// Close reason reported to the app and sent to the server.
        reason: String,
    },
    /// The transport for `conn` is open (WebSocket `open`, EventSource `open`, the poll-open
    /// POST answered `200` — its body follows as `Polled`).
    Opened {
        /// Which connection.
        conn: ConnId,
    },
    /// The transport for `conn` delivered one message (protocol mode: one encoded frame; over
    /// SSE: one event's data, a base64 text).
    Received {
        /// Which connection.
        conn: ConnId,
        /// The message as received.
        payload: Payload,
    },
    /// The transport for `conn` received a message of `size` bytes over
    /// [`super::Machine::max_inbound_bytes`] and dropped it unread, so it never grows the wasm
    /// memory. Reported as an `error`; the connection goes on.
    Oversized {
        /// Which connection.
        conn: ConnId,
        /// The message's size as the transport saw it (bytes, or UTF-16 units for text).
        size: usize,
    },
    /// The `POST {base}/send` in flight on `conn` was answered `204` (HTTP transports).
    Sent {
        /// Which connection.
        conn: ConnId,
    },
    /// The poll in flight on `conn` was answered with this batch body (possibly empty; a `504`
    /// from a gateway that gave up on a held poll is reported as an empty body).
    Polled {
        /// Which connection.
        conn: ConnId,
        /// The answer's body: a batch (PROTOCOL.md §8.6).
        body: Vec<u8>,
    },
    /// The transport for `conn` closed (WebSocket `close`).
    Closed {
        /// Which connection.
        conn: ConnId,
        /// The close code (1006 when the browser saw no close frame).
        code: u16,
        /// The close reason.
        reason: String,
    },
    /// The transport for `conn` failed (network error, HTTP status, URL function threw).
    Failed {
        /// Which connection.
        conn: ConnId,
        /// What failed.
        error: TransportError,
    },
    /// The browser went online: attempt at once if waiting.
    Online,
    /// The browser went offline: pause attempts until `Online`.
    Offline,
    /// The page became visible: check deadlines; probe if the link looks stale.
    Visible,
    /// The page was hidden: timers may now fire late (throttling), but network callbacks still
    /// run, so a deadline found expired on a late timer means a dead link.
    Hidden,
    /// The page is being left (`pagehide`): it may be kept in the back/forward cache, where
    /// nothing runs, or never run again. The connection is closed cleanly at once (a `reconnecting`
    /// event, reason [`super::DisconnectReason::PageHidden`]) and no attempt is made until
    /// `Resumed`.
    Suspend,
    /// The page resumed after being frozen or restored from bfcache: nothing ran meanwhile, so
    /// expired deadlines prove nothing — probe before declaring the link dead. After `Suspend`,
    /// the session reconnects at once (unless offline).
    Resumed,
}

/// Why a transport failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportError {
    /// A network-level failure (connection refused, reset, DNS, WebSocket `error`).
    Network(String),
    /// An HTTP answer that is not success.
    Http {
        /// The status code.
        status: u16,
        /// The `Retry-After` header in ms, if present and valid.
        retry_after_ms: Option<u64>,
    },
    /// The URL function threw, rejected, or returned something that is not a URL.
    Url(String),
}
