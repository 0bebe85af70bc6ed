//! `holdfast-server`: the reference server for the holdfast client.
//!
//! It speaks the holdfast wire protocol v1 (`PROTOCOL.md`) over WebSocket, Server-Sent Events,
//! long polling and short polling, offers a raw WebSocket echo, serves the demo page and the npm
//! package, and — only when asked — the test profile and fault controls the client's tests rely
//! on. Routes (`{base}` = [`ServerConfig::base_path`], default `/holdfast`):
//!
//! | route | what |
//! |---|---|
//! | `GET {base}/ws` | the protocol over WebSocket (§8.1) |
//! | `GET {base}/sse?hello=<base64url HELLO>` | server → client frames as SSE events (§8.3) |
//! | `POST {base}/send?session=<id>` | client → server frames for SSE and polling (§8.5) |
//! | `POST {base}/poll/open` | a polling handshake: HELLO in, WELCOME out (§8.4) |
//! | `GET {base}/poll?session=<id>&cursor=<n>[&hold=0]` | a long (or, with `hold=0`, short) poll (§8.4) |
//! | `GET {base}/raw` | raw WebSocket echo (no envelope) |
//! | `/_fault/*` | fault controls and stats, with [`ServerConfig::faults_enabled`] (see [`faults`]) |
//! | `/_hostile/<case>/<run>/*` | hostile mode, with [`ServerConfig::faults_enabled`]: crafted bad server input per case for the client's tests (`hostile.rs`) |
//! | `{base}/bench/*` | plain SSE and long-poll echoes (`make bench` baselines) and stats, with [`ServerConfig::bench`] (see `bench.rs`) |
//! | `/pkg/`, `/` | [`ServerConfig::pkg_dir`], [`ServerConfig::www_dir`] |
//!
//! Every transport attaches to the same sessions, so a client may switch transports and resume.
//!
//! A *session* outlives its connections: a client that reconnects within the session TTL resumes
//! it (unacknowledged messages are resent both ways, duplicates dropped), so the app sees every
//! message exactly once and in order. Applications implement [`App`] and talk to sessions through
//! the [`Hub`]:
//!
//! ```no_run
//! use holdfast_server::{router, serve, App, Hub, Message, ServerConfig};
//! use std::sync::Arc;
//!
//! struct Shout;
//! impl App for Shout {
//!     fn on_message(&self, hub: &Hub, session: &str, msg: Message) {
//!         if let Message::Text(t) = msg {
//!             // Err(BufferFull) means the client stopped acknowledging: the session was ended.
//!             let _ = hub.send(session, Message::Text(t.to_uppercase()));
//!         }
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let (app, handle) = router(ServerConfig::default(), Arc::new(Shout));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! serve(listener, app, handle).await;
//! # Ok(())
//! # }
//! ```
//!
//! Module map: [`config`] (settings, test profile), [`origin`] (Origin allow-list), [`message`]
//! (what the app sends and receives), [`session`] (one session's protocol endpoint, sans IO),
//! [`store`] (where sessions live, bounded), [`hub`] (the app's handle: send, broadcast, close),
//! [`app`] (the app trait), `lifecycle` (handshake refusals, attach / detach / TTL / `on_open`
//! and `on_close` for every transport), `ws` (the protocol over WebSocket), `http` (what the HTTP
//! routes share: Origin, CORS, caching, bodies, `410`), `link` (one task per HTTP attachment,
//! found by session id), `sse` (the SSE route), `send` (the send route), `poll` (the poll
//! routes), `raw` (raw echo), [`faults`] (fault injection and its routes), `listener` (the
//! fault-aware accept loop behind [`serve`]), [`demo`] (the demo app), `clock` (session time).

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![warn(missing_docs)]

pub mod app;
mod bench;
mod clock;
pub mod config;
pub mod demo;
pub mod faults;
mod hostile;
mod http;
pub mod hub;
mod lifecycle;
mod link;
mod listener;
pub mod message;
pub mod origin;
mod poll;
mod raw;
pub mod redis_store;
mod remote;
mod send;
pub mod session;
mod sse;
pub mod store;
mod ws;

/// The functions that parse what a client sends, and the SSE encoders, as plain functions for
/// the fuzz targets (`fuzz/`). Not API: thin wrappers over the routes' own code.
#[doc(hidden)]
pub mod fuzzing {
    use holdfast::protocol::{Frame, Hello, Limits};

