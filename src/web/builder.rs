//! [`HoldfastBuilder`]: the Rust API's options, then `connect()`; [`ConnectError`]; and the URL
//! closure ([`HoldfastBuilder::url_fn`]) the driver calls before every attempt.

use super::client::{start, Holdfast, UrlSource};
use super::driver::{dispatch, Shared, Work};
use super::events::{channel, Events};
use crate::config::{Config, ConfigError, OverflowPolicy, Protocol, TransportKind};
use crate::core::{ConnId, Event, Input, TransportError};
use crate::endpoint::transport_url;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

/// Why [`HoldfastBuilder::connect`] refused to start. Nothing was opened.
///
/// Failures after the start (a server that is down, a URL closure that fails) are not errors
/// here: the client reports them as `Reconnecting` events and retries, or ends with `Close`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectError {
    /// An option is invalid; the error names it (the JS API's camelCase name, e.g.
    /// `heartbeatTimeoutMs`).
    Config(ConfigError),
    /// The URL given to [`Holdfast::builder`] is not an absolute `http(s)://` or `ws(s)://` URL
    /// with a host. Checked only when no [`url_fn`](HoldfastBuilder::url_fn) is set.
    InvalidUrl(String),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Config(e) => e.fmt(f),
            ConnectError::InvalidUrl(why) => f.write_str(&["invalid url: ", why].concat()),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Config(e) => Some(e),
            ConnectError::InvalidUrl(_) => None,
        }
    }
}

impl From<ConfigError> for ConnectError {
    fn from(e: ConfigError) -> Self {
        ConnectError::Config(e)
    }
}

/// A URL future as the driver awaits it: the closure's error already turned into text.
type UrlFuture = Pin<Box<dyn Future<Output = Result<String, String>>>>;

/// The app's closure behind one type: called once per attempt.
type BoxedUrlFn = Box<dyn FnMut() -> UrlFuture>;

/// The app's URL closure ([`HoldfastBuilder::url_fn`]), shared by the builder and the driver.
///
/// Internal (it appears only in the hidden [`UrlSource`]).
#[doc(hidden)]
#[derive(Clone)]
pub struct UrlFn {
    /// `None` only while the closure runs: it is taken out for the call, so no borrow is held
    /// while app code runs.
    f: Rc<RefCell<Option<BoxedUrlFn>>>,
}

impl fmt::Debug for UrlFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UrlFn(..)")
    }
}

impl UrlFn {
    fn new<F, Fut, U, E>(mut f: F) -> UrlFn
    where
        F: FnMut() -> Fut + 'static,
        Fut: Future<Output = Result<U, E>> + 'static,
        U: Into<String>,
        E: fmt::Display,
    {
        let boxed: BoxedUrlFn = Box::new(move || {
            let fut = f();
            Box::pin(async move { fut.await.map(Into::into).map_err(|e| e.to_string()) })
        });
        UrlFn {
            f: Rc::new(RefCell::new(Some(boxed))),
        }
    }

    /// Calls the closure (without any borrow held while it runs) and returns its future.
    fn call(&self) -> UrlFuture {
        let taken = self.f.borrow_mut().take();
        let Some(mut f) = taken else {
            // Only if the closure itself made the client start an attempt synchronously; the
            // pump defers that, so this is a safety net rather than a path.
            return Box::pin(async { Err("url_fn called from inside itself".to_owned()) });
        };
        let fut = f();
        *self.f.borrow_mut() = Some(f);
        fut
    }
}

