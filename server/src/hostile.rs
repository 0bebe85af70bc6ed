//! Hostile mode (only with `--faults` or `--test-profile`): a server that speaks the holdfast
//! protocol correctly up to a point and then sends crafted bad input, per case, for the client's
//! browser tests (`tests/browser/hostile.rs`, TESTING.md "Hostile server input (client)").
//!
//! A client under test is pointed at `{server}/_hostile/<case>/<run>` as its base URL, so every
//! transport's URL (PROTOCOL.md §8: `/ws`, `/sse`, `/send`, `/poll/open`, `/poll`; raw mode uses
//! the base itself) lands here. `<run>` is any token the test picks per client: the server counts
//! connections per `(case, run)`. The **first** connection of a run gets the case's script; every
//! later one (a reconnect, a fallback to another transport) gets a good handshake and the text
//! message `recovered`, so a test can tell the documented recovery happened. Cases that expect
//! the client to stay on its connection end their script with the good text message `after`
//! (the next sequence number), so a test can tell the bad input did not break the session.
//!
//! Unlike the real routes these share no session state: each answer is computed from the case,
//! the HELLO the client sent and the counters. The good parts use `holdfast::protocol`'s
//! encoders; the bad parts are written byte by byte.
//!
//! `GET /_hostile/<case>/<run>/stats` answers the run's counters as JSON (`conns`, `ws`, `sse`,
//! `opens`, `polls`, `posts`, `pings`, `redirect_hits`), with `Access-Control-Allow-Origin: *`.

use axum::body::{Body, Bytes};
use axum::extract::ws::{CloseFrame as WsClose, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use holdfast::protocol::{
    decode, decode_base64, encode, encode_base64, split_batch, CloseFrame, Decoded, ErrorCode,
    ErrorFrame, Frame, Hello, Limits, ResumeOutcome, Welcome, MAX_SEQ,
};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{sleep, timeout, Instant};

/// Which route a case's bad input travels on (the rest of its run may use others).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    /// `{base}/ws`: WebSocket frames and the handshake over WebSocket.
    WebSocket,
    /// `{base}` itself, raw mode (`protocol: "raw"`).
    Raw,
    /// `{base}/sse`: the event stream.
    Sse,
    /// `{base}/poll/open`, `{base}/poll` and `{base}/send`, held (long polling).
    LongPolling,
    /// The same, `hold=0` (short polling).
    Polling,
}