    /// A query parameter as every HTTP route reads it (`session`, `cursor`, `hold`, `hello`).
    pub fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
        crate::http::query_param(query, name)
    }

    /// The HELLO of `GET {base}/sse?hello=…` (the query value).
    pub fn sse_hello(text: &str, limits: &Limits) -> Option<Hello> {
        crate::sse::parse_hello(text, limits)
    }

    /// The HELLO a `POST {base}/poll/open` body starts with.
    pub fn poll_open_hello(body: &[u8], limits: &Limits) -> Option<Hello> {
        crate::poll::first_hello(body, limits)
    }

    /// One SSE event carrying `frame`, as the SSE route writes it.
    pub fn sse_event(frame: &Frame) -> Vec<u8> {
        crate::link::sse_event(frame).to_vec()
    }

    /// One SSE event of the bench echo carrying `text` (line breaks become `data:` lines).
    pub fn bench_event(text: &str) -> Vec<u8> {
        crate::bench::event(text).to_vec()
    }
}

pub use app::App;
pub use config::ServerConfig;
pub use demo::DemoApp;
pub use faults::{FaultState, Faults};
pub use hub::Hub;
pub use listener::serve;
pub use message::{Message, SessionId};
pub use origin::OriginPolicy;
pub use redis_store::RedisStore;
pub use session::{Output, SendError, ServerSession, SessionConfig, SessionState};
pub use store::{MemoryStore, SessionEntry, SessionStore, StoreError, StoreFull};

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::services::ServeDir;

/// State shared by every route and connection task.
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) app: Arc<dyn App>,
    pub(crate) hub: Hub,
    pub(crate) faults: Faults,
    /// The live HTTP attachments, by session id (where sends and polls find their session).
    pub(crate) links: link::Links,
    /// WELCOMEs sent since start.
    pub(crate) handshakes: AtomicU64,
    /// Open WebSocket connections (protocol and raw).
    pub(crate) connections: AtomicUsize,
    /// Open SSE streams.
    pub(crate) streams: AtomicUsize,
    /// Poll GETs answered since start.
    pub(crate) polls: AtomicU64,
    /// Send POSTs answered since start.
    pub(crate) posts: AtomicU64,
    /// Poll GETs that arrived while another poll of the same session was held.
    pub(crate) poll_overlaps: AtomicU64,
}

impl Shared {
    pub(crate) fn stats(&self) -> Stats {
        Stats {
            sessions: self.hub.session_count(),
            attached: self.hub.attached_count(),
            connections: self.connections.load(Ordering::Relaxed),
            handshakes: self.handshakes.load(Ordering::Relaxed),
            streams: self.streams.load(Ordering::Relaxed),
            polls: self.polls.load(Ordering::Relaxed),
            posts: self.posts.load(Ordering::Relaxed),
            poll_overlaps: self.poll_overlaps.load(Ordering::Relaxed),
        }
    }

    /// Admits a raw-echo upgrade request, or answers it: 403 for the `refuse-ws` fault or a
    /// disallowed `Origin`, axum's rejection for a request that is not an upgrade.
    pub(crate) fn admit(
        &self,
        headers: &HeaderMap,
        upgrade: Result<
            axum::extract::ws::WebSocketUpgrade,
            axum::extract::ws::rejection::WebSocketUpgradeRejection,
        >,
    ) -> Result<axum::extract::ws::WebSocketUpgrade, Box<Response>> {
        if let Some(refusal) = self.refuse_ws_fault() {
            return Err(Box::new(refusal));
        }
        if !self.origin_allowed(headers) {
            return Err(Box::new(
                (StatusCode::FORBIDDEN, "origin not allowed").into_response(),
            ));
        }
        upgrade.map_err(|rejection| Box::new(rejection.into_response()))
    }

    /// The 403 of the `refuse-ws` fault (a proxy that blocks WebSocket), if it is on.
    pub(crate) fn refuse_ws_fault(&self) -> Option<Response> {
        self.faults
            .state()
            .refuse_ws
            .then(|| (StatusCode::FORBIDDEN, "websocket refused (fault)").into_response())
    }

    /// Whether the request's `Origin` (absent = not a browser) may open a WebSocket.
    pub(crate) fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        let origin = headers
            .get(header::ORIGIN)
            .map(|v| v.to_str().unwrap_or("\u{0}"));
        self.config.allowed_origins.allows(origin)
    }
}

/// Counts something open (a WebSocket connection, an SSE stream) in one of [`Shared`]'s gauges
/// for as long as it lives, so that no exit path can forget to count it out.
pub(crate) struct Gauge {
    shared: Arc<Shared>,
    pick: fn(&Shared) -> &AtomicUsize,
}

impl Gauge {
    /// An open WebSocket connection (protocol and raw).
    pub(crate) fn connection(shared: &Arc<Shared>) -> Self {
        Gauge::new(shared, |s| &s.connections)
    }

