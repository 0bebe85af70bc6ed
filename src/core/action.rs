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
        /// For a transport that carries HELLO in its opening request (SSE: the `hello` query
        /// value; polling: the `poll/open` body), the encoded HELLO frame. `None`: HELLO follows
        /// as a `Send` once the transport reports `Opened` (WebSocket).
        hello: Option<Vec<u8>>,
    },
    /// Send on `conn`, now, in order: one WebSocket message, or — on the HTTP transports — one
    /// `POST {base}/send` whose body is this batch (the core keeps one POST in flight; report
    /// its `204` with `Input::Sent`).
    Send {
        /// Which connection.
        conn: ConnId,
        /// The bytes or text to send (protocol mode: one encoded frame, binary).
        payload: Payload,
    },
    /// Issue one poll on `conn` (long or short polling, by its kind): `GET
    /// {base}/poll?session=<id>&cursor=<cursor>`. Report the answer's body with `Input::Polled`.
    /// The core never asks for a second poll before the first was answered.
    Poll {
        /// Which connection.
        conn: ConnId,
        /// The last server seq delivered in order: the server resends what follows.
        cursor: u64,
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
