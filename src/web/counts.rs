//! Live-resource counters, so tests can prove that reconnects leak nothing.

use std::cell::Cell;

thread_local! {
    static SOCKETS: Cell<i64> = const { Cell::new(0) };
    static LISTENERS: Cell<i64> = const { Cell::new(0) };
    static TIMERS: Cell<i64> = const { Cell::new(0) };
    static CLIENTS: Cell<i64> = const { Cell::new(0) };
    static REQUESTS: Cell<i64> = const { Cell::new(0) };
}

/// How many JS resources holdfast currently holds, across all clients on this thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LiveCounts {
    /// Open or opening transport objects (WebSocket, EventSource).
    pub sockets: i64,
    /// Attached event listeners (socket handlers count one per handler).
    pub listeners: i64,
    /// Armed `setTimeout`s.
    pub timers: i64,
    /// Client drivers alive.
    pub clients: i64,
    /// `fetch` requests in flight (HTTP transports).
    pub requests: i64,
}

/// Current counts. Call from tests and `debugCounts()`.
pub fn live_counts() -> LiveCounts {
    LiveCounts {
        sockets: SOCKETS.with(Cell::get),
        listeners: LISTENERS.with(Cell::get),
        timers: TIMERS.with(Cell::get),
        clients: CLIENTS.with(Cell::get),
        requests: REQUESTS.with(Cell::get),
    }
}

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Socket,
    Listener,
    Timer,
    Client,
    Request,
}

/// Adds `delta` to the counter for `kind`.
pub(crate) fn bump(kind: Kind, delta: i64) {
    let cell = match kind {
        Kind::Socket => &SOCKETS,
        Kind::Listener => &LISTENERS,
        Kind::Timer => &TIMERS,
        Kind::Client => &CLIENTS,
        Kind::Request => &REQUESTS,
    };
    cell.with(|c| c.set(c.get() + delta));
}
