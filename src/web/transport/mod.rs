//! Transports: each one an RAII value owning its JS objects and its listeners.

pub(crate) mod http;
pub(crate) mod websocket;

use http::HttpTransport;
use std::rc::Rc;
use websocket::WsTransport;

/// The live connection's transport, whichever kind it is.
pub(crate) enum Transport {
    /// A WebSocket.
    Ws(WsTransport),
    /// SSE, long polling or short polling. Shared so a send or poll runs on a clone without the
    /// slot's borrow; the transport is dropped (and aborts) when the slot lets go of it.
    Http(Rc<HttpTransport>),
}
