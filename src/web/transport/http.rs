//! The three HTTP transports (PROTOCOL.md §8.2–§8.5): SSE via `EventSource`, long and short
//! polling via global `fetch`, and the `POST {base}/send` upstream they share.
//!
//! Nothing here decides anything: the core says when to POST (one in flight), when to poll
//! (never two at once) and what a body means; this file only turns those actions into requests
//! and their answers into inputs.
//!
//! Ownership: an [`HttpTransport`] owns its `EventSource` (listeners detached and the stream
//! closed on drop) and an `AbortController` that aborts the poll-open request and every poll on
//! drop. POSTs are the exception, on purpose: like bytes handed to `WebSocket.send`, a POST
//! handed over is allowed to finish after the transport is dropped (a close's CLOSE frame or
//! the last ACK still reaches the server), one after another in order. While the transport is
//! live the core's send deadline judges a POST (it knows about frozen pages, a browser timer
//! does not: `AbortSignal.timeout` counts the time a page was frozen); from the drop on, each is
//! bounded by a timeout signal so a black hole cannot keep them forever. Answers that arrive
//! after the drop are not reported.

use super::websocket::js_message;
use crate::config::TransportKind;
use crate::core::{ConnId, Input, Payload, TransportError};
use crate::endpoint::{http_url, retry_after_ms};
use crate::protocol::{encode_base64url, push_batch_entry};
use crate::web::counts::{bump, Kind};
use crate::web::listener::Listener;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{AbortController, AbortSignal, EventSource, RequestInit, RequestRedirect, Response};

#[wasm_bindgen]
extern "C" {
    // The global `fetch`, so the transports work in workers as well as windows.
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str, init: &RequestInit) -> js_sys::Promise;

    // `Response.body`'s stream and its reader, bound here rather than through web-sys's stream
    // types (a bounded read needs four members). None of them throws: the body is fresh (not
    // locked or read), and `read` / `cancel` report through their promises.
    type BodyStream;
    #[wasm_bindgen(method, getter = body)]
    fn stream_of(this: &FetchResponse) -> Option<BodyStream>;
    #[wasm_bindgen(extends = Response)]
    type FetchResponse;
    #[wasm_bindgen(method, js_name = getReader)]
    fn get_reader(this: &BodyStream) -> BodyReader;
    type BodyReader;
    #[wasm_bindgen(method)]
    fn read(this: &BodyReader) -> js_sys::Promise;
    #[wasm_bindgen(method)]
    fn cancel(this: &BodyReader) -> js_sys::Promise;
    // What `read` resolves to.
    type ReadChunk;
    #[wasm_bindgen(method, getter)]
    fn done(this: &ReadChunk) -> bool;
    #[wasm_bindgen(method, getter)]
    fn value(this: &ReadChunk) -> Option<js_sys::Uint8Array>;
}

type Sink = Rc<dyn Fn(Input)>;

/// The core's size limits for what a transport reads (`Machine::max_inbound_bytes` and
/// `Machine::max_answer_bytes`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Largest single frame.
    pub(crate) frame: usize,
    /// Largest answer body.
    pub(crate) answer: usize,
}

/// One HTTP connection attempt and everything it owns.
pub(crate) struct HttpTransport {
    inner: Rc<Inner>,
    // The stream and its three listeners (SSE only); dropped before the stream is closed.
    _stream: Option<Stream>,
}

struct Stream {
    source: EventSource,
    _listeners: [Option<Listener>; 3],
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.source.close();
        bump(Kind::Socket, -1);
    }
}

/// The POST in flight: its abort, and the timeout that triggers it, armed once the transport is
/// dropped.
struct InFlight {
    abort: AbortController,
    deadline: Option<Listener>,
}

struct Inner {
    conn: ConnId,
    kind: TransportKind,
    base: String,
    sink: Sink,
    /// Aborts the poll-open request and the polls.
    polls: AbortController,
    /// POST bodies waiting for the one before them, with their URL.
    posts: RefCell<VecDeque<(String, Vec<u8>)>>,
    posting: Cell<bool>,
    /// The POST in flight, if any.
    in_flight: RefCell<Option<InFlight>>,
    /// Longest a POST may take after the drop.
    post_timeout_ms: u32,
    /// The core's size limits: the largest frame (an SSE event carries one) and the largest
    /// answer body; larger ones are refused before they are copied into wasm.
    limits: Limits,
    /// The transport was dropped: answers are no longer reported.
    dropped: Cell<bool>,
}