    /// An open SSE stream.
    pub(crate) fn stream(shared: &Arc<Shared>) -> Self {
        Gauge::new(shared, |s| &s.streams)
    }

    fn new(shared: &Arc<Shared>, pick: fn(&Shared) -> &AtomicUsize) -> Self {
        pick(shared).fetch_add(1, Ordering::Relaxed);
        Gauge {
            shared: Arc::clone(shared),
            pick,
        }
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        (self.pick)(&self.shared).fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counters, as served by `GET /_fault/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Live protocol sessions, attached or waiting for a resume.
    pub sessions: usize,
    /// Sessions with a connection attached.
    pub attached: usize,
    /// Open WebSocket connections (protocol and raw).
    pub connections: usize,
    /// WELCOMEs sent since start (one per successful handshake, over every transport).
    pub handshakes: u64,
    /// Open SSE streams.
    pub streams: usize,
    /// Poll GETs answered since start (any status; a killed poll is not answered).
    pub polls: u64,
    /// Send POSTs answered since start (any status).
    pub posts: u64,
    /// Times a poll GET arrived while another poll of the same session was still held.
    pub poll_overlaps: u64,
}

/// A handle on a running router: its hub, its faults, its counters. Cheap to clone.
#[derive(Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("stats", &self.stats())
            .finish()
    }
}

impl ServerHandle {
    /// The session hub (send to sessions from outside the app callbacks).
    pub fn hub(&self) -> &Hub {
        &self.shared.hub
    }

    /// The fault switchboard (the same state the `/_fault/*` routes change).
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// The configuration the router was built with.
    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    /// Current counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }
}

/// Builds the server's routes for `config` and `app`.
///
/// Routes: `GET {base_path}/ws` (protocol over WebSocket), `GET {base_path}/sse`,
/// `POST {base_path}/send`, `POST {base_path}/poll/open` and `GET {base_path}/poll` (protocol
/// over HTTP), `GET {base_path}/raw` (raw echo), `/_fault/*` when `faults_enabled`, `/pkg/` from
/// `pkg_dir`, and `/` from `www_dir` (see the crate docs). Serve the router with
/// [`serve`] (which also gates new connections during faults), or mount it in your own app.
pub fn router(config: ServerConfig, app: Arc<dyn App>) -> (Router, ServerHandle) {
    let store = Arc::new(MemoryStore::new(config.max_sessions));
    router_with_store(config, app, store)
}

/// [`router`] with sessions kept in `store` instead of an in-memory store bounded by
/// `config.max_sessions`.
pub fn router_with_store(
    config: ServerConfig,
    app: Arc<dyn App>,
    store: Arc<dyn SessionStore>,
) -> (Router, ServerHandle) {
    let base = config.normalized_base_path();
    let shared = Arc::new(Shared {
        config,
        app,
        hub: Hub::with_store(store),
        faults: Faults::new(),
        links: link::Links::default(),
        handshakes: AtomicU64::new(0),
        connections: AtomicUsize::new(0),
        streams: AtomicUsize::new(0),
        polls: AtomicU64::new(0),
        posts: AtomicU64::new(0),
        poll_overlaps: AtomicU64::new(0),
    });
    shared.hub.store().serve_remote(remote::handler(&shared));
    let mut routes = Router::new()
        .route(&format!("{base}/ws"), get(ws::handler))
        .route(&format!("{base}/raw"), get(raw::handler))
        .merge(http::routes(&base, &shared));
    if shared.config.faults_enabled {
        // The hostile server of the client's bad-input tests (`hostile.rs`).
        routes = routes.merge(faults::routes()).merge(hostile::routes());
    }
    if shared.config.bench {
        routes = routes.merge(bench::routes(&base, &shared));
    }
    let mut app_router = routes.with_state(Arc::clone(&shared));
    if let Some(pkg) = &shared.config.pkg_dir {
        app_router = app_router.nest_service("/pkg", ServeDir::new(pkg));
    }
    if let Some(www) = &shared.config.www_dir {
        app_router = app_router.fallback_service(ServeDir::new(www));
    }
    // A handler that panics (app code run in a request, such as `on_close` during
    // `/_fault/restart`, or a custom store) answers `500`; its connection and every other one
    // live on (SEC-9). A panic in a connection's own task ends only that connection (`ws.rs`
    // closes it 1011; an HTTP link's task just ends, and its requests get `410`).
    let app_router = app_router.layer(CatchPanicLayer::custom(|_| {
        (StatusCode::INTERNAL_SERVER_ERROR, "internal server error").into_response()
    }));
    (app_router, ServerHandle { shared })
}
