//! `GET {base}/sse?hello=<base64url(HELLO)>`: the holdfast protocol over Server-Sent Events
//! (PROTOCOL.md §8.3). A transport adapter: the handler decodes HELLO, opens the session through
//! `lifecycle` like the WebSocket route, and hands the attachment to a link (`link.rs`) that
//! pushes one `data: <base64(frame)>` event per frame into this stream. Client → server frames
//! arrive by `POST {base}/send` (`send.rs`), through the same link.
//!
//! The body is its own small task-free state machine: it writes `:ok` first (so headers and
//! bytes leave through a proxy that waits for a body), forwards the link's events, and watches
//! the faults itself — `drop`/`down` abort it mid-body, `silent` parks it and then aborts it,
//! `buffer-sse` holds its bytes like a buffering proxy. When the client goes away hyper drops
//! the body, the link sees its channel close, and the session detaches (it lives for its TTL).

use crate::faults::{FaultEvent, FaultWatch, Faults};
use crate::http::{bad_request, query_param};
use crate::link::{self, sse_event, Downstream};
use crate::{lifecycle, Gauge, Shared};
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use holdfast::protocol::{decode, decode_base64, Decoded, Frame, Hello, Limits};
use std::sync::Arc;
use tokio::sync::mpsc;

/// The comment written at once, before any event.
const OPENING: &[u8] = b":ok\n\n";
/// Events the link may queue ahead of a slow stream before it waits.
const EVENT_QUEUE: usize = 64;
/// Largest decoded `hello` accepted: a HELLO is under 100 bytes.
const MAX_HELLO_BYTES: usize = 1024;
/// What `buffer-sse` accumulates before it lets go, like a proxy's buffer.
const PROXY_BUFFER: usize = 64 * 1024;

/// Opens an SSE stream: `403` under the `refuse-sse` fault, `400` for a missing or bad `hello`,
/// else `200 text/event-stream` — with WELCOME first, or ERROR + CLOSE for a refused handshake.
pub(crate) async fn handler(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    // Taken first, so that a fault from now on reaches this stream (its link and its body).
    let (faults, watch) = (shared.faults.watch(), shared.faults.watch());
    if shared.faults.state().refuse_sse {
        return (StatusCode::FORBIDDEN, "event streams refused (fault)").into_response();
    }
    let limits = Limits {
        max_message_bytes: shared.config.max_message_bytes,
    };
    let Some(hello) = query_param(query.as_deref(), "hello").and_then(|h| parse_hello(h, &limits))
    else {
        return bad_request("hello must be one base64url-encoded HELLO frame");
    };
    let (events, rx) = mpsc::channel(EVENT_QUEUE);
    let body = SseBody {
        rx,
        closed: false,
        held: OPENING.to_vec(),
        faults: shared.faults.clone(),
        watch,
        _stream: Gauge::stream(&shared),
    };
    match lifecycle::open(&shared, &hello).await {
        Ok(attachment) => link::spawn(&shared, attachment, Downstream::Sse(events), faults, None),
        Err(refusal) => {
            // The queue is empty and larger than two events; the sender then goes, so the
            // stream ends after them.
            for frame in refusal.frames() {
                let _ = events.try_send(sse_event(&frame));
            }
        }
    }
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache, no-transform"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(body.into_stream()),
    )
        .into_response()
}

/// One base64url (or base64) HELLO frame.
pub(crate) fn parse_hello(text: &str, limits: &Limits) -> Option<Hello> {
    let bytes = decode_base64(text, MAX_HELLO_BYTES).ok()?;
    match decode(&bytes, limits) {
        Ok(Decoded::Frame(Frame::Hello(hello))) => Some(hello),
        _ => None,
    }
}

/// Why a stream was aborted (hyper then ends the connection without the final chunk).
#[derive(Debug)]
struct Aborted;

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("event stream dropped by a fault")
    }
}

impl std::error::Error for Aborted {}

/// The stream body's state.
struct SseBody {
    /// Events from the link; closed when the link ends (or was never started: a refusal).
    rx: mpsc::Receiver<Bytes>,
    closed: bool,
    /// Bytes not written yet: the opening comment, or what `buffer-sse` holds.
    held: Vec<u8>,
    faults: Faults,
    watch: FaultWatch,
    _stream: Gauge,
}

impl SseBody {
    fn into_stream(self) -> impl Stream<Item = Result<Bytes, Aborted>> + Send {
        futures_util::stream::unfold(Some(self), |state| async move {
            let mut body = state?;
            match body.next().await {
                // After an abort the stream is over.
                Some(Err(aborted)) => Some((Err(aborted), None)),
                Some(Ok(bytes)) => Some((Ok(bytes), Some(body))),
                None => None,
            }
        })
    }

    /// The next chunk to write: `None` at the end, `Err` to abort the connection.
    async fn next(&mut self) -> Option<Result<Bytes, Aborted>> {
        loop {
            let buffering = self.faults.state().buffer_sse;
            let full = self.held.len() >= PROXY_BUFFER;
            // A buffering proxy lets go when its buffer fills or the response ends.
            if !self.held.is_empty() && (!buffering || full || self.closed) {
                return Some(Ok(Bytes::from(std::mem::take(&mut self.held))));
            }
            if self.closed {
                return None;
            }
            tokio::select! {
                // Faults first: a dropped stream writes nothing more.
                biased;
                event = self.watch.next() => {
                    if event == FaultEvent::Silent {
                        self.watch.park().await;
                    }
                    return Some(Err(Aborted));
                }
                () = self.faults.wait_unbuffered(), if buffering => {}
                event = self.rx.recv() => match event {
                    Some(bytes) if !buffering && self.held.is_empty() => return Some(Ok(bytes)),
                    Some(bytes) => self.held.extend_from_slice(&bytes),
                    None => self.closed = true,
                },
            }
        }
    }
}
