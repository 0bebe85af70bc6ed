//! The Rust API for browser apps (Leptos, Yew, Dioxus): a handle with `send`, `close`, `state`.

use super::driver::{self, dispatch, Shared, Work};
use super::lifecycle::Lifecycle;
use super::remember::Remembered;
use crate::config::{Config, ConfigError, TransportKind};
use crate::core::close::check_app_close;
use crate::core::{ClientError, Event, Input, Machine, Payload, SendOutcome, StateKind, Stats};
use std::rc::Rc;

/// Where to connect. A function is called before every attempt (token refresh).
#[derive(Debug, Clone)]
pub enum UrlSource {
    /// A fixed base URL (protocol mode) or WebSocket URL (raw mode).
    Fixed(String),
    /// A JS function returning a URL string or a `Promise` of one.
    Function(js_sys::Function),
}

/// A managed connection. Events go to the callback given at construction, from the browser's
/// event loop, never while any internal borrow is held — so the callback may call [`Client::send`]
/// or [`Client::close`]. Dropping the client closes it.
pub struct Client {
    shared: Rc<Shared>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.state())
            .finish()
    }
}

impl Client {
    /// Validates `config` and starts connecting at once.
    pub fn connect(
        url: UrlSource,
        config: Config,
        on_event: impl FnMut(Event) + 'static,
    ) -> Result<Client, ConfigError> {
        // 53 random bits: every client jitters differently, so a server restart does not bring
        // all clients back at the same instant.
        let seed = (js_sys::Math::random() * (1u64 << 53) as f64) as u64;
        let base = match &url {
            UrlSource::Fixed(base) => Some(base.as_str()),
            UrlSource::Function(_) => None,
        };
        let remembered = Remembered::new(base, config.remember_transport_ms);
        let mut machine = Machine::new(config, seed)?;
        if let Some(kind) = remembered.load() {
            machine = machine.with_start(kind);
        }
        let shared = Shared::new(machine, url, remembered, Box::new(on_event));
        for input in Lifecycle::initial_inputs() {
            dispatch(&shared, Some(Work::Input(input)));
        }
        dispatch(&shared, Some(Work::Input(Input::Connect)));
        Ok(Client { shared })
    }

    /// Sends a message if open, queues it if not, or rejects it (see [`SendOutcome`]).
    pub fn send(&self, payload: Payload) -> SendOutcome {
        driver::send(&self.shared, payload)
    }

    /// Closes for good: one `Close` event follows, then nothing. `code` must be 1000 or in
    /// 3000–4999 and `reason` at most 123 bytes; otherwise nothing happens and the error says why.
    pub fn close(&self, code: u16, reason: &str) -> Result<(), ClientError> {
        check_app_close(code, reason)?;
        let input = Input::Close {
            code,
            reason: reason.to_owned(),
        };
        dispatch(&self.shared, Some(Work::Input(input)));
        Ok(())
    }

    /// The coarse state.
    pub fn state(&self) -> StateKind {
        self.shared.machine.borrow().state_kind()
    }

    /// The transport in use or being tried.
    pub fn transport(&self) -> Option<TransportKind> {
        self.shared.machine.borrow().transport()
    }

    /// Bytes accepted by `send` and not yet acknowledged by the server (queued or in flight).
    pub fn buffered_amount(&self) -> usize {
        self.shared.machine.borrow().buffered_amount()
    }

    /// Counters: RTT, reconnects, messages and bytes each way, queue.
    pub fn stats(&self) -> Stats {
        self.shared.machine.borrow().stats()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if self.state() != StateKind::Closed {
            // 1000 and a short reason always pass the close check.
            let _ = self.close(1000, "client dropped");
        }
    }
}