impl HttpTransport {
    /// Opens `kind` against the app's `base` URL as connection `conn`, carrying the encoded
    /// `hello`: an `EventSource` on `{base}/sse?hello=…`, or `POST {base}/poll/open`.
    pub(crate) fn open(
        base: &str,
        kind: TransportKind,
        conn: ConnId,
        hello: &[u8],
        post_timeout_ms: u64,
        limits: Limits,
        sink: impl Fn(Input) + 'static,
    ) -> Result<HttpTransport, String> {
        let polls = AbortController::new().map_err(|e| js_message(&e))?;
        let inner = Rc::new(Inner {
            conn,
            kind,
            base: base.to_owned(),
            sink: Rc::new(sink),
            polls,
            posts: RefCell::new(VecDeque::new()),
            posting: Cell::new(false),
            in_flight: RefCell::new(None),
            post_timeout_ms: u32::try_from(post_timeout_ms).unwrap_or(u32::MAX),
            limits,
            dropped: Cell::new(false),
        });
        let stream = match kind {
            TransportKind::Sse => Some(open_stream(&inner, hello)?),
            _ => {
                open_poll(&inner, hello)?;
                None
            }
        };
        Ok(HttpTransport {
            inner,
            _stream: stream,
        })
    }

    /// Queues one `POST {base}/send?session=…` with `body`; POSTs go out one after another.
    pub(crate) fn post(&self, session: &str, body: Vec<u8>) {
        let inner = &self.inner;
        match http_url(&inner.base, "send", &[("session", session)]) {
            Ok(url) => {
                inner.posts.borrow_mut().push_back((url, body));
                if !inner.posting.get() {
                    spawn_local(drain_posts(Rc::clone(inner)));
                }
            }
            Err(msg) => inner.report(Input::Failed {
                conn: inner.conn,
                error: TransportError::Url(msg),
            }),
        }
    }

    /// Issues one `GET {base}/poll?session=…&cursor=…` (with `hold=0` for short polling).
    pub(crate) fn poll(&self, session: &str, cursor: u64) {
        let inner = Rc::clone(&self.inner);
        let cursor = crate::text::dec(cursor);
        let mut params = vec![("session", session), ("cursor", cursor.as_str())];
        if inner.kind == TransportKind::Polling {
            params.push(("hold", "0"));
        }
        let url = match http_url(&inner.base, "poll", &params) {
            Ok(url) => url,
            Err(msg) => {
                return inner.report(Input::Failed {
                    conn: inner.conn,
                    error: TransportError::Url(msg),
                })
            }
        };
        let init = request("GET", None, Some(&inner.polls.signal()));
        spawn_local(async move {
            let conn = inner.conn;
            let input = match fetch(&url, &init, inner.limits.answer).await {
                Ok((200, body, _)) => Input::Polled { conn, body },
                // A gateway that gave up on a held poll: an empty answer (PROTOCOL.md §8.4).
                Ok((504, _, _)) => Input::Polled { conn, body: vec![] },
                Ok((status, _, retry_after_ms)) => Input::Failed {
                    conn,
                    error: TransportError::Http {
                        status,
                        retry_after_ms,
                    },
                },
                Err(msg) => Input::Failed {
                    conn,
                    error: TransportError::Network(msg),
                },
            };
            inner.report(input);
        });
    }
}

impl Drop for HttpTransport {
    fn drop(&mut self) {
        let inner = &self.inner;
        inner.dropped.set(true);
        inner.polls.abort();
        // The POST in flight may finish, within the timeout.
        let abort = inner
            .in_flight
            .borrow()
            .as_ref()
            .map(|post| post.abort.clone());
        if let Some(abort) = abort {
            let timeout = AbortSignal::timeout_with_u32(inner.post_timeout_ms);
            let deadline = Listener::new(timeout.as_ref(), "abort", move |_| abort.abort());
            if let Some(post) = inner.in_flight.borrow_mut().as_mut() {
                post.deadline = deadline;
            }
        }
    }
}