/// Every case, by name, with the route its bad input travels on.
pub const CASES: &[(&str, On)] = &[
    // --- WebSocket: frames (the connection goes on; `after` arrives)
    ("ws-text-message", On::WebSocket),
    ("ws-text-json", On::WebSocket),
    ("ws-text-base64-frame", On::WebSocket),
    ("ws-text-utf16-heavy", On::WebSocket),
    ("ws-empty-binary", On::WebSocket),
    ("ws-unknown-type-0", On::WebSocket),
    ("ws-unknown-type-0x0a", On::WebSocket),
    ("ws-unknown-type-0xff", On::WebSocket),
    ("ws-unknown-type-large", On::WebSocket),
    ("ws-text-no-seq", On::WebSocket),
    ("ws-text-truncated-varint", On::WebSocket),
    ("ws-text-varint-11-bytes", On::WebSocket),
    ("ws-text-varint-10th-byte-2", On::WebSocket),
    ("ws-text-invalid-utf8", On::WebSocket),
    ("ws-text-overlong-utf8", On::WebSocket),
    ("ws-text-surrogate-utf8", On::WebSocket),
    ("ws-text-truncated-utf8", On::WebSocket),
    ("ws-binary-no-seq", On::WebSocket),
    ("ws-ping-no-id", On::WebSocket),
    ("ws-ping-varint-overflow", On::WebSocket),
    ("ws-ping-u64-max", On::WebSocket),
    ("ws-pong-unknown-id", On::WebSocket),
    ("ws-pong-u64-max", On::WebSocket),
    ("ws-ack-u64-max", On::WebSocket),
    ("ws-ack-ahead", On::WebSocket),
    ("ws-ack-truncated", On::WebSocket),
    ("ws-close-code-5000", On::WebSocket),
    ("ws-close-code-u64-max", On::WebSocket),
    ("ws-close-reason-124-bytes", On::WebSocket),
    ("ws-close-reason-invalid-utf8", On::WebSocket),
    ("ws-close-truncated", On::WebSocket),
    ("ws-close-reason-beyond-frame", On::WebSocket),
    ("ws-error-unknown-code", On::WebSocket),
    ("ws-error-code-u64-max", On::WebSocket),
    ("ws-error-bad-frame", On::WebSocket),
    ("ws-error-session-unknown", On::WebSocket),
    ("ws-error-message-1025-bytes", On::WebSocket),
    ("ws-error-truncated", On::WebSocket),
    ("ws-hello-from-server", On::WebSocket),
    ("ws-second-welcome", On::WebSocket),
    ("ws-welcome-other-session-when-open", On::WebSocket),
    ("ws-payload-over-limit", On::WebSocket),
    ("ws-payload-at-limit", On::WebSocket),
    ("ws-oversized-binary", On::WebSocket),
    ("ws-oversized-text", On::WebSocket),
    ("ws-oversized-20mb", On::WebSocket),
    ("ws-proto-keys", On::WebSocket),
    ("ws-welcome-trailing-bytes", On::WebSocket),
    ("ws-thousand-bad-frames", On::WebSocket),
    ("ws-binary-data", On::WebSocket),
    // --- sequence numbers
    ("seq-duplicate", On::WebSocket),
    ("seq-regression", On::WebSocket),
    ("seq-gap", On::WebSocket),
    ("seq-zero", On::WebSocket),
    ("seq-u64-max", On::WebSocket),
    ("seq-over-max-seq", On::WebSocket),
    ("seq-binary-u64-max", On::WebSocket),
    ("seq-max-seq-exact", On::WebSocket),
    ("seq-resend-after-resume", On::WebSocket),
    ("seq-resume-failed", On::WebSocket),
    ("seq-resume-other-session", On::WebSocket),
    ("seq-resume-new-same-id", On::WebSocket),
    // --- server-announced settings
    ("settings-ping-0", On::WebSocket),
    ("settings-idle-0", On::WebSocket),
    ("settings-idle-1", On::WebSocket),
    ("settings-all-zero", On::WebSocket),
    ("settings-all-u64-max", On::WebSocket),
    ("settings-ping-u64-max", On::WebSocket),
    ("settings-max-message-1", On::WebSocket),
    ("settings-max-message-u64-max", On::WebSocket),
    ("settings-ack-u64-max", On::WebSocket),
    // --- handshake over WebSocket
    ("hs-version-2", On::WebSocket),
    ("hs-version-0", On::WebSocket),
    ("hs-version-u64-max", On::WebSocket),
    ("hs-resume-byte-3", On::WebSocket),
    ("hs-session-empty", On::WebSocket),
    ("hs-session-slash", On::WebSocket),
    ("hs-session-query", On::WebSocket),
    ("hs-session-hash", On::WebSocket),
    ("hs-session-crlf", On::WebSocket),
    ("hs-session-space", On::WebSocket),
    ("hs-session-65-bytes", On::WebSocket),
    ("hs-session-non-ascii", On::WebSocket),
    ("hs-session-percent", On::WebSocket),
    ("hs-welcome-truncated", On::WebSocket),
    ("hs-welcome-varint-overflow", On::WebSocket),
    ("hs-error-version", On::WebSocket),
    ("hs-error-try-later-huge", On::WebSocket),
    ("hs-error-try-later-0", On::WebSocket),
    ("hs-error-forbidden", On::WebSocket),
    ("hs-close-4001", On::WebSocket),
    ("hs-close-1013", On::WebSocket),
    ("hs-data-before-welcome", On::WebSocket),
    ("hs-ping-before-welcome", On::WebSocket),
    ("hs-unknown-before-welcome", On::WebSocket),
    ("hs-no-welcome", On::WebSocket),
    ("hs-ws-close-before-welcome", On::WebSocket),
    ("hs-drop-before-welcome", On::WebSocket),
    ("hs-welcome-as-text", On::WebSocket),
    ("hs-upgrade-403", On::WebSocket),
    ("hs-welcome-too-late", On::WebSocket),
    ("ws-close-4500-after-open", On::WebSocket),
    ("ws-close-4000-after-open", On::WebSocket),
    ("ws-transport-close-4499", On::WebSocket),
    ("ws-transport-close-1002", On::WebSocket),
    ("ws-silent-after-open", On::WebSocket),
    // --- raw mode
    ("raw-oversized-binary", On::Raw),
    ("raw-oversized-text", On::Raw),
    ("raw-oversized-20mb", On::Raw),
    ("raw-at-limit", On::Raw),
    // --- SSE
    ("sse-no-content-type", On::Sse),
    ("sse-content-type-text-plain", On::Sse),
    ("sse-content-type-json", On::Sse),
    ("sse-content-type-charset", On::Sse),
    ("sse-status-204", On::Sse),
    ("sse-status-500", On::Sse),
    ("sse-status-503-retry-after", On::Sse),
    ("sse-status-404-html", On::Sse),
    ("sse-redirect-other-origin", On::Sse),
    ("sse-no-cors", On::Sse),
    ("sse-bom", On::Sse),
    ("sse-double-bom", On::Sse),
    ("sse-bom-mid-stream", On::Sse),
    ("sse-crlf", On::Sse),
    ("sse-cr-only", On::Sse),
    ("sse-mixed-eol", On::Sse),
    ("sse-crlf-split-chunks", On::Sse),
    ("sse-byte-chunks", On::Sse),
    ("sse-data-not-base64", On::Sse),
    ("sse-data-garbage-frame", On::Sse),
    ("sse-data-multiline", On::Sse),
    ("sse-data-two-spaces", On::Sse),
    ("sse-data-no-space", On::Sse),
    ("sse-named-event", On::Sse),
    ("sse-retry-garbage", On::Sse),
    ("sse-retry-zero-then-end", On::Sse),
    ("sse-long-comment", On::Sse),
    ("sse-long-data", On::Sse),
    ("sse-no-newline-megabytes", On::Sse),
    ("sse-end-after-welcome", On::Sse),
    ("sse-abort-mid-event", On::Sse),
    ("sse-empty-data", On::Sse),
    ("sse-invalid-utf8", On::Sse),
    ("sse-nul-in-data", On::Sse),
    ("sse-unknown-frame", On::Sse),
    ("sse-second-welcome", On::Sse),
    ("sse-seq-u64-max", On::Sse),
    ("sse-welcome-session-crlf", On::Sse),
    ("sse-welcome-version-2", On::Sse),
    ("sse-error-version", On::Sse),
    ("sse-gzip-lie", On::Sse),
    ("sse-comment-flood", On::Sse),
    // --- long polling
    ("lp-open-html-200", On::LongPolling),
    ("lp-open-502-html", On::LongPolling),
    ("lp-open-empty-200", On::LongPolling),
    ("lp-open-truncated-batch", On::LongPolling),
    ("lp-open-error-version", On::LongPolling),
    ("lp-open-welcome-session-slash", On::LongPolling),
    ("lp-open-redirect-other-origin", On::LongPolling),
    ("lp-open-no-cors", On::LongPolling),
    ("lp-open-429-retry-after-huge", On::LongPolling),
    ("lp-poll-empty-instant-loop", On::LongPolling),
    ("lp-poll-504-instant-loop", On::LongPolling),
    ("lp-poll-html-200-loop", On::LongPolling),
    ("lp-poll-502-html", On::LongPolling),
    ("lp-poll-truncated-batch", On::LongPolling),
    ("lp-poll-too-many-frames", On::LongPolling),
    ("lp-poll-frame-length-huge", On::LongPolling),
    ("lp-poll-length-varint-overflow", On::LongPolling),
    ("lp-poll-mixed-batch", On::LongPolling),
    ("lp-poll-endless-chunked", On::LongPolling),
    ("lp-poll-oversized-body", On::LongPolling),
    ("lp-poll-410", On::LongPolling),
    ("lp-poll-404", On::LongPolling),
    ("lp-poll-429-retry-after-huge", On::LongPolling),
    ("lp-poll-503-retry-after-date", On::LongPolling),
    ("lp-poll-503-retry-after-negative", On::LongPolling),
    ("lp-poll-503-retry-after-fraction", On::LongPolling),
    ("lp-poll-503-retry-after-garbage", On::LongPolling),
    ("lp-poll-redirect-other-origin", On::LongPolling),
    ("lp-poll-no-cors", On::LongPolling),
    ("lp-poll-wrong-content-type", On::LongPolling),
    ("lp-poll-after-close", On::LongPolling),
    ("lp-poll-seq-u64-max", On::LongPolling),
    ("lp-poll-gzip-lie", On::LongPolling),
    ("lp-poll-cut-mid-body", On::LongPolling),
    ("lp-send-500", On::LongPolling),
    ("lp-send-410", On::LongPolling),
    // --- short polling
    ("sp-empty-instant", On::Polling),
    ("sp-html-200", On::Polling),
    ("sp-truncated-batch", On::Polling),
    ("sp-429-retry-after-odd", On::Polling),
    ("sp-503-retry-after-huge", On::Polling),
    ("sp-410", On::Polling),
    ("sp-poll-after-close", On::Polling),
];

/// Whether `name` is a case.
pub fn is_case(name: &str) -> bool {
    CASES.iter().any(|(n, _)| *n == name)
}

/// The session id of the hostile server's good WELCOME.
const SESSION: &str = "hostile-s1";
/// Most runs remembered at once (the map is cleared beyond it).
const MAX_RUNS: usize = 10_000;
/// Longest any hostile answer or connection lives.
const LIFETIME: Duration = Duration::from_secs(60);

/// One run's counters.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    /// Connections of every kind (WebSocket upgrades, SSE streams, poll opens).
    conns: u32,
    ws: u32,
    sse: u32,
    opens: u32,
    /// Poll GETs since the last poll open.
    polls_since_open: u32,
    polls: u32,
    posts: u32,
    /// Client PINGs received (WebSocket messages and POSTed batches).
    pings: u32,
    /// Requests that reached a redirect target.
    redirect_hits: u32,
}

#[derive(Default)]
struct Runs(Mutex<HashMap<String, Run>>);

impl Runs {
    fn with<T>(&self, case: &str, run: &str, f: impl FnOnce(&mut Run) -> T) -> T {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_RUNS {
            map.clear();
        }
        f(map.entry([case, "/", run].concat()).or_default())
    }
}

type St = Arc<Runs>;

/// The hostile routes, for a router whose state is `S`.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/_hostile/{case}/{run}", get(raw))
        .route("/_hostile/{case}/{run}/ws", get(ws))
        .route("/_hostile/{case}/{run}/sse", get(sse))
        .route("/_hostile/{case}/{run}/send", post(send))
        .route("/_hostile/{case}/{run}/poll/open", post(poll_open))
        .route("/_hostile/{case}/{run}/poll", get(poll))
        .route("/_hostile/{case}/{run}/stats", get(stats))
        .route(
            "/_hostile/{case}/{run}/target/{*rest}",
            get(target).post(target),
        )
        .with_state(Arc::new(Runs::default()))
}

