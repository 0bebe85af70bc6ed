//! Baseline endpoints for `make bench`, mounted only with `--bench`
//! ([`ServerConfig::bench`](crate::ServerConfig::bench)): the plain HTTP echoes the holdfast
//! HTTP transports are measured against, and a stats route for the load generator
//! (`bench-load`). None of them speaks the holdfast protocol, and none touches a session.
//!
//! # Routes
//!
//! `{base}` is the base path (default `/holdfast`). Every route sits behind the same Origin /
//! CORS / `Cache-Control` middleware as the protocol's HTTP routes: pages on a loopback origin
//! (any port) are allowed by default (`--allow-origin` / `--allow-any-origin` widen that),
//! a refused `Origin` gets `403` with no CORS headers, an allowed one gets
//! `Access-Control-Allow-Origin` echoing it, and `OPTIONS` preflights are answered `204`. Every
//! `POST` body is read as UTF-8 text (`text/plain` is a CORS simple request: no preflight).
//!
//! `X` is a stream or queue id chosen by the page: 1 to 64 characters of `[A-Za-z0-9_-]`, taken
//! from the raw query without percent-decoding (anything else is `400`).
//!
//! **Plain SSE echo** — the "`EventSource` + one `fetch` POST per message" baseline:
//!
//! | route | answer |
//! |---|---|
//! | `GET {base}/bench/sse?id=X` | `200 text/event-stream`. A `:ok` comment at once (so `onopen` fires), then one event per message posted to `X`, in order; a `:` comment every 15 s while quiet. A newer stream for the same `X` replaces the older one, which ends. |
//! | `POST {base}/bench/post?id=X` | Pushes the body to stream `X` as **one** SSE event (each line of the body becomes a `data:` line, so `event.data` is the body with `\r\n` / `\r` turned into `\n`) and answers `204` once it is queued for the stream. `410` when no stream `X` is open; `503` when stream `X` already has 100 000 events not yet written; `400` for a bad id or a body that is not UTF-8; `413` for a body over `max_message_bytes` + 64 KiB. |
//!
//! Events the stream can write at once go out in one chunk (at most about 64 KiB), so a burst
//! of posts is not one write per event; there are at most 10 000 open bench streams (`503`).
//!
//! **Plain long-poll echo** — the long-polling baseline:
//!
//! | route | answer |
//! |---|---|
//! | `POST {base}/bench/lp?id=X` | Appends the body to queue `X` and answers `204`. `503` when the queues are full (100 000 messages or 64 MiB queued over all ids, or 10 000 ids); `400` / `413` as above. |
//! | `GET {base}/bench/lp?id=X` | `200 application/json`: a **JSON array of strings**, every message queued for `X` in the order posted (then removed from the queue). Answered at once when something is queued; otherwise held until a message arrives, or for the server's poll hold time (`--poll-hold-ms`, default 25 s) and then answered `[]`. Two GETs held for one `X` both wait; the first to wake takes the messages. |
//!
//! **Stats** — for the load generator:
//!
//! | route | answer |
//! |---|---|
//! | `GET {base}/bench/stats` | `200 application/json`: `{"sessions":N,"attached":N,"connections":N,"streams":N,"handshakes":N,"polls":N,"posts":N}` — the same counters as `/_fault/stats` (live protocol sessions, those with a connection attached, open WebSockets, open protocol SSE streams, WELCOMEs sent, poll GETs and send POSTs answered), without needing `--faults`. |

use crate::http::{bad_request, gone, guard, query_param, read_body};
use crate::Shared;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::Stream;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

/// Events one bench SSE stream may have queued and not yet written.
const MAX_STREAM_EVENTS: usize = 100_000;
/// Bench SSE streams open at once.
const MAX_STREAMS: usize = 10_000;
/// Long-poll queue ids alive at once.
const MAX_QUEUES: usize = 10_000;
/// Messages queued over every long-poll id.
const MAX_QUEUED_MESSAGES: usize = 100_000;
/// Payload bytes queued over every long-poll id.
const MAX_QUEUED_BYTES: usize = 64 * 1024 * 1024;
/// About how much one write of a bench SSE stream carries.
const MAX_CHUNK_BYTES: usize = 64 * 1024;
/// A quiet bench SSE stream writes a comment this often (finds readers that went away).
const KEEPALIVE: Duration = Duration::from_secs(15);
/// The comment a bench SSE stream starts with.
const OPENING: &[u8] = b":ok\n\n";
/// Longest id.
const MAX_ID_BYTES: usize = 64;