impl Inner {
    /// Feeds `input` to the client unless the transport is gone.
    fn report(&self, input: Input) {
        if !self.dropped.get() {
            (self.sink)(input);
        }
    }
}

/// The SSE downstream: `open` → `Opened`, each event → `Received` (its base64 text), the first
/// `error` → the stream is closed at once (no browser retry racing our backoff) and reported.
fn open_stream(inner: &Rc<Inner>, hello: &[u8]) -> Result<Stream, String> {
    let url = http_url(&inner.base, "sse", &[("hello", &encode_base64url(hello))])?;
    let source = EventSource::new(&url).map_err(|e| js_message(&e))?;
    bump(Kind::Socket, 1);
    let target: &web_sys::EventTarget = source.as_ref();
    let conn = inner.conn;
    let sink = Rc::clone(&inner.sink);
    let open = Listener::new(target, "open", move |_| sink(Input::Opened { conn }));
    let sink = Rc::clone(&inner.sink);
    // One event is one frame in base64: 4 characters per 3 bytes.
    let max_text = inner.limits.frame.div_ceil(3).saturating_mul(4);
    let message = Listener::new(target, "message", move |e| {
        let Some(data) = e.dyn_ref::<web_sys::MessageEvent>().map(|m| m.data()) else {
            return;
        };
        let size = data
            .dyn_ref::<js_sys::JsString>()
            .map_or(0, |t| t.length() as usize);
        if size > max_text {
            return sink(Input::Oversized { conn, size });
        }
        if let Some(text) = data.as_string() {
            sink(Input::Received {
                conn,
                payload: Payload::Text(text),
            });
        }
    });
    let sink = Rc::clone(&inner.sink);
    let es = source.clone();
    let error = Listener::new(target, "error", move |_| {
        es.close();
        sink(Input::Failed {
            conn,
            error: TransportError::Network("event stream failed or was refused".into()),
        });
    });
    Ok(Stream {
        source,
        _listeners: [open, message, error],
    })
}

/// The polling handshake: `POST {base}/poll/open` with HELLO; a `200` is `Opened` and its body
/// the first poll answer (WELCOME).
fn open_poll(inner: &Rc<Inner>, hello: &[u8]) -> Result<(), String> {
    let url = http_url(&inner.base, "poll/open", &[])?;
    let mut body = Vec::with_capacity(hello.len() + 4);
    push_batch_entry(&mut body, hello);
    let init = request("POST", Some(body), Some(&inner.polls.signal()));
    let inner = Rc::clone(inner);
    spawn_local(async move {
        let conn = inner.conn;
        match fetch(&url, &init, inner.limits.answer).await {
            Ok((200, body, _)) => {
                inner.report(Input::Opened { conn });
                inner.report(Input::Polled { conn, body });
            }
            Ok((status, _, retry_after_ms)) => inner.report(Input::Failed {
                conn,
                error: TransportError::Http {
                    status,
                    retry_after_ms,
                },
            }),
            Err(msg) => inner.report(Input::Failed {
                conn,
                error: TransportError::Network(msg),
            }),
        }
    });
    Ok(())
}

/// Sends the queued POSTs one after another. A failure is reported and drops the rest: the
/// connection is over and the resume resends what may not have arrived.
async fn drain_posts(inner: Rc<Inner>) {
    inner.posting.set(true);
    loop {
        let next = inner.posts.borrow_mut().pop_front();
        let Some((url, body)) = next else { break };
        let signal = match AbortController::new() {
            Ok(abort) if !inner.dropped.get() => {
                let signal = abort.signal();
                *inner.in_flight.borrow_mut() = Some(InFlight {
                    abort,
                    deadline: None,
                });
                signal
            }
            _ => AbortSignal::timeout_with_u32(inner.post_timeout_ms),
        };
        let init = request("POST", Some(body), Some(&signal));
        let conn = inner.conn;
        let answer = fetch(&url, &init, inner.limits.answer).await;
        // Taken out of its cell before it is dropped (its listener detaches through JS).
        let done = inner.in_flight.borrow_mut().take();
        drop(done);
        let failed = match answer {
            Ok((status, _, _)) if (200..300).contains(&status) => {
                inner.report(Input::Sent { conn });
                None
            }
            Ok((status, _, retry_after_ms)) => Some(TransportError::Http {
                status,
                retry_after_ms,
            }),
            Err(msg) => Some(TransportError::Network(msg)),
        };
        if let Some(error) = failed {
            inner.posts.borrow_mut().clear();
            inner.report(Input::Failed { conn, error });
            break;
        }
    }
    inner.posting.set(false);
}