// ----- encoders ------------------------------------------------------------------------------

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn welcome(h: &Hello) -> Welcome {
    Welcome {
        version: 1,
        session: SESSION.to_owned(),
        resume: if h.session.is_some() {
            ResumeOutcome::Resumed
        } else {
            ResumeOutcome::New
        },
        ack: 0,
        ping_interval_ms: 1_000,
        idle_timeout_ms: 2_500,
        max_message_bytes: 1 << 20,
    }
}

fn wel(w: Welcome) -> Vec<u8> {
    encode(&Frame::Welcome(w))
}

/// A WELCOME encoded by hand: `version`, `session`, `resume` byte, then `ack`, ping, idle, max.
fn raw_welcome(version: u64, session: &[u8], resume: u8, rest: [u64; 4]) -> Vec<u8> {
    let mut out = vec![2];
    out.extend(varint(version));
    out.extend(varint(session.len() as u64));
    out.extend_from_slice(session);
    out.push(resume);
    for v in rest {
        out.extend(varint(v));
    }
    out
}

fn text(seq: u64, s: &str) -> Vec<u8> {
    encode(&Frame::Text {
        seq,
        text: s.to_owned(),
    })
}

fn error(code: u64, message: &str, retry_after_ms: u64) -> Vec<u8> {
    encode(&Frame::Error(ErrorFrame {
        code: ErrorCode::from_u64(code),
        message: message.to_owned(),
        retry_after_ms,
    }))
}

fn close(code: u16, reason: &str) -> Vec<u8> {
    encode(&Frame::Close(CloseFrame {
        code,
        reason: reason.to_owned(),
    }))
}

fn ping(id: u64) -> Vec<u8> {
    encode(&Frame::Ping { id })
}

fn batch(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        out.extend(varint(f.len() as u64));
        out.extend_from_slice(f);
    }
    out
}

/// One SSE event carrying `frame` as the real server writes it.
fn ev(frame: &[u8]) -> Vec<u8> {
    ["data: ", &encode_base64(frame), "\n\n"]
        .concat()
        .into_bytes()
}

/// The text the good connection ends with: `after` on the first connection of a run (the bad
/// input did not break it), `recovered` on a later one.
fn good(first: bool) -> &'static str {
    if first {
        "after"
    } else {
        "recovered"
    }
}

// ----- WebSocket -----------------------------------------------------------------------------

/// One step of a WebSocket script.
enum Step {
    Bin(Vec<u8>),
    Text(String),
    Sleep(u64),
    /// A WebSocket close with this code, then the end.
    WsClose(u16),
    /// Drop the socket (no close frame).
    Drop,
    /// Read and discard until the client goes: no answer to anything.
    Silent,
}

