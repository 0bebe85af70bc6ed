//! The application interface: what a user of the server implements.

use crate::hub::Hub;

/// One application message, as the client sent it or as the app sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (a TEXT frame).
    Text(String),
    /// A binary message (a BINARY frame).
    Binary(Vec<u8>),
}

/// The application behind the protocol. Every callback runs on the session's task, in order, and
/// must not block; use the [`Hub`] to send (sending only queues, it never waits).
///
/// Messages reach `on_message` exactly once and in order per session (duplicates are dropped by
/// sequence number before the app sees them).
pub trait App: Send + Sync + 'static {
    /// A session completed its handshake (WELCOME was sent).
    fn on_open(&self, hub: &Hub, session: &str) {
        let _ = (hub, session);
    }

    /// A data message arrived on `session`.
    fn on_message(&self, hub: &Hub, session: &str, msg: Message) {
        let _ = (hub, session, msg);
    }

    /// `session` ended (closed by either side, timed out or dropped). It is no longer in the hub.
    fn on_close(&self, hub: &Hub, session: &str) {
        let _ = (hub, session);
    }
}
