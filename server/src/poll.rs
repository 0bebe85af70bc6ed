//! `POST {base}/poll/open` and `GET {base}/poll`: the holdfast protocol over long polling and
//! short polling (PROTOCOL.md §8.4). A transport adapter: the open decodes HELLO, opens the
//! session through `lifecycle` like the WebSocket route and starts a poll link (`link.rs`);
//! each poll GET hands its cursor to that link and waits for its batch. Client → server frames
//! arrive by `POST {base}/send` (`send.rs`), through the same link.
//!
//! The waiting request watches the faults itself: `drop`/`down` kill it (no answer at all),
//! `silent` parks it and then kills it, `kill-polls` cuts its answer off mid-body and
//! `gateway-timeout` answers `504`, each after its time. Whatever its frames were, the next poll's cursor brings the data back.

use crate::faults::{FaultEvent, FaultWatch};
use crate::http::{
    bad_request, batch, cut, gone, kill, query_param, read_body, try_later, Cut, Kill,
};
use crate::link::{self, hand_poll, until, Downstream, Handed, Request};
use crate::store::{RemoteReply, RemoteRequest};
use crate::{lifecycle, Shared};
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use holdfast::protocol::{decode, encode_batch, split_batch, Decoded, Frame, Hello, Limits};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Opens a polling session: `200` with a batch starting with WELCOME (and whatever a resume
/// resends), or ERROR + CLOSE for a refused handshake; `400` for a body that is not a batch
/// starting with HELLO (frames after the HELLO are ignored), `413` for an oversized one.
pub(crate) async fn open(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Taken first, so that a fault from now on reaches this request and its link.
    let (watch, faults) = (shared.faults.watch(), shared.faults.watch());
    let body = match read_body(&shared, &headers, body).await {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let limits = Limits {
        max_message_bytes: shared.config.max_message_bytes,
    };
    let Some(hello) = first_hello(&body, &limits) else {
        return bad_request("the body must be a batch starting with HELLO");
    };
    let (reply, answer) = oneshot::channel();
    let first = Request::Poll {
        cursor: None,
        hold: false,
        reply,
    };
    match lifecycle::open(&shared, &hello).await {
        Ok(attachment) => link::spawn(&shared, attachment, Downstream::Poll, faults, Some(first)),
        Err(refusal) => return batch(encode_batch(&refusal.frames())),
    }
    wait(watch, answer, Instant::now(), None, None).await
}

/// The HELLO a poll open's batch starts with.
pub(crate) fn first_hello(body: &[u8], limits: &Limits) -> Option<Hello> {
    let frames = split_batch(body).ok()?;
    match decode(frames.first()?, limits) {
        Ok(Decoded::Frame(Frame::Hello(hello))) => Some(hello),
        _ => None,
    }
}

/// `GET {base}/poll?session=<id>&cursor=<n>[&hold=0]`: `200` with a batch (possibly empty),
/// `410` without a live poll link for the session, `400` without a session or a numeric cursor.
pub(crate) async fn poll(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let arrived = Instant::now();
    let watch = shared.faults.watch();
    let answer = answer_poll(&shared, query.as_deref(), watch, arrived).await;
    let ext = answer.extensions();
    if ext.get::<Kill>().is_none() && ext.get::<Cut>().is_none() {
        shared.polls.fetch_add(1, Ordering::Relaxed);
    }
    answer
}

async fn answer_poll(
    shared: &Shared,
    query: Option<&str>,
    watch: FaultWatch,
    arrived: Instant,
) -> Response {
    let Some(session) = query_param(query, "session") else {
        return bad_request("session is required");
    };
    let Some(cursor) = query_param(query, "cursor").and_then(|c| c.parse::<u64>().ok()) else {
        return bad_request("cursor must be a whole number");
    };
    let hold = query_param(query, "hold") != Some("0");
    let answer = match hand_poll(shared, session, cursor, hold).await {
        Handed::Waiting(answer) => answer,
        Handed::Gone => return gone(),
        Handed::NoLink => {
            // Another node may hold the session (a shared store): it answers for it.
            let request = RemoteRequest::Poll { cursor, hold };
            return match shared.hub.store().forward(session, request).await {
                Ok(RemoteReply::Batch(body)) => batch(body),
                Ok(_) => gone(),
                Err(e) => try_later(&e),
            };
        }
    };
    let state = shared.faults.state();
    let after = |ms: u64| (ms > 0).then(|| Duration::from_millis(ms));
    let (kill_after, gateway_after) = (after(state.kill_polls_ms), after(state.gateway_timeout_ms));
    wait(watch, answer, arrived, kill_after, gateway_after).await
}

/// Waits for the link's answer: the batch (`200`), or `410` if the link went away without one
/// (superseded, ended). Faults and the poll fault timers (counted from `arrived`) come first.
async fn wait(
    mut watch: FaultWatch,
    answer: oneshot::Receiver<Bytes>,
    arrived: Instant,
    kill_after: Option<Duration>,
    gateway_after: Option<Duration>,
) -> Response {
    tokio::select! {
        biased;
        event = watch.next() => {
            if event == FaultEvent::Silent {
                watch.park().await;
            }
            kill()
        }
        () = until(kill_after.map(|d| arrived + d)) => cut(),
        () = until(gateway_after.map(|d| arrived + d)) => {
            (StatusCode::GATEWAY_TIMEOUT, "gateway timeout (fault)").into_response()
        }
        answer = answer => match answer {
            Ok(body) => batch(body),
            Err(_) => gone(),
        },
    }
}