/// The script for a WebSocket connection of `case`, `first` of its run, that sent `h`.
fn ws_script(case: &str, first: bool, h: &Hello) -> Vec<Step> {
    use Step::*;
    let n = h.last_seq + 1;
    let w = || Bin(wel(welcome(h)));
    if !first && case != "hs-error-forbidden" {
        return match case {
            // The server resends what the client has not acknowledged (its ack is 0): the client
            // drops what it already delivered.
            "seq-resend-after-resume" => vec![
                w(),
                Bin(text(1, "a")),
                Bin(text(2, "b")),
                Bin(text(3, "recovered")),
            ],
            "seq-resume-failed" => vec![
                Bin(wel(Welcome {
                    session: "hostile-s2".into(),
                    resume: ResumeOutcome::Failed,
                    ..welcome(h)
                })),
                Bin(text(1, "recovered")),
            ],
            "seq-resume-other-session" => vec![
                Bin(wel(Welcome {
                    session: "hostile-other".into(),
                    resume: ResumeOutcome::Resumed,
                    ..welcome(h)
                })),
                Bin(text(1, "recovered")),
            ],
            "seq-resume-new-same-id" => vec![
                Bin(wel(Welcome {
                    resume: ResumeOutcome::New,
                    ..welcome(h)
                })),
                Bin(text(1, "recovered")),
            ],
            _ => vec![w(), Bin(text(n, "recovered"))],
        };
    }
    // WELCOME, the bad input, then `after` with the next seq.
    let inline = |bad: Vec<Step>| {
        let mut s = vec![w()];
        s.extend(bad);
        s.push(Bin(text(n, "after")));
        s
    };
    let bin = |b: Vec<u8>| inline(vec![Bin(b)]);
    let settings = |ping: u64, idle: u64, max: u64| {
        vec![
            Bin(wel(Welcome {
                ping_interval_ms: ping,
                idle_timeout_ms: idle,
                max_message_bytes: max,
                ..welcome(h)
            })),
            Bin(text(n, "after")),
        ]
    };
    // A handshake whose WELCOME is bad: the client's connect deadline (or its refusal) ends it.
    let bad_welcome = |b: Vec<u8>| vec![Bin(b), Sleep(5_000)];
    let session = |s: &[u8]| bad_welcome(raw_welcome(1, s, 0, [0, 1_000, 2_500, 1 << 20]));
    let ff = [0xffu8; 10];
    match case {
        "ws-text-message" => inline(vec![Text("hello".into())]),
        "ws-text-json" => inline(vec![Text(
            r#"{"type":"message","seq":1,"data":"x"}"#.into(),
        )]),
        "ws-text-base64-frame" => inline(vec![Text(encode_base64(&text(n, "as text")))]),
        // 40 000 UTF-16 units, 120 000 bytes of UTF-8.
        "ws-text-utf16-heavy" => inline(vec![Text("€".repeat(40_000))]),
        "ws-empty-binary" => bin(vec![]),
        "ws-unknown-type-0" => bin(vec![0]),
        "ws-unknown-type-0x0a" => bin(vec![0x0a, 1, 2, 3]),
        "ws-unknown-type-0xff" => bin(vec![0xff; 100]),
        "ws-unknown-type-large" => bin(cat(&[&[0x80], &vec![7u8; 32 * 1024]])),
        "ws-text-no-seq" => bin(vec![3]),
        "ws-text-truncated-varint" => bin(vec![3, 0x80]),
        "ws-text-varint-11-bytes" => bin(cat(&[&[3], &ff, &[1], b"x"])),
        "ws-text-varint-10th-byte-2" => bin(cat(&[&[3], &[0x80; 9], &[2], b"x"])),
        "ws-text-invalid-utf8" => bin(vec![3, 1, 0xff, 0xfe]),
        "ws-text-overlong-utf8" => bin(vec![3, 1, 0xc0, 0x80]),
        "ws-text-surrogate-utf8" => bin(vec![3, 1, 0xed, 0xa0, 0x80]),
        "ws-text-truncated-utf8" => bin(vec![3, 1, 0xe2, 0x82]),
        "ws-binary-no-seq" => bin(vec![4]),
        "ws-ping-no-id" => bin(vec![5]),
        "ws-ping-varint-overflow" => bin(cat(&[&[5], &ff, &[1]])),
        "ws-ping-u64-max" => bin(ping(u64::MAX)),
        "ws-pong-unknown-id" => bin(encode(&Frame::Pong { id: 424_242 })),
        "ws-pong-u64-max" => bin(encode(&Frame::Pong { id: u64::MAX })),
        "ws-ack-u64-max" => bin(encode(&Frame::Ack { seq: u64::MAX })),
        "ws-ack-ahead" => bin(encode(&Frame::Ack { seq: 1_000 })),
        "ws-ack-truncated" => bin(vec![7]),
        "ws-close-code-5000" => bin(cat(&[&[8], &varint(5_000), &[0]])),
        "ws-close-code-u64-max" => bin(cat(&[&[8], &varint(u64::MAX), &[0]])),
        "ws-close-reason-124-bytes" => bin(cat(&[&[8], &varint(1_000), &[124], &[b'r'; 124]])),
        "ws-close-reason-invalid-utf8" => bin(cat(&[&[8], &varint(1_000), &[2, 0xff, 0xff]])),
        "ws-close-truncated" => bin(vec![8]),
        "ws-close-reason-beyond-frame" => bin(cat(&[&[8], &varint(1_000), &[5], b"a"])),
        "ws-error-unknown-code" => bin(error(99, "odd", 0)),
        "ws-error-code-u64-max" => bin(error(u64::MAX, "odd", 0)),
        "ws-error-bad-frame" => bin(error(1, "your frame was bad", 0)),
        "ws-error-session-unknown" => bin(error(4, "who are you", 0)),
        "ws-error-message-1025-bytes" => bin(cat(&[&[9, 1], &varint(1_025), &[b'm'; 1_025], &[0]])),
        "ws-error-truncated" => bin(vec![9, 1]),
        "ws-hello-from-server" => bin(encode(&Frame::Hello(h.clone()))),
        "ws-second-welcome" => bin(wel(welcome(h))),
        "ws-welcome-other-session-when-open" => bin(wel(Welcome {
            session: "someone-else".into(),
            ..welcome(h)
        })),
        // The client's maxMessageBytes is 65536 in the tests: the frame fits what the transport
        // reads (limit + 16), its payload does not.
        "ws-payload-over-limit" => bin(text(n, &"x".repeat(65_541))),
        "ws-payload-at-limit" => vec![
            w(),
            Bin(text(n, &"x".repeat(65_536))),
            Bin(text(n + 1, "after")),
        ],
        "ws-oversized-binary" => bin(vec![4; 100_000]),
        "ws-oversized-text" => inline(vec![Text("y".repeat(100_000))]),
        "ws-oversized-20mb" => bin(vec![4; 20 << 20]),
        "ws-proto-keys" => vec![
            w(),
            Bin(text(
                n,
                r#"{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}"#,
            )),
            Bin(text(n + 1, "after")),
        ],
        "ws-welcome-trailing-bytes" => vec![
            Bin(cat(&[&wel(welcome(h)), &[0xde, 0xad, 0xbe, 0xef]])),
            Bin(text(n, "after")),
        ],
        "ws-thousand-bad-frames" => inline((0..1_000).map(|_| Bin(vec![3, 1, 0xff])).collect()),
        "ws-binary-data" => vec![
            w(),
            Bin(encode(&Frame::Binary {
                seq: n,
                data: vec![1, 2, 3],
            })),
            Bin(text(n + 1, "after")),
        ],
        // --- sequence numbers
        "seq-duplicate" => vec![
            w(),
            Bin(text(1, "a")),
            Bin(text(1, "dup")),
            Bin(text(2, "after")),
        ],
        "seq-regression" => vec![
            w(),
            Bin(text(1, "a")),
            Bin(text(2, "b")),
            Bin(text(1, "old")),
            Bin(text(3, "after")),
        ],
        "seq-gap" => vec![
            w(),
            Bin(text(1, "a")),
            Bin(text(5, "b")),
            Bin(text(6, "after")),
        ],
        "seq-zero" => vec![w(), Bin(text(0, "zero")), Bin(text(1, "after"))],
        "seq-u64-max" => vec![w(), Bin(text(u64::MAX, "evil")), Bin(text(1, "after"))],
        "seq-over-max-seq" => vec![w(), Bin(text(MAX_SEQ + 1, "evil")), Bin(text(1, "after"))],
        "seq-binary-u64-max" => vec![
            w(),
            Bin(encode(&Frame::Binary {
                seq: u64::MAX,
                data: vec![6, 6, 6],
            })),
            Bin(text(1, "after")),
        ],
        "seq-max-seq-exact" => vec![w(), Bin(text(1, "a")), Bin(text(MAX_SEQ, "max"))],
        "seq-resend-after-resume"
        | "seq-resume-failed"
        | "seq-resume-other-session"
        | "seq-resume-new-same-id" => {
            vec![w(), Bin(text(1, "a")), Bin(text(2, "b")), Sleep(100), Drop]
        }
        // --- settings
        "settings-ping-0" => settings(0, 2_500, 1 << 20),
        "settings-idle-0" => settings(1_000, 0, 1 << 20),
        "settings-idle-1" => settings(1_000, 1, 1 << 20),
        "settings-all-zero" => settings(0, 0, 0),
        "settings-all-u64-max" => settings(u64::MAX, u64::MAX, u64::MAX),
        "settings-ping-u64-max" => settings(u64::MAX, 2_500, 1 << 20),
        "settings-max-message-1" => settings(1_000, 2_500, 1),
        "settings-max-message-u64-max" => settings(1_000, 2_500, u64::MAX),
        "settings-ack-u64-max" => vec![
            Bin(wel(Welcome {
                ack: u64::MAX,
                ..welcome(h)
            })),
            Bin(text(n, "after")),
        ],
        // --- handshake
        "hs-version-2" => vec![Bin(wel(Welcome {
            version: 2,
            ..welcome(h)
        }))],
        "hs-version-0" => vec![Bin(wel(Welcome {
            version: 0,
            ..welcome(h)
        }))],
        "hs-version-u64-max" => vec![Bin(wel(Welcome {
            version: u64::MAX,
            ..welcome(h)
        }))],
        "hs-resume-byte-3" => bad_welcome(raw_welcome(
            1,
            SESSION.as_bytes(),
            3,
            [0, 1_000, 2_500, 1 << 20],
        )),
        "hs-session-empty" => session(b""),
        "hs-session-slash" => session(b"a/b"),
        "hs-session-query" => session(b"a?b=c"),
        "hs-session-hash" => session(b"a#b"),
        "hs-session-crlf" => session(b"a\r\nSet-Cookie: x=1"),
        "hs-session-space" => session(b"a b"),
        "hs-session-65-bytes" => session(&[b's'; 65]),
        "hs-session-non-ascii" => session("s\u{e9}ance".as_bytes()),
        "hs-session-percent" => session(b"a%2F..%2F"),
        "hs-welcome-truncated" => {
            let full = wel(welcome(h));
            bad_welcome(full.get(..full.len() - 2).unwrap_or_default().to_vec())
        }
        "hs-welcome-varint-overflow" => bad_welcome(cat(&[
            &[2, 1],
            &varint(SESSION.len() as u64),
            SESSION.as_bytes(),
            &[0],
            &ff,
            &[1],
        ])),
        "hs-error-version" => vec![
            Bin(error(2, "version unsupported", 0)),
            Bin(close(1002, "version unsupported")),
            WsClose(1002),
        ],
        "hs-error-try-later-huge" => vec![
            Bin(error(5, "busy", u64::MAX)),
            Bin(close(1013, "busy")),
            WsClose(1013),
        ],
        "hs-error-try-later-0" => vec![
            Bin(error(5, "busy", 0)),
            Bin(close(1013, "busy")),
            WsClose(1013),
        ],
        "hs-error-forbidden" => vec![
            Bin(error(6, "forbidden", 0)),
            Bin(close(1008, "forbidden")),
            WsClose(1008),
        ],
        "hs-close-4001" => vec![Bin(close(4001, "banned")), WsClose(4001)],
        "hs-close-1013" => vec![Bin(close(1013, "later")), WsClose(1013)],
        "hs-data-before-welcome" => vec![Bin(text(1, "early")), w(), Bin(text(n, "after"))],
        "hs-ping-before-welcome" => vec![Bin(ping(7)), w(), Bin(text(n, "after"))],
        "hs-unknown-before-welcome" => vec![Bin(vec![0x42, 1, 2]), w(), Bin(text(n, "after"))],
        "hs-no-welcome" => vec![Silent],
        "hs-ws-close-before-welcome" => vec![WsClose(1011)],
        "hs-drop-before-welcome" => vec![Drop],
        "hs-welcome-as-text" => vec![Text(encode_base64(&wel(welcome(h)))), Sleep(5_000)],
        // The client's connect deadline is 1000 ms in the tests.
        "hs-welcome-too-late" => vec![Sleep(1_500), w(), Bin(text(n, "after"))],
        "ws-close-4500-after-open" => vec![
            w(),
            Bin(text(n, "after")),
            Sleep(200),
            Bin(close(4500, "app reconnect")),
            WsClose(4500),
        ],
        "ws-close-4000-after-open" => vec![
            w(),
            Bin(text(n, "after")),
            Sleep(200),
            Bin(close(4000, "app says stop")),
            WsClose(4000),
        ],
        "ws-transport-close-4499" => vec![w(), Bin(text(n, "after")), Sleep(200), WsClose(4499)],
        "ws-transport-close-1002" => vec![w(), Bin(text(n, "after")), Sleep(200), WsClose(1002)],
        "ws-silent-after-open" => vec![w(), Bin(text(n, "after")), Silent],
        _ => vec![w(), Bin(text(n, "after"))],
    }
}

