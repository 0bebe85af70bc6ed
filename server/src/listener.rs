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
/// Each connection is served with HTTP/1.1 (WebSocket upgrades included). Requests outside
/// `/_fault/` are gated by `handle`'s faults: during `down` their connection is closed without an
/// answer; during `hold` or `silent` they are never answered, and their connection is dropped
/// once the fault is cleared. Accept errors (e.g. out of file descriptors) are retried after a
/// short pause.
pub async fn serve(listener: TcpListener, router: Router, handle: ServerHandle) {
    let faults = handle.faults().clone();
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
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                gate(req, router.clone(), faults.clone())
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

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
