//! Fault injection for tests: the shared fault state, what connections do with it, and the
//! `/_fault/*` control routes (mounted only when [`ServerConfig::faults_enabled`]).
//!
//! # Where each fault acts
//!
//! Faults act at two places, so that the control routes themselves keep working during every
//! fault:
//!
//! - **Open WebSocket connections** (protocol and raw) watch the fault state from their task:
//!   `drop` and `down` make them drop the socket at once (no close frame, the peer sees an
//!   abrupt close, 1006 in a browser); `silent` makes them stop reading and writing while the
//!   socket stays open (a half-open link) until the fault is cleared, then they are dropped.
//! - **Open HTTP transports** do the same: `drop` and `down` abort SSE streams mid-body (no
//!   terminating chunk: `EventSource` errors) and kill held polls (the connection closes with no
//!   answer: `fetch` rejects); `silent` parks streams and held polls until the fault is cleared,
//!   then aborts them. Their session attachment ends with them, as a dropped socket's does.
//!   `refuse-sse`, `buffer-sse`, `kill-polls` and `gateway-timeout` imitate proxies in front of
//!   the HTTP transports (see the table).
//! - **New requests** are gated per request by the accept loop in [`crate::serve`], *before* the
//!   router sees them, for every path except `/_fault/*`: during `down` the TCP connection is
//!   closed without an answer (a browser WebSocket fails at once with 1006; an HTTP client sees a
//!   connection reset/EOF); during `hold` and `silent` the request is never answered (a WebSocket
//!   upgrade never completes, so the client's own deadline must fire) until the fault is cleared,
//!   then the connection is dropped. `refuse-ws` is enforced by the WebSocket handlers: upgrades
//!   on both endpoints answer `403`.
//! - **Sessions** are not touched by connection faults: a dropped connection's session is
//!   detached and waits for a resume. Only `restart` forgets sessions.
//!
//! A router served by plain `axum::serve` instead of [`crate::serve`] still gets the
//! per-connection faults and `refuse-ws`, but not the gating of new requests.
//!
//! # Control routes
//!
//! All answer `200 ok` (text/plain) to `POST` or `GET`, with `Access-Control-Allow-Origin: *`:
//!
//! | route | effect |
//! |---|---|
//! | `/_fault/drop` | drop every open WebSocket connection, SSE stream and held poll abruptly |
//! | `/_fault/silent` | open WebSocket connections, SSE streams and held polls go silent both ways; new requests hang |
//! | `/_fault/refuse-ws` | WebSocket upgrades answer `403` |
//! | `/_fault/accept-ws` | undo `refuse-ws` |
//! | `/_fault/down?ms=N` | for N ms (default 5000, at most 600000) new requests get their connection closed unanswered; open WebSocket connections, SSE streams and held polls are dropped |
//! | `/_fault/hold` | new requests hang unanswered |
//! | `/_fault/unhold` | undo `hold`; the requests it parked are dropped |
//! | `/_fault/refuse-sse` | SSE GETs answer `403` (a proxy that blocks event streams) |
//! | `/_fault/accept-sse` | undo `refuse-sse` |
//! | `/_fault/buffer-sse` | SSE streams hold every byte after the headers (the `:ok` comment included) until 64 KiB accumulated or the fault is cleared, like a buffering proxy |
//! | `/_fault/unbuffer-sse` | undo `buffer-sse`; what was held goes out at once |
//! | `/_fault/kill-polls?ms=N` | a poll GET still unanswered after N ms (at most 600000) is killed: its `200` head and one byte go out, then the connection dies mid-body (an answer that never started would be retried by browsers unseen); `ms=0` turns it off |
//! | `/_fault/gateway-timeout?ms=N` | a poll GET held N ms (at most 600000) is answered `504`, like a gateway giving up; `ms=0` turns it off |
//! | `/_fault/recover` | clear every fault (including the SSE and poll ones); connections parked by `silent`/`hold` are dropped |
//! | `/_fault/close` | every attached session is told CLOSE 1012 (non-final) and its connection ends cleanly (WebSocket close 1012, the SSE stream ends, a held poll answers the CLOSE); the sessions stay, a resume gets everything |
//! | `/_fault/restart` | forget every session as a restarted server would: every open WebSocket, SSE stream and held poll is dropped, the session store is emptied and `on_close` runs for each session; a resume afterwards gets WELCOME `resume = 2` |
//! | `GET /_fault/stats` | `{"sessions":N,"connections":N,"handshakes":N,"attached":N,"streams":N,"polls":N,"posts":N,"poll_overlaps":N}` |
//!
//! `sessions` is the number of live protocol sessions (attached or detached and waiting for a
//! resume within the TTL), `attached` those with a connection, `connections` the number of open
//! WebSocket connections (protocol and raw, handshaken or not) and `handshakes` the number of
//! WELCOMEs sent since start (over every transport). `streams` is the number of open SSE
//! streams, `polls` the poll GETs answered since start (any status; a killed poll is not
//! answered), `posts` the send POSTs answered since start (any status), and `poll_overlaps` how
//! many times a poll GET arrived while another poll of the same session was still held. A
//! connection parked by `silent` still counts as attached: the app cannot tell a half-open link
//! from a quiet one. It is dropped on recover, and its session detaches.
//!
//! `kill-polls` and `gateway-timeout` are read when a poll GET arrives; the poll's frames are
//! not lost, the next poll's cursor resends them (PROTOCOL.md §8.4).
//!
//! [`ServerConfig::faults_enabled`]: crate::ServerConfig::faults_enabled

