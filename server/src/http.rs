//! What every HTTP transport route shares (PROTOCOL.md §8.2): the routes themselves, the Origin
//! check and CORS, caching headers, query parameters, bounded body reads, batch answers, `410`,
//! and the "kill" answer (a connection closed with no response at all).
//!
//! Origin, CORS and `Cache-Control` live in one middleware around the four routes, so that no
//! handler can forget them and a disallowed page is refused before any handler reads anything.

use crate::{poll, send, sse, Shared};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::StreamExt;
use holdfast::protocol::{encode_batch, ErrorCode, ErrorFrame, Frame};
use std::sync::Arc;

/// What a send body may hold beyond one maximal message: the batch envelope and the frames'
/// own fields around `max_message_bytes` of payload (PROTOCOL.md §8.5).
pub(crate) const BODY_SLACK: usize = 65_536;

/// `Cache-Control` of every answer but an SSE stream's (which sets its own).
const NO_CACHE: &str = "no-cache, no-store, no-transform";

/// The SSE, send and poll routes under `base`, behind the Origin / CORS / caching middleware.
pub(crate) fn routes(base: &str, shared: &Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route(&format!("{base}/sse"), get(sse::handler))
        .route(&format!("{base}/send"), post(send::handler))
        .route(&format!("{base}/poll/open"), post(poll::open))
        .route(&format!("{base}/poll"), get(poll::poll))
        .layer(middleware::from_fn_with_state(Arc::clone(shared), guard))
}

/// The Origin check, preflights, and the headers every answer carries.
///
/// A disallowed `Origin` gets `403` with no CORS headers (so the page cannot even read the
/// refusal); an allowed one gets `Access-Control-Allow-Origin` echoing it. `OPTIONS` is answered
/// here for every route: the client sends CORS simple requests, but a page adding headers of its
/// own would preflight.
pub(crate) async fn guard(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    if !shared.origin_allowed(req.headers()) {
        let mut refusal = (StatusCode::FORBIDDEN, "origin not allowed").into_response();
        no_cache(refusal.headers_mut());
        return refusal;
    }
    let origin = req.headers().get(header::ORIGIN).cloned();
    let mut answer = if req.method() == Method::OPTIONS {
        let mut preflight = StatusCode::NO_CONTENT.into_response();
        let headers = preflight.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        preflight
    } else {
        next.run(req).await
    };
    let headers = answer.headers_mut();
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    no_cache(headers);
    answer
}

/// `Cache-Control: no-cache, no-store, no-transform`, unless the answer chose its own.
pub(crate) fn no_cache(headers: &mut HeaderMap) {
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static(NO_CACHE));
}

/// The value of `name` in a raw query string (`a=1&b=2`), without percent-decoding: every value
/// the protocol puts in a query (session ids, numbers, base64url) is URL-safe as it is.
pub(crate) fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    })
}

/// A bad request (`400`) with a short plain-text reason.
pub(crate) fn bad_request(why: &'static str) -> Response {
    (StatusCode::BAD_REQUEST, why).into_response()
}

/// `410 Gone`: no live HTTP attachment for that session. The same answer whether the session
/// never existed, expired, ended or is attached elsewhere (PROTOCOL.md §8.2), so it tells a
/// prober nothing.
pub(crate) fn gone() -> Response {
    (StatusCode::GONE, "no live HTTP attachment for this session").into_response()
}

/// `503` with `Retry-After: 1`: a shared session store (or the node holding the session) cannot
/// be reached now. The client tries again later and resumes; nothing was taken from the request.
pub(crate) fn try_later(_cause: &crate::store::StoreError) -> Response {
    // The cause (a Redis error) stays on the server: the client only needs "later".
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
        "session store unavailable",
    )
        .into_response()
}

/// `200` with a batch body.
pub(crate) fn batch(body: impl Into<Bytes>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        body.into(),
    )
        .into_response()
}

/// `400` with a batch holding ERROR 1 (bad frame) `message`: a broken batch envelope.
pub(crate) fn bad_batch(message: String) -> Response {
    let error = Frame::Error(ErrorFrame {
        code: ErrorCode::BadFrame,
        message,
        retry_after_ms: 0,
    });
    let mut answer = batch(encode_batch(&[error]));
    *answer.status_mut() = StatusCode::BAD_REQUEST;
    answer
}