/// The raw-mode script (no handshake): the oversized message, then `after`.
fn raw_script(case: &str, first: bool) -> Vec<Step> {
    use Step::*;
    if !first {
        return vec![Text("recovered".into())];
    }
    let bad = match case {
        "raw-oversized-binary" => Bin(vec![4; 100_000]),
        "raw-oversized-text" => Text("y".repeat(100_000)),
        "raw-oversized-20mb" => Bin(vec![4; 20 << 20]),
        _ => Bin(vec![5; 65_536]),
    };
    vec![bad, Text("after".into())]
}

async fn ws(
    Path((case, run)): Path<(String, String)>,
    State(st): State<St>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !is_case(&case) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let (conns, ws) = st.with(&case, &run, |r| {
        r.conns += 1;
        r.ws += 1;
        (r.conns, r.ws)
    });
    if case == "hs-upgrade-403" && ws == 1 {
        return (StatusCode::FORBIDDEN, "no websockets here").into_response();
    }
    upgrade
        .max_message_size(1 << 20)
        .on_upgrade(move |socket| run_ws(socket, st, case, run, conns == 1, false))
}

async fn raw(
    Path((case, run)): Path<(String, String)>,
    State(st): State<St>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !is_case(&case) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let conns = st.with(&case, &run, |r| {
        r.conns += 1;
        r.ws += 1;
        r.conns
    });
    upgrade
        .max_message_size(1 << 20)
        .on_upgrade(move |socket| run_ws(socket, st, case, run, conns == 1, true))
}

async fn run_ws(mut socket: WebSocket, st: St, case: String, run: String, first: bool, raw: bool) {
    let steps = if raw {
        raw_script(&case, first)
    } else {
        let hello = match timeout(Duration::from_secs(5), socket.recv()).await {
            Ok(Some(Ok(Message::Binary(b)))) => match decode(&b, &Limits::default()) {
                Ok(Decoded::Frame(Frame::Hello(h))) => h,
                _ => return,
            },
            _ => return,
        };
        ws_script(&case, first, &hello)
    };
    for step in steps {
        let sent = match step {
            Step::Bin(b) => socket.send(Message::Binary(b.into())).await,
            Step::Text(t) => socket.send(Message::Text(t.into())).await,
            Step::Sleep(ms) => {
                sleep(Duration::from_millis(ms)).await;
                Ok(())
            }
            Step::WsClose(code) => {
                let frame = WsClose {
                    code,
                    reason: "hostile".into(),
                };
                let _ = socket.send(Message::Close(Some(frame))).await;
                let _ = timeout(Duration::from_secs(1), socket.recv()).await;
                return;
            }
            Step::Drop => return,
            Step::Silent => {
                let _ = timeout(LIFETIME, async {
                    while let Some(Ok(_)) = socket.recv().await {}
                })
                .await;
                return;
            }
        };
        if sent.is_err() {
            return;
        }
    }
    // The rest of the connection: PINGs answered, everything else read and ignored.
    let limits = Limits {
        max_message_bytes: 16 << 20,
    };
    let end = Instant::now() + LIFETIME;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(end, socket.recv()).await {
        let Message::Binary(b) = msg else {
            if matches!(msg, Message::Close(_)) {
                return;
            }
            continue;
        };
        match decode(&b, &limits) {
            Ok(Decoded::Frame(Frame::Ping { id })) if !raw => {
                st.with(&case, &run, |r| r.pings += 1);
                let pong = encode(&Frame::Pong { id });
                if socket.send(Message::Binary(pong.into())).await.is_err() {
                    return;
                }
            }
            Ok(Decoded::Frame(Frame::Close(_))) if !raw => return,
            _ => {}
        }
    }
}

// ----- HTTP answers --------------------------------------------------------------------------

/// A piece of an HTTP answer's body.
enum Chunk {
    Data(Bytes),
    Sleep(u64),
    /// `bytes`, `times` times, `every_ms` apart.
    Repeat(Bytes, u32, u64),
}

/// What a body does after its chunks.
enum Tail {
    End,
    /// The connection dies mid-body (no terminating chunk).
    Abort,
    /// These bytes every this many ms, for [`LIFETIME`] (keep-alive events, a trickle).
    Every(Bytes, u64),
}

/// One HTTP answer.
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    /// `Access-Control-Allow-Origin: *` (without it the page cannot read the answer).
    cors: bool,
    chunks: Vec<Chunk>,
    tail: Tail,
}

impl Answer {
    fn new(status: u16, content_type: Option<&str>, body: Vec<u8>) -> Answer {
        Answer {
            status,
            headers: content_type
                .map(|t| vec![("content-type", t.to_owned())])
                .unwrap_or_default(),
            cors: true,
            chunks: vec![Chunk::Data(body.into())],
            tail: Tail::End,
        }
    }

    fn batch(frames: &[Vec<u8>]) -> Answer {
        Answer::new(200, Some("application/octet-stream"), batch(frames))
    }

    fn html(status: u16) -> Answer {
        let page = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad \
                    Gateway</h1></center><hr><center>nginx</center></body></html>\n";
        Answer::new(status, Some("text/html"), page.as_bytes().to_vec())
    }

    fn header(mut self, name: &'static str, value: &str) -> Answer {
        self.headers.push((name, value.to_owned()));
        self
    }

    fn no_cors(mut self) -> Answer {
        self.cors = false;
        self
    }

    fn then(mut self, chunks: Vec<Chunk>, tail: Tail) -> Answer {
        self.chunks.extend(chunks);
        self.tail = tail;
        self
    }