use crate::Shared;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tower_http::cors::CorsLayer;

/// Longest `down` accepted by `/_fault/down`.
const MAX_DOWN: Duration = Duration::from_secs(600);
/// `down` without `ms`.
const DEFAULT_DOWN: Duration = Duration::from_secs(5);

/// The current faults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultState {
    /// Bumped by `drop` and `down`: connections opened before the bump drop their socket.
    pub drop_epoch: u64,
    /// Half-open link: open connections stop reading and writing, new requests hang.
    pub silent: bool,
    /// WebSocket upgrades answer 403.
    pub refuse_ws: bool,
    /// New requests hang unanswered.
    pub hold: bool,
    /// Until when new requests get their connection closed unanswered.
    pub down_until: Option<Instant>,
    /// SSE GETs answer 403.
    pub refuse_sse: bool,
    /// SSE streams hold their bytes (after the headers) until 64 KiB accumulated.
    pub buffer_sse: bool,
    /// A poll GET unanswered after this many ms is killed (no answer at all); 0 = off.
    pub kill_polls_ms: u64,
    /// A poll GET held this many ms is answered 504; 0 = off.
    pub gateway_timeout_ms: u64,
}

impl FaultState {
    /// Whether `down` is in effect at `now`.
    pub fn is_down(&self, now: Instant) -> bool {
        self.down_until.is_some_and(|until| now < until)
    }

    /// Whether new requests are parked (`hold` or `silent`).
    pub fn parks_new(&self) -> bool {
        self.hold || self.silent
    }
}

/// The fault switchboard. Cheap to clone; every clone controls the same state.
#[derive(Debug, Clone)]
pub struct Faults {
    tx: Arc<watch::Sender<FaultState>>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults::new()
    }
}

impl Faults {
    /// No faults.
    pub fn new() -> Self {
        Faults {
            tx: Arc::new(watch::Sender::new(FaultState::default())),
        }
    }

    /// The current state.
    pub fn state(&self) -> FaultState {
        self.tx.borrow().clone()
    }

    /// Drops every open WebSocket connection abruptly.
    pub fn drop_all(&self) {
        self.tx.send_modify(|s| s.drop_epoch += 1);
    }

    /// Half-open link: open connections go silent both ways, new requests hang.
    pub fn silent(&self) {
        self.tx.send_modify(|s| s.silent = true);
    }

    /// Makes WebSocket upgrades answer 403 (`true`) or work again (`false`).
    pub fn refuse_ws(&self, refuse: bool) {
        self.tx.send_modify(|s| s.refuse_ws = refuse);
    }

    /// For `duration`, new requests get their connection closed unanswered; open WebSocket
    /// connections are dropped now.
    pub fn down_for(&self, duration: Duration) {
        let until = Instant::now() + duration;
        self.tx.send_modify(|s| {
            s.down_until = Some(until);
            s.drop_epoch += 1;
        });
    }

    /// Makes new requests hang (`true`), or releases them by dropping their connections (`false`).
    pub fn hold(&self, hold: bool) {
        self.tx.send_modify(|s| s.hold = hold);
    }