/// Attempt `conn` needs a URL from the app's closure: calls it now, awaits its future on the
/// browser's event loop, and feeds the answer back to the pump, which checks that the attempt is
/// still current (a URL resolved for an abandoned attempt is ignored). A failure fails the
/// attempt with [`TransportError::Url`], which the client retries like any failed attempt.
///
/// Called by the driver for [`UrlSource::Rust`]; holds only a `Weak` while waiting, so a client
/// dropped meanwhile is not kept alive (the future still runs to its end; its URL is discarded).
pub(crate) fn resolve_url_fn(
    shared: &Rc<Shared>,
    conn: ConnId,
    transport: TransportKind,
    hello: Option<Vec<u8>>,
    url_fn: &UrlFn,
) {
    let future = url_fn.call();
    let weak = Rc::downgrade(shared);
    wasm_bindgen_futures::spawn_local(async move {
        let result = future.await;
        let Some(shared) = weak.upgrade() else { return };
        let work = match result {
            Ok(url) => Work::UrlResolved {
                conn,
                transport,
                url,
                hello,
            },
            Err(why) => Work::Input(Input::Failed {
                conn,
                error: TransportError::Url(["url_fn failed: ", &why].concat()),
            }),
        };
        dispatch(&shared, Some(work));
    });
}

/// Milliseconds in `d`, truncated; saturating, so an absurd `Duration` fails validation with
/// the option's name instead of wrapping.
fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The options of one client, then [`connect`](HoldfastBuilder::connect) (events as a
/// [`Stream`](futures_core::Stream)) or
/// [`connect_with_callback`](HoldfastBuilder::connect_with_callback) (events to a closure).
///
/// Made by [`Holdfast::builder`]. Every option of the JS API has a method here with the same
/// default (see [`Config`], whose field docs give each one); the names drop the JS `Ms` suffix
/// because **every duration is a [`Duration`]**, used in whole milliseconds (truncated). Nothing
/// is checked until `connect`, which validates everything at once and names the first invalid
/// option in [`ConnectError::Config`]. [`config`](HoldfastBuilder::config) sets all options from
/// a [`Config`] at once; methods called after it change single options.
#[must_use = "a builder does nothing until `connect` is called"]
pub struct HoldfastBuilder {
    url: String,
    url_fn: Option<UrlFn>,
    config: Config,
    /// The chain was given (by `transports` or `config`): raw mode does not default it.
    transports_set: bool,
}

impl fmt::Debug for HoldfastBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HoldfastBuilder")
            .field("url", &self.url)
            .field("url_fn", &self.url_fn.is_some())
            .field("config", &self.config)
            .finish()
    }
}

impl Holdfast {
    /// Starts building a client for `url`: in protocol mode the holdfast server's base URL
    /// (`https://rt.example.com/holdfast`; every transport's endpoint is derived from it, and a
    /// query string such as a token is kept on each), in raw mode the WebSocket server's URL
    /// (`http(s)` is mapped to `ws(s)`). Nothing happens until
    /// [`connect`](HoldfastBuilder::connect).
    pub fn builder(url: impl Into<String>) -> HoldfastBuilder {
        HoldfastBuilder {
            url: url.into(),
            url_fn: None,
            config: Config::default(),
            transports_set: false,
        }
    }
}

impl HoldfastBuilder {
    /// Computes the URL before every connection attempt instead of using the builder's URL:
    /// for tokens that expire. `f` is called once per attempt (the first one included) and its
    /// future is awaited on the browser's event loop; an `Err` (shown with `Display`) fails that
    /// attempt, which is retried with backoff like any failed attempt.
    ///
    /// The URL given to [`Holdfast::builder`] is then not connected to and not checked; it still
    /// names the endpoint: the transport that worked is remembered for the tab under it, so give
    /// the base URL without credentials.
    ///
    /// ```no_run
    /// # #[cfg(target_arch = "wasm32")]
    /// # fn f() {
    /// # async fn fetch_token() -> Result<String, String> { Ok(String::new()) }
    /// let builder = holdfast::Holdfast::builder("https://rt.example.com/holdfast")
    ///     .url_fn(|| async {
    ///         let token = fetch_token().await?;
    ///         Ok::<_, String>(format!("https://rt.example.com/holdfast?token={token}"))
    ///     });
    /// # }
    /// ```
    pub fn url_fn<F, Fut, U, E>(mut self, f: F) -> Self
    where
        F: FnMut() -> Fut + 'static,
        Fut: Future<Output = Result<U, E>> + 'static,
        U: Into<String>,
        E: fmt::Display,
    {
        self.url_fn = Some(UrlFn::new(f));
        self
    }