    /// Held this long before anything is written.
    fn after(mut self, ms: u64) -> Answer {
        self.chunks.insert(0, Chunk::Sleep(ms));
        self
    }

    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let mut headers = HeaderMap::new();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(HeaderName::from_static(name), value);
            }
        }
        if self.cors {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        }
        crate::http::no_cache(&mut headers);
        let state = (
            VecDeque::from(self.chunks),
            self.tail,
            Instant::now() + LIFETIME,
        );
        let stream = futures_util::stream::unfold(Some(state), |state| async move {
            let (mut chunks, tail, end) = state?;
            loop {
                match chunks.pop_front() {
                    Some(Chunk::Data(b)) => return Some((Ok(b), Some((chunks, tail, end)))),
                    Some(Chunk::Sleep(ms)) => sleep(Duration::from_millis(ms)).await,
                    Some(Chunk::Repeat(b, times, every)) => {
                        if times == 0 {
                            continue;
                        }
                        if every > 0 {
                            sleep(Duration::from_millis(every)).await;
                        }
                        chunks.push_front(Chunk::Repeat(b.clone(), times - 1, every));
                        return Some((Ok(b), Some((chunks, tail, end))));
                    }
                    None => break,
                }
            }
            match tail {
                Tail::End => None,
                Tail::Abort => Some((Err(std::io::Error::other("hostile abort")), None)),
                Tail::Every(ref b, ms) => {
                    if Instant::now() >= end {
                        return None;
                    }
                    sleep(Duration::from_millis(ms)).await;
                    let b = b.clone();
                    Some((Ok(b), Some((chunks, tail, end))))
                }
            }
        });
        let mut response = Response::new(Body::from_stream(stream));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }
}

/// Where a redirect sends the client: the same server under another origin (`localhost`
/// instead of `127.0.0.1`), to a route that counts the hit.
fn elsewhere(headers: &HeaderMap, case: &str, run: &str, what: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let port = host.rsplit_once(':').map_or("80", |(_, p)| p);
    [
        "http://localhost:",
        port,
        "/_hostile/",
        case,
        "/",
        run,
        "/target/",
        what,
        "?token=secret",
    ]
    .concat()
}

fn redirect(to: String) -> Answer {
    Answer::new(302, None, vec![]).header("location", &to)
}

// ----- SSE -----------------------------------------------------------------------------------

fn sse_plan(case: &str, first: bool, h: &Hello, elsewhere: String) -> Answer {
    let n = h.last_seq + 1;
    let w = wel(welcome(h));
    let keep_alive = Tail::Every(ev(&ping(1)).into(), 1_000);
    let stream = |body: Vec<u8>| {
        let mut a = Answer::new(200, Some("text/event-stream"), body);
        a.tail = Tail::Every(ev(&ping(1)).into(), 1_000);
        a
    };
    let std_body = |middle: &[u8]| cat(&[b":ok\n\n", &ev(&w), middle, &ev(&text(n, good(first)))]);
    if !first {
        return stream(std_body(b""));
    }
    // WELCOME, the bad lines, then `after`.
    let inline = |middle: &[u8]| stream(std_body(middle));
    // A stream whose every line ends with `eol`.
    let eol = |eol: &str| {
        let body = String::from_utf8_lossy(&std_body(b"")).replace('\n', eol);
        stream(body.into_bytes())
    };
    let bad_welcome = |frame: Vec<u8>| stream(cat(&[b":ok\n\n", &ev(&frame)]));
    match case {
        "sse-no-content-type" => {
            let mut a = stream(std_body(b""));
            a.headers.clear();
            a
        }
        "sse-content-type-text-plain" => {
            let mut a = stream(std_body(b""));
            a.headers = vec![("content-type", "text/plain".into())];
            a
        }
        "sse-content-type-json" => {
            let mut a = stream(std_body(b""));
            a.headers = vec![("content-type", "application/json".into())];
            a
        }
        "sse-content-type-charset" => {
            let mut a = stream(std_body(b""));
            a.headers = vec![("content-type", "text/event-stream; charset=utf-8".into())];
            a
        }
        "sse-status-204" => Answer::new(204, None, vec![]),
        "sse-status-500" => Answer::new(500, Some("text/plain"), b"internal error".to_vec()),
        "sse-status-503-retry-after" => {
            Answer::new(503, Some("text/plain"), b"busy".to_vec()).header("retry-after", "1")
        }
        "sse-status-404-html" => Answer::html(404),
        "sse-redirect-other-origin" => redirect(elsewhere),
        "sse-no-cors" => stream(std_body(b"")).no_cors(),
        "sse-bom" => {
            let mut a = stream(cat(&["\u{feff}".as_bytes(), &std_body(b"")]));
            a.tail = keep_alive;
            a
        }
        "sse-double-bom" => stream(cat(&["\u{feff}\u{feff}".as_bytes(), &std_body(b"")])),
        "sse-bom-mid-stream" => inline(&cat(&[
            "\u{feff}".as_bytes(),
            &ev(&text(n, "behind a BOM")),
        ])),
        "sse-crlf" => eol("\r\n"),
        "sse-cr-only" => eol("\r"),
        "sse-mixed-eol" => {
            let body = cat(&[
                b":ok\r\n\r",
                &ev(&w)
                    .iter()
                    .map(|&b| if b == b'\n' { b'\r' } else { b })
                    .collect::<Vec<_>>(),
                String::from_utf8_lossy(&ev(&text(n, "after")))
                    .replace('\n', "\r\n")
                    .as_bytes(),
            ]);
            stream(body)
        }
        "sse-crlf-split-chunks" => {
            let body = String::from_utf8_lossy(&std_body(b"")).replace('\n', "\r\n");
            let mut chunks = Vec::new();
            // Cut between every CR and its LF.
            for piece in body.split_inclusive('\r') {
                chunks.push(Chunk::Data(Bytes::copy_from_slice(piece.as_bytes())));
                chunks.push(Chunk::Sleep(5));
            }
            let mut a = Answer::new(200, Some("text/event-stream"), vec![]);
            a.chunks = chunks;
            a.tail = keep_alive;
            a
        }
        "sse-byte-chunks" => {
            let body = std_body(b"");
            let mut a = Answer::new(200, Some("text/event-stream"), vec![]);
            a.chunks = body
                .iter()
                .flat_map(|&b| [Chunk::Data(Bytes::copy_from_slice(&[b])), Chunk::Sleep(1)])
                .collect();
            a.tail = keep_alive;
            a
        }
        "sse-data-not-base64" => inline(b"data: not base64 at all!\n\n"),
        "sse-data-garbage-frame" => inline(&ev(&[3, 1, 0xff])),
        "sse-data-multiline" => {
            let b64 = encode_base64(&text(n, "split"));
            let (a, b) = b64.split_at(4);
            inline(["data: ", a, "\ndata: ", b, "\n\n"].concat().as_bytes())
        }
        "sse-data-two-spaces" => inline(
            ["data:  ", &encode_base64(&text(n, "x")), "\n\n"]
                .concat()
                .as_bytes(),
        ),
        "sse-data-no-space" => {
            let body = cat(&[
                b":ok\n\n",
                ["data:", &encode_base64(&w), "\n\n"].concat().as_bytes(),
                ["data:", &encode_base64(&text(n, "after")), "\n\n"]
                    .concat()
                    .as_bytes(),
            ]);
            stream(body)
        }
        "sse-named-event" => inline(
            [
                "event: other\ndata: ",
                &encode_base64(&text(n, "named")),
                "\n\n",
            ]
            .concat()
            .as_bytes(),
        ),
        "sse-retry-garbage" => {
            inline(b"retry: abc\nretry: -1\nretry: 99999999999999999999999\nid: x\0y\nretry\n\n")
        }
        "sse-retry-zero-then-end" => {
            let mut a = stream(cat(&[b"retry: 0\n\n", &std_body(b"")]));
            a.chunks.push(Chunk::Sleep(300));
            a.tail = Tail::End;
            a
        }
        "sse-long-comment" => {
            let comment = cat(&[b":", &vec![b'c'; 2 << 20], b"\n"]);
            inline(&comment)
        }
        // Over the client's largest event (the base64 of 65552 bytes: 87404 characters).
        "sse-long-data" => inline(&cat(&[b"data: ", &vec![b'A'; 3 << 20], b"\n\n"])),
        "sse-no-newline-megabytes" => {
            let mut a = stream(cat(&[&std_body(b""), b"data: "]));
            a.chunks
                .push(Chunk::Repeat(vec![b'A'; 64 * 1024].into(), 64, 5));
            a.tail = Tail::Every(Bytes::from_static(b"A"), 100);
            a
        }
        "sse-end-after-welcome" => {
            let mut a = stream(std_body(b""));
            a.chunks.push(Chunk::Sleep(300));
            a.tail = Tail::End;
            a
        }
        "sse-abort-mid-event" => {
            let mut a = stream(cat(&[&std_body(b""), b"data: AAAA"]));
            a.chunks.push(Chunk::Sleep(300));
            a.tail = Tail::Abort;
            a
        }
        "sse-empty-data" => inline(b"data:\n\ndata\n\ndata: \n\n"),
        "sse-invalid-utf8" => inline(b"data: \xff\xfe\xc0\x80AAAA\n\n"),
        "sse-nul-in-data" => inline(b"data: AA\0AA\n\n"),
        "sse-unknown-frame" => inline(&ev(&[0x42, 1, 2, 3])),
        "sse-second-welcome" => inline(&ev(&w)),
        "sse-seq-u64-max" => {
            let body = cat(&[
                b":ok\n\n",
                &ev(&w),
                &ev(&text(u64::MAX, "evil")),
                &ev(&text(n, "after")),
            ]);
            stream(body)
        }
        "sse-welcome-session-crlf" => {
            bad_welcome(raw_welcome(1, b"a\r\nb", 0, [0, 1_000, 2_500, 1 << 20]))
        }
        "sse-welcome-version-2" => bad_welcome(wel(Welcome {
            version: 2,
            ..welcome(h)
        })),
        "sse-error-version" => {
            let mut a = stream(cat(&[
                b":ok\n\n",
                &ev(&error(2, "version unsupported", 0)),
                &ev(&close(1002, "version unsupported")),
            ]));
            a.tail = Tail::End;
            a
        }
        "sse-gzip-lie" => stream(std_body(b"")).header("content-encoding", "gzip"),
        "sse-comment-flood" => inline(&b":x\n".repeat(20_000)),
        _ => stream(std_body(b"")),
    }
}

