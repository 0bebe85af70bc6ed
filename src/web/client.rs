//! The client handle: [`Holdfast`] (cloneable, closes when the last clone drops) and
//! [`WeakHoldfast`]; and [`UrlSource`], where the driver gets the URL before each attempt.

use super::builder::UrlFn;
use super::driver::{self, dispatch, Shared, Work};
use super::lifecycle::Lifecycle;
use super::remember::Remembered;
use crate::config::{Config, ConfigError, TransportKind};
use crate::core::close::check_app_close;
use crate::core::{ClientError, Event, Input, Machine, Payload, SendOutcome, StateKind, Stats};
use std::rc::{Rc, Weak};

/// Where to connect: read by the driver before every attempt.
///
/// Internal: Rust apps give the URL to [`Holdfast::builder`] and, for a URL that changes (token
/// refresh), a closure to [`HoldfastBuilder::url_fn`](super::HoldfastBuilder::url_fn).
#[doc(hidden)]
#[derive(Debug, Clone)]
pub enum UrlSource {
    /// A fixed base URL (protocol mode) or WebSocket URL (raw mode).
    Fixed(String),
    /// A JS function returning a URL string or a `Promise` of one (the JS API's `url`).
    #[doc(hidden)]
    Function(js_sys::Function),
    /// A Rust closure returning a future of the URL ([`HoldfastBuilder::url_fn`]).
    ///
    /// [`HoldfastBuilder::url_fn`]: super::HoldfastBuilder::url_fn
    #[doc(hidden)]
    Rust(UrlFn),
}

/// The old name of [`Holdfast`], kept for the JS glue (`api.rs`) and the browser tests.
#[doc(hidden)]
pub type Client = Holdfast;

/// A handle on one managed connection: [`send`](Holdfast::send), [`close`](Holdfast::close),
/// [`state`](Holdfast::state), [`transport`](Holdfast::transport),
/// [`buffered_amount`](Holdfast::buffered_amount), [`stats`](Holdfast::stats).
///
/// Made by [`Holdfast::builder`]`(url)…`[`connect()`](super::HoldfastBuilder::connect). Events
/// arrive through the [`Events`](super::Events) stream or the callback given to
/// [`connect_with_callback`](super::HoldfastBuilder::connect_with_callback), from the browser's
/// event loop and never while any internal borrow is held, so event handling code may call any
/// method here.
///
/// **Clone and drop.** `Holdfast` is a cheap reference-counted handle: clone it into every event
/// handler and component that needs it. All clones drive the same connection. When the **last**
/// clone is dropped the client closes (code 1000, reason `"client dropped"`; a `Close` event is
/// still emitted), so keep one in your app's state for as long as the connection should live.
/// A handle captured by the event callback keeps the client alive until its `Close` (the callback
/// is dropped after delivering `Close`); capture a [`WeakHoldfast`] there if dropping the other
/// handles should close it.
#[derive(Clone)]
pub struct Holdfast {
    inner: Rc<Inner>,
}

/// The one owner behind every clone; its `Drop` is the "last handle dropped" close.
struct Inner {
    shared: Rc<Shared>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.shared.machine.borrow().state_kind() != StateKind::Closed {
            // 1000 and a short reason always pass the close check.
            let _ = close(&self.shared, 1000, "client dropped");
        }
    }
}

/// A [`Holdfast`] handle that does not keep the client alive. Capture it in the client's own
/// event callback (a strong handle there would keep the client open until it closes itself).
#[derive(Clone, Default)]
pub struct WeakHoldfast {
    inner: Weak<Inner>,
}

impl WeakHoldfast {
    /// The handle, if some [`Holdfast`] clone still exists. Call it where the handle is needed,
    /// and drop the result when done.
    pub fn upgrade(&self) -> Option<Holdfast> {
        self.inner.upgrade().map(|inner| Holdfast { inner })
    }
}

impl std::fmt::Debug for WeakHoldfast {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeakHoldfast")
            .field("alive", &(self.inner.strong_count() > 0))
            .finish()
    }
}

impl std::fmt::Debug for Holdfast {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Holdfast")
            .field("state", &self.state())
            .field("transport", &self.transport())
            .finish()
    }
}

