//! The application interface: what a user of the server implements.

use crate::hub::Hub;
use crate::message::Message;

/// The application behind the protocol.
///
/// A *session* is one logical client: it outlives its connections (a client that reconnects
/// within the session TTL resumes it), so the callbacks follow sessions, not sockets:
///
/// - [`on_open`](App::on_open) fires once per session, when it is created and its first WELCOME
///   was sent;
/// - [`on_message`](App::on_message) fires exactly once per client message, in order (duplicates
///   resent after a resume are dropped by sequence number before the app sees them);
/// - [`on_close`](App::on_close) fires once, when the session ends: the client sent CLOSE, the app
///   closed it, its outbound buffer overflowed, its sequence numbers ran out, it sent a message
///   over the limit (1009), it stayed detached past the TTL, or the server forgot it
///   (`/_fault/restart`). A dropped socket is *not* an end: the session waits for a resume.
///
/// For one session the callbacks never overlap and come in that order. They never run while the
/// server holds a session or store lock, so they may call the [`Hub`] (sending only records the
/// message and wakes the connection, it never waits). They must not block: they run on the
/// server's tasks.
pub trait App: Send + Sync + 'static {
    /// A session was created and its first WELCOME was sent.
    fn on_open(&self, hub: &Hub, session: &str) {
        let _ = (hub, session);
    }

    /// A data message arrived on `session` (exactly once, in order).
    fn on_message(&self, hub: &Hub, session: &str, msg: Message) {
        let _ = (hub, session, msg);
    }

    /// `session` ended for good (see the list above). It is no longer in the hub: sending to it
    /// answers `UnknownSession`.
    fn on_close(&self, hub: &Hub, session: &str) {
        let _ = (hub, session);
    }
}
