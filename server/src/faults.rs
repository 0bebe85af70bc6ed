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
//! | `/_fault/drop` | drop every open WebSocket connection abruptly |
//! | `/_fault/silent` | open WebSocket connections go silent both ways; new requests hang |
//! | `/_fault/refuse-ws` | WebSocket upgrades answer `403` |
//! | `/_fault/accept-ws` | undo `refuse-ws` |
//! | `/_fault/down?ms=N` | for N ms (default 5000, at most 600000) new requests get their connection closed unanswered; open WebSocket connections are dropped |
//! | `/_fault/hold` | new requests hang unanswered |
//! | `/_fault/unhold` | undo `hold`; the requests it parked are dropped |
//! | `/_fault/recover` | clear every fault; connections parked by `silent`/`hold` are dropped |
//! | `/_fault/restart` | forget every session as a restarted server would: every open WebSocket is dropped, the session store is emptied and `on_close` runs for each session; a resume afterwards gets WELCOME `resume = 2` |
//! | `GET /_fault/stats` | `{"sessions":N,"connections":N,"handshakes":N,"attached":N}` |
//!
//! `sessions` is the number of live protocol sessions (attached or detached and waiting for a
//! resume within the TTL), `attached` those with a connection, `connections` the number of open
//! WebSocket connections (protocol and raw, handshaken or not) and `handshakes` the number of
//! WELCOMEs sent since start. A connection parked by `silent` still counts as attached: the app
//! cannot tell a half-open link from a quiet one. It is dropped on recover, and its session
//! detaches.
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

    /// Clears every fault; connections parked by `silent` or `hold` are dropped.
    pub fn recover(&self) {
        self.tx.send_modify(|s| {
            s.silent = false;
            s.refuse_ws = false;
            s.hold = false;
            s.down_until = None;
        });
    }

    /// Waits until new requests are no longer parked (`hold` and `silent` both cleared).
    pub(crate) async fn wait_unparked(&self) {
        let mut rx = self.tx.subscribe();
        // `wait_for` only fails when the sender is gone, which cannot happen while `self` lives.
        let _ = rx.wait_for(|s| !s.parks_new()).await;
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

/// The control routes, with permissive CORS (the browser tests call them from another origin).
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_fault/drop", get(drop_all).post(drop_all))
        .route("/_fault/silent", get(silent).post(silent))
        .route("/_fault/refuse-ws", get(refuse_ws).post(refuse_ws))
        .route("/_fault/accept-ws", get(accept_ws).post(accept_ws))
        .route("/_fault/down", get(down).post(down))
        .route("/_fault/hold", get(hold).post(hold))
        .route("/_fault/unhold", get(unhold).post(unhold))
        .route("/_fault/recover", get(recover).post(recover))
        .route("/_fault/restart", get(restart).post(restart))
        .route("/_fault/stats", get(stats))
        .layer(CorsLayer::permissive())
}

async fn drop_all(State(shared): State<Arc<Shared>>) -> &'static str {
    shared.faults.drop_all();
    "ok"
}

async fn silent(State(shared): State<Arc<Shared>>) -> &'static str {
    shared.faults.silent();
    "ok"
}

async fn refuse_ws(State(shared): State<Arc<Shared>>) -> &'static str {
    shared.faults.refuse_ws(true);
    "ok"
}

async fn accept_ws(State(shared): State<Arc<Shared>>) -> &'static str {
    shared.faults.refuse_ws(false);
    "ok"
}

async fn down(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let ms = query.as_deref().and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("ms="))
            .map(str::parse::<u64>)
    });
    let duration = match ms {
        None => DEFAULT_DOWN,
        Some(Ok(ms)) => Duration::from_millis(ms).min(MAX_DOWN),
        Some(Err(_)) => {
            return (StatusCode::BAD_REQUEST, "ms must be a whole number").into_response();
        }
    };
    shared.faults.down_for(duration);
    "ok".into_response()
}

async fn hold(State(shared): State<Arc<Shared>>) -> &'static str {
    shared.faults.hold(true);
    "ok"
}

async fn unhold(State(shared): State<Arc<Shared>>) -> &'static str {
    shared.faults.hold(false);
    "ok"
}

async fn recover(State(shared): State<Arc<Shared>>) -> &'static str {
    shared.faults.recover();
    "ok"
}

async fn restart(State(shared): State<Arc<Shared>>) -> &'static str {
    crate::lifecycle::restart(&shared).await;
    "ok"
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let s = shared.stats();
    let body = format!(
        "{{\"sessions\":{},\"connections\":{},\"handshakes\":{},\"attached\":{}}}",
        s.sessions, s.connections, s.handshakes, s.attached
    );
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