    /// Sets every option at once (the transport chain included); methods called afterwards
    /// change single options.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self.transports_set = true;
        self
    }

    /// The fallback chain, best first (`transports`). Default: WebSocket, SSE, long polling,
    /// polling; in raw mode WebSocket only (the only one raw mode supports).
    pub fn transports(mut self, chain: impl IntoIterator<Item = TransportKind>) -> Self {
        self.config.transports = chain.into_iter().collect();
        self.transports_set = true;
        self
    }

    /// Holdfast protocol (default) or raw WebSocket (`protocol`, `rawHeartbeat`). Raw mode
    /// without an explicit [`transports`](HoldfastBuilder::transports) chain uses WebSocket only.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.config.protocol = protocol;
        self
    }

    /// Heartbeat after this long without traffic (`heartbeatIntervalMs`). Default 4 s.
    pub fn heartbeat_interval(mut self, d: Duration) -> Self {
        self.config.heartbeat_interval_ms = ms(d);
        self
    }

    /// The link is dead after this long without any inbound byte (`heartbeatTimeoutMs`).
    /// Default 8 s; must exceed the heartbeat interval.
    pub fn heartbeat_timeout(mut self, d: Duration) -> Self {
        self.config.heartbeat_timeout_ms = ms(d);
        self
    }

    /// After the page could not run for a while (frozen, asleep), how long a probe ping may take
    /// to be answered (`freezeProbeMs`). Default 2 s.
    pub fn freeze_probe(mut self, d: Duration) -> Self {
        self.config.freeze_probe_ms = ms(d);
        self
    }

    /// Deadline for one connection attempt, handshake included (`connectTimeoutMs`).
    /// Default 5 s.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.config.connect_timeout_ms = ms(d);
        self
    }

    /// A connect deadline for one transport, overriding
    /// [`connect_timeout`](HoldfastBuilder::connect_timeout) for it (`connectTimeouts`).
    pub fn connect_timeout_for(mut self, kind: TransportKind, d: Duration) -> Self {
        if let Some(slot) = self.config.connect_timeouts.get_mut(kind.index()) {
            *slot = Some(ms(d));
        }
        self
    }

    /// Consecutive failures of a once-trusted transport before walking down the chain
    /// (`fallbackAfterFailures`). Default 3.
    pub fn fallback_after_failures(mut self, n: u32) -> Self {
        self.config.fallback_after_failures = n;
        self
    }

    /// Short polling: the wait between one answer and the next poll (`pollIntervalMs`).
    /// Default 1 s.
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.config.poll_interval_ms = ms(d);
        self
    }

    /// How long the transport that opened is remembered for the tab (`rememberTransportMs`);
    /// `Duration::ZERO` disables. Default 10 minutes.
    pub fn remember_transport(mut self, d: Duration) -> Self {
        self.config.remember_transport_ms = ms(d);
        self
    }

    /// On a rung below WebSocket, the first upgrade probe goes out this long after open
    /// (`upgradeProbeMs`); `Duration::ZERO` disables probing. Default 2 s.
    pub fn upgrade_probe(mut self, d: Duration) -> Self {
        self.config.upgrade_probe_ms = ms(d);
        self
    }

    /// The doubling wait between upgrade probes stops growing here (`upgradeProbeMaxMs`).
    /// Default 5 minutes.
    pub fn upgrade_probe_max(mut self, d: Duration) -> Self {
        self.config.upgrade_probe_max_ms = ms(d);
        self
    }

    /// Backoff base delay (`reconnectDelayMs`). Default 500 ms.
    pub fn reconnect_delay(mut self, d: Duration) -> Self {
        self.config.reconnect_delay_ms = ms(d);
        self
    }

    /// Backoff cap, before full jitter (`reconnectMaxDelayMs`). Default 30 s.
    pub fn reconnect_max_delay(mut self, d: Duration) -> Self {
        self.config.reconnect_max_delay_ms = ms(d);
        self
    }

    /// Backoff growth per attempt (`reconnectFactor`). Default 2.0; finite and ≥ 1.
    pub fn reconnect_factor(mut self, factor: f64) -> Self {
        self.config.reconnect_factor = factor;
        self
    }

    /// Close for good after this many consecutive failed attempts (`maxAttempts`); `None`
    /// (the default) never gives up. Accepts `5` or `None`.
    pub fn max_attempts(mut self, n: impl Into<Option<u32>>) -> Self {
        self.config.max_attempts = n.into();
        self
    }

    /// Uptime after which the attempt counter resets (`minUptimeMs`). Default 5 s.
    pub fn min_uptime(mut self, d: Duration) -> Self {
        self.config.min_uptime_ms = ms(d);
        self
    }

    /// Upper clamp for the server's retry hints (`maxRetryAfterMs`). Default 60 s.
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.config.max_retry_after_ms = ms(d);
        self
    }

    /// Most messages queued while not open (`queueMaxMessages`). Default 1000.
    pub fn queue_max_messages(mut self, n: usize) -> Self {
        self.config.queue_max_messages = n;
        self
    }

    /// Most bytes queued while not open (`queueMaxBytes`). Default 1 MiB.
    pub fn queue_max_bytes(mut self, n: usize) -> Self {
        self.config.queue_max_bytes = n;
        self
    }

    /// What `send` does when the queue is full (`overflow`). Default
    /// [`OverflowPolicy::Reject`].
    pub fn overflow(mut self, policy: OverflowPolicy) -> Self {
        self.config.overflow = policy;
        self
    }

    /// Largest message in either direction (`maxMessageBytes`). Default 1 MiB, at most 16 MiB.
    pub fn max_message_bytes(mut self, n: usize) -> Self {
        self.config.max_message_bytes = n;
        self
    }

    /// Validates every option and starts connecting at once; returns the handle and the stream
    /// of its events. Call it from the browser (a page or a worker), inside or outside an async
    /// task: nothing here awaits.
    ///
    /// Keep the handle as long as the connection should live (dropping the last clone closes
    /// it) and poll the stream from a task; see [`Events`] for what happens to events nobody
    /// polls.
    pub fn connect(self) -> Result<(Holdfast, Events), ConnectError> {
        let (sender, events) = channel();
        let handle = self.start(Box::new(move |event| sender.push(event)))?;
        Ok((handle, events))
    }

    /// [`connect`](HoldfastBuilder::connect) with events delivered to `on_event` instead of a
    /// stream. It is called with no internal borrow held, so it may call any method of the
    /// handle: from the browser's event loop, and possibly already before this returns (a
    /// `Reconnecting` for a URL the browser refuses at once, say). It is dropped right after
    /// the terminal `Close`. To reach the handle from inside
    /// it, capture a [`WeakHoldfast`](super::WeakHoldfast): a strong [`Holdfast`] captured there
    /// keeps the client alive until it closes.
    pub fn connect_with_callback(
        self,
        on_event: impl FnMut(Event) + 'static,
    ) -> Result<Holdfast, ConnectError> {
        let mut callback = Some(on_event);
        self.start(Box::new(move |event| {
            let terminal = matches!(event, Event::Close { .. });
            if let Some(f) = callback.as_mut() {
                f(event);
            }
            if terminal {
                // Nothing follows Close: release what the app's closure holds (maybe a handle).
                callback = None;
            }
        }))
    }

    fn start(self, on_event: Box<dyn FnMut(Event)>) -> Result<Holdfast, ConnectError> {
        let HoldfastBuilder {
            url,
            url_fn,
            mut config,
            transports_set,
        } = self;
        // As in the JS options: raw servers speak plain WebSocket only.
        if matches!(config.protocol, Protocol::Raw(_)) && !transports_set {
            config.transports = vec![TransportKind::WebSocket];
        }
        config.validate()?;
        let source = match url_fn {
            Some(f) => UrlSource::Rust(f),
            None => {
                if let Some(first) = config.transports.first() {
                    transport_url(&url, *first, &config.protocol)
                        .map_err(ConnectError::InvalidUrl)?;
                }
                UrlSource::Fixed(url.clone())
            }
        };
        Ok(start(source, Some(&url), config, on_event)?)
    }
}