    /// Makes SSE GETs answer 403 (`true`) or work again (`false`).
    pub fn refuse_sse(&self, refuse: bool) {
        self.tx.send_modify(|s| s.refuse_sse = refuse);
    }

    /// Makes SSE streams hold their bytes like a buffering proxy (`true`), or releases what they
    /// hold and stops (`false`).
    pub fn buffer_sse(&self, buffer: bool) {
        self.tx.send_modify(|s| s.buffer_sse = buffer);
    }

    /// Poll GETs that arrive from now on and are still unanswered after `after` are killed
    /// (their connection closes with no answer); `Duration::ZERO` turns this off.
    pub fn kill_polls(&self, after: Duration) {
        let ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
        self.tx.send_modify(|s| s.kill_polls_ms = ms);
    }

    /// Poll GETs that arrive from now on and are held for `after` are answered 504, like a
    /// gateway giving up; `Duration::ZERO` turns this off.
    pub fn gateway_timeout(&self, after: Duration) {
        let ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
        self.tx.send_modify(|s| s.gateway_timeout_ms = ms);
    }

    /// Clears every fault; connections parked by `silent` or `hold` are dropped.
    pub fn recover(&self) {
        self.tx.send_modify(|s| {
            // Everything but the drop epoch: that one only ever counts up.
            *s = FaultState {
                drop_epoch: s.drop_epoch,
                ..FaultState::default()
            };
        });
    }

    /// Waits until new requests are no longer parked (`hold` and `silent` both cleared).
    pub(crate) async fn wait_unparked(&self) {
        let mut rx = self.tx.subscribe();
        // `wait_for` only fails when the sender is gone, which cannot happen while `self` lives.
        let _ = rx.wait_for(|s| !s.parks_new()).await;
    }

    /// Waits until SSE streams may send what they hold (`buffer-sse` cleared).
    pub(crate) async fn wait_unbuffered(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|s| !s.buffer_sse).await;
    }

    /// A watcher for one connection, remembering the drop epoch at its start.
    pub(crate) fn watch(&self) -> FaultWatch {
        let rx = self.tx.subscribe();
        let epoch = rx.borrow().drop_epoch;
        FaultWatch { rx, epoch }
    }
}

/// What a fault asks an open connection to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultEvent {
    /// Drop the socket now, without a close frame.
    Drop,
    /// Stop reading and writing; see [`FaultWatch::park`].
    Silent,
}

/// One connection's view of the fault state.
pub(crate) struct FaultWatch {
    rx: watch::Receiver<FaultState>,
    epoch: u64,
}

impl FaultWatch {
    /// The fault that concerns this connection right now, if any, without waiting: check before
    /// each write so a dropped connection writes nothing more.
    pub(crate) fn pending(&mut self) -> Option<FaultEvent> {
        self.check()
    }

    fn check(&mut self) -> Option<FaultEvent> {
        let s = self.rx.borrow_and_update();
        if s.drop_epoch != self.epoch {
            Some(FaultEvent::Drop)
        } else if s.silent {
            Some(FaultEvent::Silent)
        } else {
            None
        }
    }