async fn sse(
    Path((case, run)): Path<(String, String)>,
    State(st): State<St>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if !is_case(&case) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(hello) = crate::http::query_param(query.as_deref(), "hello")
        .and_then(|h| decode_base64(h, 1024).ok())
        .and_then(|b| match decode(&b, &Limits::default()) {
            Ok(Decoded::Frame(Frame::Hello(h))) => Some(h),
            _ => None,
        })
    else {
        return (StatusCode::BAD_REQUEST, "no hello").into_response();
    };
    let conns = st.with(&case, &run, |r| {
        r.conns += 1;
        r.sse += 1;
        r.conns
    });
    let to = elsewhere(&headers, &case, &run, "sse");
    sse_plan(&case, conns == 1, &hello, to).into_response()
}

// ----- polling -------------------------------------------------------------------------------

fn open_plan(case: &str, first: bool, h: &Hello, elsewhere: String) -> Answer {
    let w = wel(welcome(h));
    if !first {
        return Answer::batch(&[w]);
    }
    match case {
        "lp-open-html-200" => Answer::html(200),
        "lp-open-502-html" => Answer::html(502),
        "lp-open-empty-200" => Answer::batch(&[]),
        "lp-open-truncated-batch" => Answer::new(200, None, cat(&[&varint(100), &w])),
        "lp-open-error-version" => Answer::batch(&[
            error(2, "version unsupported", 0),
            close(1002, "version unsupported"),
        ]),
        "lp-open-welcome-session-slash" => {
            Answer::batch(&[raw_welcome(1, b"../x", 0, [0, 1_000, 2_500, 1 << 20])])
        }
        "lp-open-redirect-other-origin" => redirect(elsewhere),
        "lp-open-no-cors" => Answer::batch(&[w]).no_cors(),
        "lp-open-429-retry-after-huge" => {
            Answer::new(429, None, vec![]).header("retry-after", "99999999")
        }
        _ => Answer::batch(&[w]),
    }
}

/// The answer to poll number `k` (from 1, counted since the poll open) of a run.
fn poll_plan(
    case: &str,
    first: bool,
    k: u32,
    cursor: u64,
    hold: bool,
    elsewhere: String,
) -> Answer {
    let n = cursor.saturating_add(1);
    // Long polling: a quiet poll is held, then answered with a PING; short polling: at once, empty.
    let quiet = || {
        if hold {
            Answer::batch(&[ping(9)]).after(400)
        } else {
            Answer::batch(&[])
        }
    };
    let after = || Answer::batch(&[text(n, good(first))]);
    if !first {
        return if k == 1 { after() } else { quiet() };
    }
    // Poll 1 carries the bad answer, poll 2 `after`.
    let bad_then_after = |bad: Answer| {
        if k == 1 {
            bad
        } else if k == 2 {
            after()
        } else {
            quiet()
        }
    };
    // Poll 1 `after`, then the bad answer forever.
    let after_then_bad = |bad: Answer| if k == 1 { after() } else { bad };
    match case {
        "lp-poll-empty-instant-loop" => after_then_bad(Answer::batch(&[])),
        "lp-poll-504-instant-loop" => after_then_bad(Answer::new(504, Some("text/html"), vec![])),
        "lp-poll-html-200-loop" => after_then_bad(Answer::html(200)),
        "lp-poll-502-html" => bad_then_after(Answer::html(502)),
        "lp-poll-truncated-batch" | "sp-truncated-batch" => {
            bad_then_after(Answer::new(200, None, vec![5, 5, 1]))
        }
        "lp-poll-too-many-frames" => bad_then_after(Answer::batch(&vec![ping(1); 1_025])),
        "lp-poll-frame-length-huge" => bad_then_after(Answer::new(200, None, varint(1 << 40))),
        "lp-poll-length-varint-overflow" => bad_then_after(Answer::new(200, None, vec![0xff; 11])),
        "lp-poll-mixed-batch" => match k {
            1 => Answer::batch(&[
                text(n, "a"),
                vec![3, 9, 0xff],
                vec![0x42, 0, 0],
                text(n + 1, "after"),
            ]),
            _ => quiet(),
        },
        "lp-poll-endless-chunked" => bad_then_after(Answer::new(200, None, vec![]).then(
            vec![Chunk::Repeat(vec![0x42; 64 * 1024].into(), 2_000, 20)],
            Tail::End,
        )),
        "lp-poll-oversized-body" => bad_then_after(Answer::new(200, None, vec![0x42; 3 << 20])),
        "lp-poll-410" | "sp-410" => bad_then_after(Answer::new(410, None, vec![])),
        "lp-poll-404" => bad_then_after(Answer::html(404)),
        "lp-poll-429-retry-after-huge" => {
            bad_then_after(Answer::new(429, None, vec![]).header("retry-after", "99999999"))
        }
        "lp-poll-503-retry-after-date" => bad_then_after(
            Answer::new(503, None, vec![]).header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ),
        "lp-poll-503-retry-after-negative" => {
            bad_then_after(Answer::new(503, None, vec![]).header("retry-after", "-5"))
        }
        "lp-poll-503-retry-after-fraction" => {
            bad_then_after(Answer::new(503, None, vec![]).header("retry-after", "0.5"))
        }
        "lp-poll-503-retry-after-garbage" => {
            bad_then_after(Answer::new(503, None, vec![]).header("retry-after", "soon, maybe"))
        }
        "sp-429-retry-after-odd" => {
            bad_then_after(Answer::new(429, None, vec![]).header("retry-after", "1e3"))
        }
        "sp-503-retry-after-huge" => bad_then_after(
            Answer::new(503, None, vec![]).header("retry-after", "18446744073709551616"),
        ),
        "lp-poll-redirect-other-origin" => bad_then_after(redirect(elsewhere)),
        "lp-poll-no-cors" => bad_then_after(after().no_cors()),
        "lp-poll-wrong-content-type" => match k {
            1 => Answer::new(200, Some("text/html"), batch(&[text(n, "after")])),
            _ => quiet(),
        },
        "lp-poll-after-close" | "sp-poll-after-close" => match k {
            1 => Answer::batch(&[text(n, "after-close")]).after(700),
            _ => quiet(),
        },
        "lp-poll-seq-u64-max" => match k {
            1 => Answer::batch(&[text(u64::MAX, "evil"), text(n, "after")]),
            _ => quiet(),
        },
        "lp-poll-gzip-lie" => bad_then_after(after().header("content-encoding", "gzip")),
        "lp-poll-cut-mid-body" => bad_then_after(
            Answer::new(200, None, vec![100]).then(vec![Chunk::Sleep(50)], Tail::Abort),
        ),
        "sp-html-200" => bad_then_after(Answer::html(200)),
        _ => {
            if k == 1 {
                after()
            } else {
                quiet()
            }
        }
    }
}

