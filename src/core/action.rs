//! Actions: what the glue must do to the outside world, in order.

use super::ConnId;
use super::Payload;
use crate::config::TransportKind;

/// An instruction for the glue. Drain them with [`super::Machine::poll_action`] after every call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Resolve the URL (call the URL function if any) and open `transport` as connection `conn`.
    /// Report back with `Opened` / `Received` / `Closed` / `Failed` carrying `conn`.
    Connect {
        /// The id every later input about this connection must carry.
        conn: ConnId,
        /// Which transport to open.
        transport: TransportKind,
    },
    /// Send one message on `conn`, now, in order.
    Send {
        /// Which connection.
        conn: ConnId,
        /// The bytes or text to send (protocol mode: one encoded frame, binary).
        payload: Payload,
    },
    /// Close `conn` and release everything it owns. Its later inputs will be ignored anyway.
    Disconnect {
        /// Which connection.
        conn: ConnId,
        /// Close code for the transport (WebSocket allows 1000 and 3000–4999).
        code: u16,
        /// Close reason.
        reason: String,
    },
}