    /// Resolves when a fault concerns this connection. Cancel-safe (for `select!`).
    pub(crate) async fn next(&mut self) -> FaultEvent {
        loop {
            if let Some(event) = self.check() {
                return event;
            }
            if self.rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// For [`FaultEvent::Silent`]: waits, touching nothing, until `silent` is cleared or a drop
    /// is ordered. The caller then drops the socket.
    pub(crate) async fn park(&mut self) {
        let epoch = self.epoch;
        let _ = self
            .rx
            .wait_for(|s| !s.silent || s.drop_epoch != epoch)
            .await;
    }
}

/// What a plain switch route does to the faults.
type Switch = fn(&Faults);

/// The control routes, with permissive CORS (the browser tests call them from another origin).
pub(crate) fn routes() -> Router<Arc<Shared>> {
    // The plain switches: each route flips the state one way and answers `ok`.
    let switches: [(&str, Switch); 11] = [
        ("/_fault/drop", Faults::drop_all),
        ("/_fault/silent", Faults::silent),
        ("/_fault/refuse-ws", |f| f.refuse_ws(true)),
        ("/_fault/accept-ws", |f| f.refuse_ws(false)),
        ("/_fault/hold", |f| f.hold(true)),
        ("/_fault/unhold", |f| f.hold(false)),
        ("/_fault/refuse-sse", |f| f.refuse_sse(true)),
        ("/_fault/accept-sse", |f| f.refuse_sse(false)),
        ("/_fault/buffer-sse", |f| f.buffer_sse(true)),
        ("/_fault/unbuffer-sse", |f| f.buffer_sse(false)),
        ("/_fault/recover", Faults::recover),
    ];
    let router = switches
        .into_iter()
        .fold(Router::new(), |router, (path, set)| {
            let flip = move |State(shared): State<Arc<Shared>>| async move {
                set(&shared.faults);
                "ok"
            };
            router.route(path, get(flip).post(flip))
        });
    router
        .route("/_fault/down", get(down).post(down))
        .route("/_fault/kill-polls", get(kill_polls).post(kill_polls))
        .route(
            "/_fault/gateway-timeout",
            get(gateway_timeout).post(gateway_timeout),
        )
        .route("/_fault/close", get(close).post(close))
        .route("/_fault/restart", get(restart).post(restart))
        .route("/_fault/crash", get(crash).post(crash))
        .route("/_fault/store-outage", get(store_outage).post(store_outage))
        .route("/_fault/stats", get(stats))
        .layer(CorsLayer::permissive())
}

/// The `ms=N` of a fault route's query, capped at [`MAX_DOWN`]: `Ok(None)` without one, `Err`
/// (why, for a 400) for anything but a whole number.
fn ms_param(query: Option<&str>) -> Result<Option<Duration>, &'static str> {
    match crate::http::query_param(query, "ms").map(str::parse::<u64>) {
        None => Ok(None),
        Some(Ok(ms)) => Ok(Some(Duration::from_millis(ms).min(MAX_DOWN))),
        Some(Err(_)) => Err("ms must be a whole number"),
    }
}

/// Sets a timed fault from the route's `ms=N` (`default` without one; `None`: it is required)
/// and answers `ok`, or `400`.
fn with_ms(query: Option<&str>, default: Option<Duration>, set: impl FnOnce(Duration)) -> Response {
    match ms_param(query).and_then(|ms| ms.or(default).ok_or("ms=N is required (0 = off)")) {
        Ok(ms) => {
            set(ms);
            "ok".into_response()
        }
        Err(why) => (StatusCode::BAD_REQUEST, why).into_response(),
    }
}

async fn down(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    with_ms(query.as_deref(), Some(DEFAULT_DOWN), |ms| {
        shared.faults.down_for(ms)
    })
}

async fn kill_polls(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    with_ms(query.as_deref(), None, |ms| shared.faults.kill_polls(ms))
}

async fn gateway_timeout(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    with_ms(query.as_deref(), None, |ms| {
        shared.faults.gateway_timeout(ms)
    })
}

async fn close(State(shared): State<Arc<Shared>>) -> &'static str {
    crate::lifecycle::close_connections(&shared);
    "ok"
}

async fn restart(State(shared): State<Arc<Shared>>) -> &'static str {
    crate::lifecycle::restart(&shared).await;
    "ok"
}

/// `/_fault/crash`: the process exits at once, as a node that dies would (its sockets are closed
/// by the OS, nothing is written anywhere). The cluster tests restart it from outside.
async fn crash() -> &'static str {
    tokio::spawn(async {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        std::process::exit(70);
    });
    "ok"
}

/// `/_fault/store-outage`: a shared session store goes away (Redis: `SHUTDOWN NOSAVE`; the
/// cluster harness starts it again). `404` without a shared store.
async fn store_outage(State(shared): State<Arc<Shared>>) -> Response {
    if shared.hub.store().fault_outage().await {
        "ok".into_response()
    } else {
        (StatusCode::NOT_FOUND, "no shared store").into_response()
    }
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let s = shared.stats();
    let body = format!(
        "{{\"sessions\":{},\"connections\":{},\"handshakes\":{},\"attached\":{},\
         \"streams\":{},\"polls\":{},\"posts\":{},\"poll_overlaps\":{}}}",
        s.sessions,
        s.connections,
        s.handshakes,
        s.attached,
        s.streams,
        s.polls,
        s.posts,
        s.poll_overlaps
    );
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