/// Reads a request body of at most `max_message_bytes + 65536` bytes: a larger `Content-Length`
/// is refused (`413`) before anything is read, and a body that grows past the limit as soon as
/// the excess arrives, so an oversized send never sits in memory. A body still incomplete after
/// `body_read_timeout_ms` (a slow-body attack) is answered `408` and its connection closed. A
/// body that fails midway (the client went away) is a `400` nobody will read.
pub(crate) async fn read_body(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, Response> {
    let limit = shared.config.max_message_bytes.saturating_add(BODY_SLACK);
    let too_large = || (StatusCode::PAYLOAD_TOO_LARGE, "body too large").into_response();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Err(too_large());
    }
    let deadline = tokio::time::Instant::now()
        + std::time::Duration::from_millis(shared.config.body_read_timeout_ms.max(1));
    let mut chunks = body.into_data_stream();
    let mut out = Vec::new();
    loop {
        let chunk = match tokio::time::timeout_at(deadline, chunks.next()).await {
            Err(_) => return Err(body_timeout()),
            Ok(None) => break,
            Ok(Some(chunk)) => chunk.map_err(|_| bad_request("body read failed"))?,
        };
        if out.len().saturating_add(chunk.len()) > limit {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(out))
}

/// `408` for a body that did not arrive within `body_read_timeout_ms`; the connection closes
/// (the rest of the body is never read).
fn body_timeout() -> Response {
    (
        StatusCode::REQUEST_TIMEOUT,
        [(header::CONNECTION, "close")],
        "body read timed out",
    )
        .into_response()
}

/// Marks an answer that must not be sent: the fault-aware accept loop closes the connection
/// instead of writing anything (see [`kill`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kill;

/// A request killed on the way, like a proxy that dropped it: no status, no headers, the
/// connection just ends (a browser `fetch` rejects with a network error). Behind
/// [`crate::serve`] the [`Kill`] mark makes the accept loop close the connection unanswered;
/// behind another server the body fails at once, which makes hyper abort the connection.
pub(crate) fn kill() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("killed by a fault"))
    });
    let mut answer = Response::new(Body::from_stream(failing));
    answer.extensions_mut().insert(Kill);
    answer
}

/// Marks an answer [`cut`] short (it is not counted as answered).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cut;

/// An answer cut off mid-body, like a proxy that killed a held response: `200` and its head go
/// out, then one byte of a batch that promises more, then the connection dies (hyper aborts it
/// when the body fails). A browser's `fetch` then fails reading the body. An answer that never
/// started ([`kill`]) would not do for this: browsers transparently retry a GET whose reused
/// connection closed before any answer (Firefox up to ten times), so the fault would never show.
pub(crate) fn cut() -> Response {
    use futures_util::StreamExt;
    // A varint length of 100 with no frame behind it; the pause lets hyper flush the head and
    // that byte before the failure aborts the connection.
    let cut_short = futures_util::stream::once(async {
        Ok::<Bytes, std::io::Error>(Bytes::from_static(&[100]))
    })
    .chain(futures_util::stream::once(async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Err(std::io::Error::other("cut by a fault"))
    }));
    let mut answer = Response::new(Body::from_stream(cut_short));
    answer.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/octet-stream"),
    );
    answer.extensions_mut().insert(Cut);
    answer
}

#[cfg(test)]
mod tests {
    use super::query_param;

    #[test]
    fn query_params_are_found_by_exact_name() {
        let q = Some("session=abc&cursor=12&hold=0&hello=AQE-_w");
        assert_eq!(query_param(q, "session"), Some("abc"));
        assert_eq!(query_param(q, "cursor"), Some("12"));
        assert_eq!(query_param(q, "hold"), Some("0"));
        assert_eq!(query_param(q, "hello"), Some("AQE-_w"));
        assert_eq!(query_param(q, "sess"), None);
        assert_eq!(query_param(Some("flag"), "flag"), Some(""));
        assert_eq!(query_param(None, "session"), None);
        assert_eq!(query_param(Some("a=b=c"), "a"), Some("b=c"));
    }
}