/// Builds the driver for `url` and starts connecting at once. `remember_under` is the key the
/// transport that worked is remembered under for the tab (`None`: one key for every client).
pub(crate) fn start(
    url: UrlSource,
    remember_under: Option<&str>,
    config: Config,
    on_event: Box<dyn FnMut(Event)>,
) -> Result<Holdfast, ConfigError> {
    // 53 random bits: every client jitters differently, so a server restart does not bring
    // all clients back at the same instant.
    let seed = (js_sys::Math::random() * (1u64 << 53) as f64) as u64;
    let remembered = Remembered::new(remember_under, config.remember_transport_ms);
    let mut machine = Machine::new(config, seed)?;
    if let Some(kind) = remembered.load() {
        machine = machine.with_start(kind);
    }
    let shared = Shared::new(machine, url, remembered, on_event);
    for input in Lifecycle::initial_inputs() {
        dispatch(&shared, Some(Work::Input(input)));
    }
    dispatch(&shared, Some(Work::Input(Input::Connect)));
    Ok(Holdfast {
        inner: Rc::new(Inner { shared }),
    })
}

fn close(shared: &Rc<Shared>, code: u16, reason: &str) -> Result<(), ClientError> {
    check_app_close(code, reason)?;
    let input = Input::Close {
        code,
        reason: reason.to_owned(),
    };
    dispatch(shared, Some(Work::Input(input)));
    Ok(())
}

impl Holdfast {
    /// The JS glue's constructor: validates `config` and starts connecting at once. Rust apps use
    /// [`Holdfast::builder`].
    #[doc(hidden)]
    pub fn connect(
        url: UrlSource,
        config: Config,
        on_event: impl FnMut(Event) + 'static,
    ) -> Result<Holdfast, ConfigError> {
        let base = match &url {
            UrlSource::Fixed(base) => Some(base.clone()),
            UrlSource::Function(_) | UrlSource::Rust(_) => None,
        };
        start(url, base.as_deref(), config, Box::new(on_event))
    }

    fn shared(&self) -> &Rc<Shared> {
        &self.inner.shared
    }

    /// Sends a message: handed to the transport if open ([`SendOutcome::Sent`]), queued in order
    /// until the next open if not ([`SendOutcome::Queued`]), or refused
    /// ([`SendOutcome::Rejected`], with an `Error` event saying why, except after close). Never
    /// blocks; safe to call from inside event handling.
    pub fn send(&self, payload: Payload) -> SendOutcome {
        driver::send(self.shared(), payload)
    }

    /// [`send`](Holdfast::send) of a text the JS caller has as the string `js` (the JS API).
    #[cfg(feature = "js")]
    pub(crate) fn send_text_js(&self, text: String, js: wasm_bindgen::JsValue) -> SendOutcome {
        driver::send_text_js(self.shared(), text, js)
    }

    /// [`send`](Holdfast::send) of a text message.
    pub fn send_text(&self, text: impl Into<String>) -> SendOutcome {
        self.send(Payload::Text(text.into()))
    }

    /// [`send`](Holdfast::send) of a binary message.
    pub fn send_binary(&self, bytes: impl Into<Vec<u8>>) -> SendOutcome {
        self.send(Payload::Binary(bytes.into()))
    }

    /// Closes for good: exactly one `Close` event follows (then the [`Events`](super::Events)
    /// stream ends), and every later `send` is rejected. `code` must be 1000 or in 3000–4999 and
    /// `reason` at most 123 bytes; otherwise nothing happens and the error
    /// ([`ClientError::InvalidClose`]) says why. Closing a closed client does nothing.
    pub fn close(&self, code: u16, reason: &str) -> Result<(), ClientError> {
        close(self.shared(), code, reason)
    }

    /// The coarse state: connecting (first attempt), open, reconnecting, or closed for good.
    pub fn state(&self) -> StateKind {
        self.shared().machine.borrow().state_kind()
    }

    /// The transport in use, or being tried while connecting.
    pub fn transport(&self) -> Option<TransportKind> {
        self.shared().machine.borrow().transport()
    }

    /// Bytes accepted by `send` and not yet acknowledged by the server (queued or in flight),
    /// like `WebSocket.bufferedAmount`.
    pub fn buffered_amount(&self) -> usize {
        self.shared().machine.borrow().buffered_amount()
    }

    /// Counters: RTT estimate, reconnects, transport, messages and bytes each way, queue, probes.
    pub fn stats(&self) -> Stats {
        self.shared().machine.borrow().stats()
    }

    /// A [`WeakHoldfast`] for this client: for the client's own event callback, or anything that
    /// should not keep the connection open.
    pub fn downgrade(&self) -> WeakHoldfast {
        WeakHoldfast {
            inner: Rc::downgrade(&self.inner),
        }
    }
}
