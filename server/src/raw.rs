//! `GET {base}/raw`: a raw WebSocket echo without the protocol envelope, for raw-mode clients.
//!
//! Text and binary messages come back unchanged. The server sends a WebSocket PING when it has
//! sent nothing for `ping_interval_ms` (browsers answer it by themselves) and closes with 1001 a
//! client silent for `idle_timeout_ms`. A message over `max_message_bytes` closes the connection
//! with 1009, as soon as its header declares it (before it is read).
//! Faults apply as on the protocol endpoint.

use crate::faults::{FaultEvent, FaultWatch};
use crate::ws::{close_ws, linger};
use crate::{Gauge, Shared};
use axum::body::Bytes;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep_until, timeout, Instant};

/// Checks `Origin` and the `refuse-ws` fault (403), then upgrades.
pub(crate) async fn handler(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match shared.admit(&headers, upgrade) {
        Ok(upgrade) => upgrade,
        Err(answer) => return *answer,
    };
    let limit = shared.config.max_message_bytes;
    // Watched from the request on, as the protocol endpoint does (`ws::handler`).
    let faults = shared.faults.watch();
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(crate::ws::READ_BUFFER_BYTES)
        .on_upgrade(move |socket| run(socket, shared, faults))
}

async fn run(mut socket: WebSocket, shared: Arc<Shared>, mut faults: FaultWatch) {
    let _connection = Gauge::connection(&shared);
    let ping_interval = Duration::from_millis(shared.config.ping_interval_ms.max(1));
    let idle_timeout = Duration::from_millis(shared.config.idle_timeout_ms.max(1));
    let mut last_sent = Instant::now();
    let mut last_recv = last_sent;
    loop {
        let deadline = (last_recv + idle_timeout).min(last_sent + ping_interval);
        let reply = tokio::select! {
            event = faults.next() => {
                if event == FaultEvent::Silent {
                    faults.park().await;
                }
                return;
            }
            msg = socket.recv() => {
                last_recv = Instant::now();
                match msg {
                    Some(Err(e)) if crate::ws::is_too_big(&e) => {
                        return close_ws(&mut socket, 1009, "message too big").await;
                    }
                    None | Some(Err(_)) => return,
                    Some(Ok(Message::Close(_))) => return linger(&mut socket).await,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => None,
                    Some(Ok(echo @ (Message::Text(_) | Message::Binary(_)))) => Some(echo),
                }
            }
            () = sleep_until(deadline) => {
                let now = Instant::now();
                if now >= last_recv + idle_timeout {
                    return close_ws(&mut socket, 1001, "idle timeout").await;
                }
                (now >= last_sent + ping_interval).then(|| Message::Ping(Bytes::new()))
            }
        };
        if let Some(reply) = reply {
            match timeout(idle_timeout, socket.send(reply)).await {
                Ok(Ok(())) => last_sent = Instant::now(),
                _ => return,
            }
        }
    }
}