/// The bench routes under `base`, behind the HTTP transports' Origin / CORS / caching
/// middleware (see the module docs).
pub(crate) fn routes(base: &str, shared: &Arc<Shared>) -> Router<Arc<Shared>> {
    let ctx = Ctx {
        shared: Arc::clone(shared),
        bench: Arc::new(BenchState::default()),
    };
    Router::new()
        .route(&format!("{base}/bench/sse"), get(sse))
        .route(&format!("{base}/bench/post"), axum::routing::post(post))
        .route(&format!("{base}/bench/lp"), get(lp_get).post(lp_post))
        .route(&format!("{base}/bench/stats"), get(stats))
        .with_state(ctx)
        .layer(middleware::from_fn_with_state(Arc::clone(shared), guard))
}

/// What the bench handlers see.
#[derive(Clone)]
struct Ctx {
    shared: Arc<Shared>,
    bench: Arc<BenchState>,
}

/// The bench streams and queues.
#[derive(Default)]
struct BenchState {
    streams: Mutex<Streams>,
    queues: Mutex<Queues>,
}

impl BenchState {
    fn streams(&self) -> MutexGuard<'_, Streams> {
        // Every operation is one insert, lookup or remove: a poisoned map is still consistent.
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn queues(&self) -> MutexGuard<'_, Queues> {
        // Each operation leaves the map and its totals consistent before it can panic.
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Open bench SSE streams by id.
#[derive(Default)]
struct Streams {
    map: HashMap<String, (u64, mpsc::Sender<Bytes>)>,
    next: AtomicU64,
}

/// Long-poll queues by id, and what they hold in total.
#[derive(Default)]
struct Queues {
    map: HashMap<String, Queue>,
    messages: usize,
    bytes: usize,
}

/// One long-poll id: its messages and the GETs waiting for them.
#[derive(Default)]
struct Queue {
    messages: VecDeque<String>,
    notify: Arc<Notify>,
    waiting: usize,
}

impl Queues {
    /// Takes every message queued for `id` (the entry goes once nobody waits on it).
    fn take(&mut self, id: &str) -> Vec<String> {
        let Some(queue) = self.map.get_mut(id) else {
            return Vec::new();
        };
        let taken: Vec<String> = queue.messages.drain(..).collect();
        let waiting = queue.waiting;
        self.messages = self.messages.saturating_sub(taken.len());
        let bytes: usize = taken.iter().map(String::len).sum();
        self.bytes = self.bytes.saturating_sub(bytes);
        if waiting == 0 {
            self.map.remove(id);
        }
        taken
    }
}

/// The `id` query parameter, if well-formed.
fn id_of(query: Option<&str>) -> Option<&str> {
    query_param(query, "id").filter(|id| {
        !id.is_empty()
            && id.len() <= MAX_ID_BYTES
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

const BAD_ID: &str = "id must be 1-64 characters of [A-Za-z0-9_-]";

/// `503` with a reason.
fn full(why: &'static str) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, why).into_response()
}

/// The body as text: `400` unless UTF-8, `413` when too large.
async fn text_body(shared: &Shared, headers: &HeaderMap, body: Body) -> Result<String, Response> {
    let bytes = read_body(shared, headers, body).await?;
    String::from_utf8(bytes.to_vec()).map_err(|_| bad_request("the body must be UTF-8 text"))
}

/// A bench POST's `id` and UTF-8 body, or the answer refusing it (400 or 413).
async fn id_and_text(
    ctx: &Ctx,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(String, String), Response> {
    let id = id_of(query).ok_or_else(|| bad_request(BAD_ID))?.to_owned();
    let text = text_body(&ctx.shared, headers, body).await?;
    Ok((id, text))
}

/// `GET {base}/bench/sse?id=X`.
async fn sse(State(ctx): State<Ctx>, RawQuery(query): RawQuery) -> Response {
    let Some(id) = id_of(query.as_deref()) else {
        return bad_request(BAD_ID);
    };
    let (tx, rx) = mpsc::channel(MAX_STREAM_EVENTS);
    let number = {
        let mut streams = ctx.bench.streams();
        if streams.map.len() >= MAX_STREAMS && !streams.map.contains_key(id) {
            return full("too many bench streams");
        }
        let number = streams.next.fetch_add(1, Ordering::Relaxed);
        // Replacing the older stream's sender ends that stream.
        streams.map.insert(id.to_owned(), (number, tx));
        number
    };
    let stream = EventStream {
        rx,
        opening: true,
        keepalive: tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE),
        _registration: Registration {
            bench: Arc::clone(&ctx.bench),
            id: id.to_owned(),
            number,
        },
    };
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache, no-transform"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// A bench stream's entry in [`Streams`], removed on drop if it is still this stream's.
struct Registration {
    bench: Arc<BenchState>,
    id: String,
    number: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut streams = self.bench.streams();
        if streams
            .map
            .get(&self.id)
            .is_some_and(|(number, _)| *number == self.number)
        {
            streams.map.remove(&self.id);
        }
    }
}

/// The body of a bench SSE stream.
struct EventStream {
    rx: mpsc::Receiver<Bytes>,
    opening: bool,
    keepalive: tokio::time::Interval,
    _registration: Registration,
}

impl Stream for EventStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.opening {
            this.opening = false;
            return Poll::Ready(Some(Ok(Bytes::from_static(OPENING))));
        }
        match this.rx.poll_recv(cx) {
            Poll::Ready(Some(first)) => {
                // Whatever else is ready goes in the same write.
                let mut chunk = first.to_vec();
                while chunk.len() < MAX_CHUNK_BYTES {
                    match this.rx.try_recv() {
                        Ok(event) => chunk.extend_from_slice(&event),
                        Err(_) => break,
                    }
                }
                this.keepalive.reset();
                Poll::Ready(Some(Ok(Bytes::from(chunk))))
            }
            // Replaced by a newer stream for the same id.
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.keepalive.poll_tick(cx) {
                Poll::Ready(_) => Poll::Ready(Some(Ok(Bytes::from_static(b":\n\n")))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// One SSE event whose `data` is `text` (line breaks become `data:` lines).
pub(crate) fn event(text: &str) -> Bytes {
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.split("\r\n").flat_map(|l| l.split(['\r', '\n'])) {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

/// `POST {base}/bench/post?id=X`.
async fn post(
    State(ctx): State<Ctx>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (id, text) = match id_and_text(&ctx, query.as_deref(), &headers, body).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let id = id.as_str();
    let Some(tx) = ctx.bench.streams().map.get(id).map(|(_, tx)| tx.clone()) else {
        return gone();
    };
    match tx.try_send(event(&text)) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(mpsc::error::TrySendError::Full(_)) => full("the stream is not reading"),
        Err(mpsc::error::TrySendError::Closed(_)) => gone(),
    }
}

/// `POST {base}/bench/lp?id=X`.
async fn lp_post(
    State(ctx): State<Ctx>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (id, text) = match id_and_text(&ctx, query.as_deref(), &headers, body).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let id = id.as_str();
    let mut queues = ctx.bench.queues();
    if queues.messages >= MAX_QUEUED_MESSAGES
        || queues.bytes.saturating_add(text.len()) > MAX_QUEUED_BYTES
        || (queues.map.len() >= MAX_QUEUES && !queues.map.contains_key(id))
    {
        return full("the long-poll queues are full");
    }
    queues.messages += 1;
    queues.bytes += text.len();
    let queue = queues.map.entry(id.to_owned()).or_default();
    queue.messages.push_back(text);
    queue.notify.notify_waiters();
    StatusCode::NO_CONTENT.into_response()
}

/// A GET waiting on a queue: counted in [`Queue::waiting`] until it ends, however it ends.
struct Waiting {
    bench: Arc<BenchState>,
    id: String,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut queues = self.bench.queues();
        if let Some(queue) = queues.map.get_mut(&self.id) {
            queue.waiting = queue.waiting.saturating_sub(1);
            if queue.waiting == 0 && queue.messages.is_empty() {
                queues.map.remove(&self.id);
            }
        }
    }
}

/// `GET {base}/bench/lp?id=X`.
async fn lp_get(State(ctx): State<Ctx>, RawQuery(query): RawQuery) -> Response {
    let Some(id) = id_of(query.as_deref()) else {
        return bad_request(BAD_ID);
    };
    let notify = {
        let mut queues = ctx.bench.queues();
        let queued = queues.map.get(id).is_some_and(|q| !q.messages.is_empty());
        if queued {
            return json_strings(&queues.take(id));
        }
        if queues.map.len() >= MAX_QUEUES && !queues.map.contains_key(id) {
            return full("the long-poll queues are full");
        }
        let queue = queues.map.entry(id.to_owned()).or_default();
        queue.waiting += 1;
        Arc::clone(&queue.notify)
    };
    let waiting = Waiting {
        bench: Arc::clone(&ctx.bench),
        id: id.to_owned(),
    };
    let hold = Duration::from_millis(ctx.shared.config.poll_hold_ms);
    let deadline = tokio::time::Instant::now() + hold;
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        // Registered before the queue is checked, so a post in between is not missed.
        notified.as_mut().enable();
        {
            let mut queues = ctx.bench.queues();
            let queued = queues.map.get(id).is_some_and(|q| !q.messages.is_empty());
            if queued {
                // Still counted as waiting, so the entry stays until `waiting` drops.
                let taken = queues.take(id);
                drop(queues);
                drop(waiting);
                return json_strings(&taken);
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            drop(waiting);
            return json_strings(&[]);
        }
    }
}

/// `200 application/json` with `items` as a JSON array of strings.
fn json_strings(items: &[String]) -> Response {
    let mut out = String::with_capacity(items.iter().map(|s| s.len() + 3).sum::<usize>() + 2);
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, item);
    }
    out.push(']');
    json(out)
}

/// `200 application/json` with `body`.
fn json(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Appends `s` as a JSON string literal.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `GET {base}/bench/stats`.
async fn stats(State(ctx): State<Ctx>) -> Response {
    let s = ctx.shared.stats();
    json(format!(
        "{{\"sessions\":{},\"attached\":{},\"connections\":{},\"streams\":{},\"handshakes\":{},\"polls\":{},\"posts\":{}}}",
        s.sessions, s.attached, s.connections, s.streams, s.handshakes, s.polls, s.posts
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)] // a failing test may panic
mod tests {
    use super::event;
    use crate::{router, DemoApp, ServerConfig};
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::Router;
    use futures_util::StreamExt;
    use std::sync::Arc;
    use std::time::Duration;
    use tower::ServiceExt;

    const LOCAL: &str = "http://127.0.0.1:5173";

    fn bench_router(poll_hold_ms: u64) -> Router {
        let config = ServerConfig {
            bench: true,
            poll_hold_ms,
            ..ServerConfig::default()
        };
        router(config, Arc::new(DemoApp::new())).0
    }

    async fn call(app: &Router, method: &str, uri: &str, body: &str) -> axum::response::Response {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("origin", LOCAL)
            .header("content-type", "text/plain")
            .body(Body::from(body.to_owned()))
            .unwrap();
        app.clone().oneshot(req).await.unwrap()
    }

    async fn text(answer: axum::response::Response) -> String {
        let bytes = axum::body::to_bytes(answer.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn an_event_has_one_data_line_per_line() {
        assert_eq!(&event("hi")[..], b"data: hi\n\n");
        assert_eq!(
            &event("a\nb\r\nc\rd")[..],
            b"data: a\ndata: b\ndata: c\ndata: d\n\n"
        );
        assert_eq!(&event("")[..], b"data: \n\n");
    }

    #[tokio::test]
    async fn sse_echo_streams_each_post_as_one_event() {
        let app = bench_router(25_000);
        let answer = call(&app, "GET", "/holdfast/bench/sse?id=s1", "").await;
        assert_eq!(answer.status(), StatusCode::OK);
        let headers = answer.headers();
        assert_eq!(headers["content-type"], "text/event-stream");
        assert_eq!(headers["access-control-allow-origin"], LOCAL);
        let mut body = answer.into_body().into_data_stream();
        assert_eq!(&body.next().await.unwrap().unwrap()[..], b":ok\n\n");

        let posted = call(&app, "POST", "/holdfast/bench/post?id=s1", "hello").await;
        assert_eq!(posted.status(), StatusCode::NO_CONTENT);
        assert_eq!(posted.headers()["access-control-allow-origin"], LOCAL);
        let posted = call(&app, "POST", "/holdfast/bench/post?id=s1", "two\nlines").await;
        assert_eq!(posted.status(), StatusCode::NO_CONTENT);
        let mut got = String::new();
        while got.len() < "data: hello\n\ndata: two\ndata: lines\n\n".len() {
            let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            got.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        assert_eq!(got, "data: hello\n\ndata: two\ndata: lines\n\n");

        // No stream for that id, a bad id, a foreign page.
        let none = call(&app, "POST", "/holdfast/bench/post?id=other", "x").await;
        assert_eq!(none.status(), StatusCode::GONE);
        let bad = call(&app, "POST", "/holdfast/bench/post?id=a%20b", "x").await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let foreign = Request::builder()
            .method("GET")
            .uri("/holdfast/bench/sse?id=s2")
            .header("origin", "http://evil.example")
            .body(Body::empty())
            .unwrap();
        let foreign = app.clone().oneshot(foreign).await.unwrap();
        assert_eq!(foreign.status(), StatusCode::FORBIDDEN);

        // A newer stream for the same id ends the older one and gets the posts.
        let newer = call(&app, "GET", "/holdfast/bench/sse?id=s1", "").await;
        let mut newer = newer.into_body().into_data_stream();
        assert_eq!(&newer.next().await.unwrap().unwrap()[..], b":ok\n\n");
        let ended = tokio::time::timeout(Duration::from_secs(5), body.next()).await;
        assert!(matches!(ended, Ok(None)), "the older stream ends");
        assert_eq!(
            call(&app, "POST", "/holdfast/bench/post?id=s1", "3")
                .await
                .status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(&newer.next().await.unwrap().unwrap()[..], b"data: 3\n\n");

        // A closed stream unregisters: posts to it are 410.
        drop(newer);
        let gone = call(&app, "POST", "/holdfast/bench/post?id=s1", "4").await;
        assert_eq!(gone.status(), StatusCode::GONE);
    }

    #[tokio::test]
    async fn long_poll_echo_answers_at_once_or_holds() {
        let app = bench_router(300);
        for body in ["one", "say \"two\"\n"] {
            let posted = call(&app, "POST", "/holdfast/bench/lp?id=q", body).await;
            assert_eq!(posted.status(), StatusCode::NO_CONTENT);
        }
        let answer = call(&app, "GET", "/holdfast/bench/lp?id=q", "").await;
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(answer.headers()["content-type"], "application/json");
        assert_eq!(answer.headers()["access-control-allow-origin"], LOCAL);
        assert_eq!(text(answer).await, r#"["one","say \"two\"\n"]"#);

        // Nothing queued: held for the hold time, then [].
        let started = tokio::time::Instant::now();
        let empty = call(&app, "GET", "/holdfast/bench/lp?id=q", "").await;
        assert!(started.elapsed() >= Duration::from_millis(250));
        assert_eq!(text(empty).await, "[]");

        // A held GET is answered as soon as a message arrives.
        let held = {
            let app = app.clone();
            tokio::spawn(async move {
                text(call(&app, "GET", "/holdfast/bench/lp?id=h", "").await).await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!held.is_finished());
        let posted = call(&app, "POST", "/holdfast/bench/lp?id=h", "three").await;
        assert_eq!(posted.status(), StatusCode::NO_CONTENT);
        let got = tokio::time::timeout(Duration::from_millis(200), held)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, r#"["three"]"#);

        let bad = call(&app, "GET", "/holdfast/bench/lp", "").await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn stats_report_the_counters() {
        let app = bench_router(25_000);
        let answer = call(&app, "GET", "/holdfast/bench/stats", "").await;
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(
            text(answer).await,
            r#"{"sessions":0,"attached":0,"connections":0,"streams":0,"handshakes":0,"polls":0,"posts":0}"#
        );
    }

    #[tokio::test]
    async fn bench_routes_are_off_without_the_flag() {
        let (app, _) = router(ServerConfig::default(), Arc::new(DemoApp::new()));
        for uri in ["/holdfast/bench/stats", "/holdfast/bench/sse?id=a"] {
            assert_eq!(
                call(&app, "GET", uri, "").await.status(),
                StatusCode::NOT_FOUND
            );
        }
    }
}