async fn poll_open(
    Path((case, run)): Path<(String, String)>,
    State(st): State<St>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_case(&case) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let hello = split_batch(&body).ok().and_then(|frames| {
        match decode(frames.first()?, &Limits::default()) {
            Ok(Decoded::Frame(Frame::Hello(h))) => Some(h),
            _ => None,
        }
    });
    let Some(hello) = hello else {
        return (StatusCode::BAD_REQUEST, "no hello").into_response();
    };
    let conns = st.with(&case, &run, |r| {
        r.conns += 1;
        r.opens += 1;
        r.polls_since_open = 0;
        r.conns
    });
    let to = elsewhere(&headers, &case, &run, "poll-open");
    open_plan(&case, conns == 1, &hello, to).into_response()
}

async fn poll(
    Path((case, run)): Path<(String, String)>,
    State(st): State<St>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if !is_case(&case) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let q = query.as_deref();
    let cursor = crate::http::query_param(q, "cursor")
        .and_then(|c| c.parse::<u64>().ok())
        .unwrap_or(0);
    let hold = crate::http::query_param(q, "hold") != Some("0");
    let (conns, k) = st.with(&case, &run, |r| {
        r.polls += 1;
        r.polls_since_open += 1;
        (r.conns, r.polls_since_open)
    });
    let to = elsewhere(&headers, &case, &run, "poll");
    poll_plan(&case, conns == 1, k, cursor, hold, to).into_response()
}

async fn send(
    Path((case, run)): Path<(String, String)>,
    State(st): State<St>,
    body: Bytes,
) -> Response {
    if !is_case(&case) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let limits = Limits {
        max_message_bytes: 16 << 20,
    };
    let pings = split_batch(&body).map_or(0, |frames| {
        frames
            .iter()
            .filter(|f| matches!(decode(f, &limits), Ok(Decoded::Frame(Frame::Ping { .. }))))
            .count()
    });
    let (conns, posts) = st.with(&case, &run, |r| {
        r.posts += 1;
        r.pings += u32::try_from(pings).unwrap_or(u32::MAX);
        (r.conns, r.posts)
    });
    let status = match (case.as_str(), conns == 1 && posts == 1) {
        ("lp-send-500", true) => 500,
        ("lp-send-410", true) => 410,
        _ => 204,
    };
    Answer::new(status, None, vec![]).into_response()
}

async fn stats(Path((case, run)): Path<(String, String)>, State(st): State<St>) -> Response {
    let r = st.with(&case, &run, |r| *r);
    let body = [
        "{\"conns\":",
        &r.conns.to_string(),
        ",\"ws\":",
        &r.ws.to_string(),
        ",\"sse\":",
        &r.sse.to_string(),
        ",\"opens\":",
        &r.opens.to_string(),
        ",\"polls\":",
        &r.polls.to_string(),
        ",\"posts\":",
        &r.posts.to_string(),
        ",\"pings\":",
        &r.pings.to_string(),
        ",\"redirect_hits\":",
        &r.redirect_hits.to_string(),
        "}",
    ]
    .concat();
    Answer::new(200, Some("application/json"), body.into_bytes()).into_response()
}

/// A redirect's target: counts the hit (a token followed the redirect) and answers `404`.
async fn target(
    Path((case, run, _)): Path<(String, String, String)>,
    State(st): State<St>,
) -> Response {
    st.with(&case, &run, |r| r.redirect_hits += 1);
    Answer::new(404, None, vec![]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello() -> Hello {
        Hello {
            min_version: 1,
            max_version: 1,
            session: None,
            last_seq: 0,
            probe: false,
        }
    }

    #[test]
    fn names_are_unique_and_at_least_a_hundred() {
        let mut names: Vec<&str> = CASES.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CASES.len(), "duplicate case names");
        assert!(CASES.len() >= 100, "{} cases", CASES.len());
    }

    #[test]
    fn every_websocket_case_has_a_script_that_starts_or_refuses_the_handshake() {
        for (name, on) in CASES {
            if *on != On::WebSocket {
                continue;
            }
            let steps = ws_script(name, true, &hello());
            assert!(!steps.is_empty() || *name == "hs-upgrade-403", "{name}");
            // A later connection always gets the good handshake (but the forbidden case).
            let later = ws_script(name, false, &hello());
            if *name != "hs-error-forbidden" {
                assert!(
                    matches!(later.first(), Some(Step::Bin(b)) if b.first() == Some(&2)),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn good_parts_decode_and_bad_parts_do_not() {
        let limits = Limits {
            max_message_bytes: 65_536,
        };
        let ok = |b: &[u8]| matches!(decode(b, &limits), Ok(Decoded::Frame(_)));
        assert!(ok(&wel(welcome(&hello()))));
        assert!(ok(&text(1, "after")));
        for bad in [
            raw_welcome(1, b"a/b", 0, [0, 1, 2, 3]),
            raw_welcome(1, b"a\r\nb", 0, [0, 1, 2, 3]),
            raw_welcome(1, SESSION.as_bytes(), 3, [0, 1, 2, 3]),
            vec![3, 1, 0xff, 0xfe],
            cat(&[&[8], &varint(5_000), &[0]]),
        ] {
            assert!(!ok(&bad), "{bad:?} decoded");
        }
        assert_eq!(varint(300), vec![0xac, 0x02]);
        assert_eq!(varint(u64::MAX).len(), 10);
    }
}