fn request(method: &str, body: Option<Vec<u8>>, signal: Option<&AbortSignal>) -> RequestInit {
    let init = RequestInit::new();
    init.set_method(method);
    // No Content-Type: a CORS "simple request", so no preflight (PROTOCOL.md §8.2).
    if let Some(body) = body {
        init.set_body(&js_sys::Uint8Array::from(body.as_slice()));
    }
    // Never follow a redirect: a token in the URL must not travel to another origin.
    init.set_redirect(RequestRedirect::Error);
    init.set_signal(signal);
    init
}

/// Runs one fetch: `(status, body, Retry-After in ms)`, or the network error's message.
/// A body over `max_body` bytes is an error, found before it is copied into wasm and before
/// more of it is downloaded (an endless body ends there).
async fn fetch(
    url: &str,
    init: &RequestInit,
    max_body: usize,
) -> Result<(u16, Vec<u8>, Option<u64>), String> {
    bump(Kind::Request, 1);
    let result = fetch_inner(url, init, max_body).await;
    bump(Kind::Request, -1);
    result
}

async fn fetch_inner(
    url: &str,
    init: &RequestInit,
    max_body: usize,
) -> Result<(u16, Vec<u8>, Option<u64>), String> {
    let response = JsFuture::from(global_fetch(url, init))
        .await
        .map_err(|e| js_message(&e))?;
    let response: Response = response
        .dyn_into()
        .map_err(|_| "fetch resolved to something that is not a Response".to_owned())?;
    let status = response.status();
    let retry_after = header(&response, "retry-after").and_then(|v| retry_after_ms(&v));
    let body = read_bounded(&response, max_body).await?;
    Ok((status, body, retry_after))
}

/// Header `name` of `response`, if it has one.
fn header(response: &Response, name: &str) -> Option<String> {
    response.headers().get(name).ok().flatten()
}

/// Reads `response`'s body chunk by chunk, keeping the chunks in JS, and copies it into wasm
/// once it is complete. A body announced (`Content-Length`) or found to be over `max_body` bytes
/// is cancelled at once: nothing more is downloaded, and nothing of it reaches wasm memory.
async fn read_bounded(response: &Response, max_body: usize) -> Result<Vec<u8>, String> {
    let over = |at_least: &str, size: u64| {
        [
            "answer of ",
            at_least,
            &crate::text::dec(size),
            " bytes is over the ",
            &crate::text::dec(max_body as u64),
            "-byte limit",
        ]
        .concat()
    };
    let Some(stream) = response.unchecked_ref::<FetchResponse>().stream_of() else {
        return Ok(Vec::new());
    };
    let reader = stream.get_reader();
    let announced = header(response, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(size) = announced.filter(|&size| size > max_body as u64) {
        cancel(&reader);
        return Err(over("", size));
    }
    let whole = js_sys::Array::new();
    let mut total: usize = 0;
    loop {
        let step: ReadChunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| js_message(&e))?
            .unchecked_into();
        if step.done() {
            break;
        }
        // A fetch body's chunks are always `Uint8Array`s.
        let Some(chunk) = step.value() else { break };
        total = total.saturating_add(chunk.length() as usize);
        if total > max_body {
            cancel(&reader);
            return Err(over("at least ", total as u64));
        }
        whole.push(&chunk);
    }
    // Joined in JS, then copied into wasm once.
    let body = js_sys::Uint8Array::new_with_length(total as u32);
    let mut at: u32 = 0;
    for chunk in whole.iter() {
        let chunk: js_sys::Uint8Array = chunk.unchecked_into();
        body.set(&chunk, at);
        at = at.saturating_add(chunk.length());
    }
    Ok(body.to_vec())
}

/// Cancels a body's download; its promise is awaited so that a rejection is not reported as
/// unhandled.
fn cancel(reader: &BodyReader) {
    let cancelled = JsFuture::from(reader.cancel());
    spawn_local(async move {
        let _ = cancelled.await;
    });
}
