//! The fault-aware accept loop: HTTP/1.1 with upgrades, and every request except `/_fault/*`
//! gated by the current faults before the router sees it (see [`crate::faults`]); an answer the
//! router marked as killed is not sent at all (the connection closes unanswered).

use crate::faults::Faults;
use crate::http::Kill;
use crate::ServerHandle;
use axum::body::Body;
use axum::http::{Request, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::fmt;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tower::ServiceExt;

/// Serves `router` on `listener` until the returned future is dropped.
///
/// Each connection is served with HTTP/1.1 (WebSocket upgrades included), within the request
/// head limits of `handle`'s [`ServerConfig`](crate::ServerConfig): `max_headers` and
/// `max_header_bytes` (more is answered `431` before the rest is read) and
/// `header_read_timeout_ms` (a head still incomplete then closes the connection). Requests outside
/// `/_fault/` are gated by `handle`'s faults: during `down` their connection is closed without an
/// answer; during `hold` or `silent` they are never answered, and their connection is dropped
/// once the fault is cleared. Accept errors (e.g. out of file descriptors) are retried after a
/// short pause.
pub async fn serve(listener: TcpListener, router: Router, handle: ServerHandle) {
    let faults = handle.faults().clone();
    let config = handle.config();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .max_headers(config.max_headers.max(1))
        .max_header_size(config.max_header_bytes.max(MIN_HEADER_BYTES))
        .header_read_timeout(Duration::from_millis(config.header_read_timeout_ms.max(1)));
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let faults = faults.clone();
        let http = http.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                gate(req, router.clone(), faults.clone())
            });
            let _ = http
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

/// The smallest `max_header_bytes` used: a browser's ordinary request head fits.
const MIN_HEADER_BYTES: usize = 1024;

/// Why a request got no answer: hyper closes the connection without writing a response.
#[derive(Debug)]
struct Unanswered;

impl fmt::Display for Unanswered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by a fault")
    }
}

impl std::error::Error for Unanswered {}

async fn gate(
    req: Request<Incoming>,
    router: Router,
    faults: Faults,
) -> Result<Response<Body>, Unanswered> {
    if !req.uri().path().starts_with("/_fault/") {
        let state = faults.state();
        if state.is_down(Instant::now()) {
            return Err(Unanswered);
        }
        if state.parks_new() {
            faults.wait_unparked().await;
            return Err(Unanswered);
        }
    }
    match router.oneshot(req).await {
        // A request a fault killed (a poll under `kill-polls`, `drop`, `silent`): no answer.
        Ok(response) if response.extensions().get::<Kill>().is_some() => Err(Unanswered),
        Ok(response) => Ok(response),
        Err(never) => match never {},
    }
}
