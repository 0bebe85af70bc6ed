//! `POST {base}/send?session=<id>`: client → server frames for an SSE or polling session
//! (PROTOCOL.md §8.5). The body is a batch; its frames go, in order, to the session through its
//! HTTP link (`link.rs`), which feeds them to the session like WebSocket messages — a frame that
//! does not decode is answered with ERROR on the downstream, as over WebSocket.

use crate::http::{bad_batch, gone, query_param, read_body, try_later};
use crate::link::{hand_send, Handed};
use crate::store::{RemoteReply, RemoteRequest};
use crate::Shared;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use holdfast::protocol::split_batch;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// `204` once every frame was handed to the session; `413` for a body over
/// `max_message_bytes + 65536`; `400` (an ERROR batch) for a broken batch envelope; `410`
/// without a live HTTP attachment for the session.
pub(crate) async fn handler(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let answer = deliver(&shared, query.as_deref(), &headers, body).await;
    shared.posts.fetch_add(1, Ordering::Relaxed);
    answer
}

async fn deliver(
    shared: &Shared,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    // The body first: an oversized one is refused on its Content-Length, whoever sent it.
    let body = match read_body(shared, headers, body).await {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let frames = match split_batch(&body) {
        Ok(frames) => frames.into_iter().map(|f| body.slice_ref(f)).collect(),
        Err(e) => return bad_batch(format!("bad batch: {e}")),
    };
    let Some(id) = query_param(query, "session") else {
        return gone();
    };
    let handed = match hand_send(shared, id, frames).await {
        Handed::Waiting(handed) => handed,
        Handed::Gone => return gone(),
        Handed::NoLink => {
            // Another node may hold the session (a shared store): it answers for it.
            let request = RemoteRequest::Send(body.to_vec());
            return match shared.hub.store().forward(id, request).await {
                Ok(RemoteReply::Done) => StatusCode::NO_CONTENT.into_response(),
                Ok(_) => gone(),
                Err(e) => try_later(&e),
            };
        }
    };
    match handed.await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => gone(),
    }
}
