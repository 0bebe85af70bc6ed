//! Hostile server input: the client against the reference server's hostile mode
//! (`server/src/hostile.rs`, mounted with `--faults`), one case per kind of bad input, over every
//! transport and the handshake. Each client's base URL is `{server}/_hostile/<case>/<run>`.
//!
//! Every case asserts: no panic and no uncaught JS error (the client still answers `state()` and
//! `send`), bounded wasm memory (oversized input is refused before it is copied into wasm), the
//! `error` event of the kind the dropped input calls for, and the next good message (`after`)
//! or the documented recovery (a later connection's `recovered`, a fallback, a `gap`, a terminal
//! close with its code). Cases of one group run side by side (WebSocket ten at a time; the HTTP
//! transports three at a time, under the browsers' six connections per origin); every failure
//! is collected and reported by case name.

use crate::util::*;
use holdfast::config::{Config, Protocol, TransportKind};
use holdfast::core::{
    ClientError, DisconnectReason, Event, Payload, RejectReason, SendOutcome, StateKind,
    TransportError,
};
use holdfast::web::{Client, UrlSource};
use js_sys::{Array, Promise, Reflect};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use wasm_bindgen_test::wasm_bindgen_test;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tr {
    Ws,
    Raw,
    Sse,
    /// `["sse", "long-polling"]`.
    SseThenLp,
    Lp,
    Sp,
}

/// The kind of `error` event a case calls for (`No`: none at all).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    No,
    Bad,
    Text,
    Unexpected,
    Gap,
    Server,
    TooBig,
    /// Bad frame errors or none (the browsers' EventSource parsers differ).
    MaybeBad,
}

#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Stays on its first connection; `after` is the last message delivered.
    Stay(Kind),
    /// Stays; exactly these messages, in order.
    Messages(&'static [&'static str], Kind),
    /// A later connection delivers `recovered` (reconnect with backoff, or fallback).
    Recover,
    /// A terminal close with this code.
    Closed(u16),
    /// The app closes right after open while a poll is out: nothing after the `close` event.
    CloseEarly,
}

#[derive(Clone, Copy, Debug)]
enum Extra {
    /// The server saw at most this many client PINGs in the first ~2 s (no 0 ms timer).
    MaxPings(u64),
    /// The server saw at most this many poll GETs in the first ~2 s (no tight loop).
    MaxPolls(u64),
    /// The server saw at most this many SSE requests.
    MaxSse(u64),
    /// A 2000-byte send is refused: the announced limit was clamped to 1 KiB.
    SendTooBig,
    /// Every `reconnecting` delay is at most this (server hints clamped to `maxRetryAfterMs`).
    DelayAtMost(u64),
    /// Nothing reached the redirect's target (another origin).
    NoRedirectHit,
    /// A `gap` event was emitted.
    GapEvent,
    /// The client moved to long polling.
    Fallback,
    /// This many messages (the last is `after`).
    Count(usize),
    /// Exactly these messages.
    Exact(&'static [&'static str]),
    /// `Object.prototype` was not polluted.
    NoPollution,
    /// Logs how many requests reached the redirect's target (informative).
    ReportRedirect,
    /// A connection failed on the answer size limit (found while reading the body, not by the
    /// dead-link deadline an endless body would otherwise run into).
    OverLimit,
}

struct Case {
    name: &'static str,
    tr: Tr,
    expect: Expect,
    extra: &'static [Extra],
}

const fn c(name: &'static str, tr: Tr, expect: Expect) -> Case {
    Case {
        name,
        tr,
        expect,
        extra: &[],
    }
}

const fn cx(name: &'static str, tr: Tr, expect: Expect, extra: &'static [Extra]) -> Case {
    Case {
        name,
        tr,
        expect,
        extra,
    }
}

use Expect::*;
use Extra::*;
use Kind::*;
use Tr::*;

const FRAMES: &[Case] = &[
    c("ws-text-message", Ws, Stay(Text)),
    c("ws-text-json", Ws, Stay(Text)),
    c("ws-text-base64-frame", Ws, Stay(Text)),
    c("ws-text-utf16-heavy", Ws, Stay(Text)),
    c("ws-empty-binary", Ws, Stay(Bad)),
    c("ws-unknown-type-0", Ws, Stay(No)),
    c("ws-unknown-type-0x0a", Ws, Stay(No)),
    c("ws-unknown-type-0xff", Ws, Stay(No)),
    c("ws-unknown-type-large", Ws, Stay(No)),
    c("ws-text-no-seq", Ws, Stay(Bad)),
    c("ws-text-truncated-varint", Ws, Stay(Bad)),
    c("ws-text-varint-11-bytes", Ws, Stay(Bad)),
    c("ws-text-varint-10th-byte-2", Ws, Stay(Bad)),
    c("ws-text-invalid-utf8", Ws, Stay(Bad)),
    c("ws-text-overlong-utf8", Ws, Stay(Bad)),
    c("ws-text-surrogate-utf8", Ws, Stay(Bad)),
    c("ws-text-truncated-utf8", Ws, Stay(Bad)),
    c("ws-binary-no-seq", Ws, Stay(Bad)),
    c("ws-ping-no-id", Ws, Stay(Bad)),
    c("ws-ping-varint-overflow", Ws, Stay(Bad)),
    c("ws-ping-u64-max", Ws, Stay(No)),
    c("ws-pong-unknown-id", Ws, Stay(No)),
    c("ws-pong-u64-max", Ws, Stay(No)),
    c("ws-ack-u64-max", Ws, Stay(No)),
    c("ws-ack-ahead", Ws, Stay(No)),
    c("ws-ack-truncated", Ws, Stay(Bad)),
    c("ws-close-code-5000", Ws, Stay(Bad)),
    c("ws-close-code-u64-max", Ws, Stay(Bad)),
    c("ws-close-reason-124-bytes", Ws, Stay(Bad)),
    c("ws-close-reason-invalid-utf8", Ws, Stay(Bad)),
    c("ws-close-truncated", Ws, Stay(Bad)),
    c("ws-close-reason-beyond-frame", Ws, Stay(Bad)),
    c("ws-error-unknown-code", Ws, Stay(Server)),
    c("ws-error-code-u64-max", Ws, Stay(Server)),
    c("ws-error-bad-frame", Ws, Stay(Server)),
    c("ws-error-session-unknown", Ws, Stay(Server)),
    c("ws-error-message-1025-bytes", Ws, Stay(Bad)),
    c("ws-error-truncated", Ws, Stay(Bad)),
    c("ws-hello-from-server", Ws, Stay(Unexpected)),
    c("ws-second-welcome", Ws, Stay(Unexpected)),
    c("ws-welcome-other-session-when-open", Ws, Stay(Unexpected)),
    c("ws-payload-over-limit", Ws, Stay(Bad)),
    cx("ws-payload-at-limit", Ws, Stay(No), &[Count(2)]),
    c("ws-oversized-binary", Ws, Stay(TooBig)),
    c("ws-oversized-text", Ws, Stay(TooBig)),
    c("ws-oversized-20mb", Ws, Stay(TooBig)),
    cx("ws-proto-keys", Ws, Stay(No), &[Count(2), NoPollution]),
    c("ws-welcome-trailing-bytes", Ws, Stay(No)),
    c("ws-thousand-bad-frames", Ws, Stay(Bad)),
    cx("ws-binary-data", Ws, Stay(No), &[Count(2)]),
    c("raw-oversized-binary", Raw, Stay(TooBig)),
    c("raw-oversized-text", Raw, Stay(TooBig)),
    c("raw-oversized-20mb", Raw, Stay(TooBig)),
    cx("raw-at-limit", Raw, Stay(No), &[Count(2)]),
];

const SEQUENCE_AND_SETTINGS: &[Case] = &[
    c("seq-duplicate", Ws, Messages(&["a", "after"], No)),
    c("seq-regression", Ws, Messages(&["a", "b", "after"], No)),
    c("seq-gap", Ws, Messages(&["a", "b", "after"], Gap)),
    c("seq-zero", Ws, Stay(No)),
    c("seq-u64-max", Ws, Stay(Bad)),
    c("seq-over-max-seq", Ws, Stay(Bad)),
    c("seq-binary-u64-max", Ws, Stay(Bad)),
    c("seq-max-seq-exact", Ws, Messages(&["a", "max"], Gap)),
    cx(
        "seq-resend-after-resume",
        Ws,
        Recover,
        &[Exact(&["a", "b", "recovered"])],
    ),
    cx(
        "seq-resume-failed",
        Ws,
        Recover,
        &[GapEvent, Exact(&["a", "b", "recovered"])],
    ),
    cx(
        "seq-resume-other-session",
        Ws,
        Recover,
        &[GapEvent, Exact(&["a", "b", "recovered"])],
    ),
    cx(
        "seq-resume-new-same-id",
        Ws,
        Recover,
        &[GapEvent, Exact(&["a", "b", "recovered"])],
    ),
    cx("settings-ping-0", Ws, Stay(No), &[MaxPings(10)]),
    cx("settings-idle-0", Ws, Stay(No), &[MaxPings(10)]),
    cx("settings-idle-1", Ws, Stay(No), &[MaxPings(10)]),
    cx(
        "settings-all-zero",
        Ws,
        Stay(No),
        &[MaxPings(10), SendTooBig],
    ),
    cx("settings-all-u64-max", Ws, Stay(No), &[MaxPings(10)]),
    cx("settings-ping-u64-max", Ws, Stay(No), &[MaxPings(10)]),
    cx("settings-max-message-1", Ws, Stay(No), &[SendTooBig]),
    c("settings-max-message-u64-max", Ws, Stay(No)),
    c("settings-ack-u64-max", Ws, Stay(No)),
];

const HANDSHAKE: &[Case] = &[
    c("hs-version-2", Ws, Recover),
    c("hs-version-0", Ws, Recover),
    c("hs-version-u64-max", Ws, Recover),
    c("hs-resume-byte-3", Ws, Recover),
    c("hs-session-empty", Ws, Recover),
    c("hs-session-slash", Ws, Recover),
    c("hs-session-query", Ws, Recover),
    c("hs-session-hash", Ws, Recover),
    c("hs-session-crlf", Ws, Recover),
    c("hs-session-space", Ws, Recover),
    c("hs-session-65-bytes", Ws, Recover),
    c("hs-session-non-ascii", Ws, Recover),
    c("hs-session-percent", Ws, Recover),
    c("hs-welcome-truncated", Ws, Recover),
    c("hs-welcome-varint-overflow", Ws, Recover),
    c("hs-error-version", Ws, Closed(1002)),
    cx(
        "hs-error-try-later-huge",
        Ws,
        Recover,
        &[DelayAtMost(1_500)],
    ),
    cx("hs-error-try-later-0", Ws, Recover, &[DelayAtMost(1_500)]),
    c("hs-error-forbidden", Ws, Closed(1008)),
    c("hs-close-4001", Ws, Closed(4001)),
    c("hs-close-1013", Ws, Recover),
    c("hs-data-before-welcome", Ws, Stay(Unexpected)),
    c("hs-ping-before-welcome", Ws, Stay(No)),
    c("hs-unknown-before-welcome", Ws, Stay(No)),
    c("hs-no-welcome", Ws, Recover),
    c("hs-ws-close-before-welcome", Ws, Recover),
    c("hs-drop-before-welcome", Ws, Recover),
    c("hs-welcome-as-text", Ws, Recover),
    c("hs-upgrade-403", Ws, Recover),
    c("hs-welcome-too-late", Ws, Recover),
    c("ws-close-4500-after-open", Ws, Recover),
    c("ws-close-4000-after-open", Ws, Closed(4000)),
    c("ws-transport-close-4499", Ws, Closed(4499)),
    c("ws-transport-close-1002", Ws, Recover),
    c("ws-silent-after-open", Ws, Recover),
];

const SSE: &[Case] = &[
    c("sse-no-content-type", Sse, Recover),
    cx(
        "sse-content-type-text-plain",
        SseThenLp,
        Recover,
        &[Fallback],
    ),
    c("sse-content-type-json", Sse, Recover),
    c("sse-content-type-charset", Sse, Stay(No)),
    c("sse-status-204", Sse, Recover),
    c("sse-status-500", Sse, Recover),
    c("sse-status-503-retry-after", Sse, Recover),
    cx("sse-status-404-html", SseThenLp, Recover, &[Fallback]),
    cx("sse-redirect-other-origin", Sse, Recover, &[ReportRedirect]),
    c("sse-no-cors", Sse, Recover),
    c("sse-bom", Sse, Stay(No)),
    c("sse-double-bom", Sse, Stay(No)),
    c("sse-bom-mid-stream", Sse, Stay(No)),
    c("sse-crlf", Sse, Stay(No)),
    c("sse-cr-only", Sse, Stay(No)),
    c("sse-mixed-eol", Sse, Stay(No)),
    c("sse-crlf-split-chunks", Sse, Stay(No)),
    c("sse-byte-chunks", Sse, Stay(No)),
    c("sse-data-not-base64", Sse, Stay(Bad)),
    c("sse-data-garbage-frame", Sse, Stay(Bad)),
    c("sse-data-multiline", Sse, Stay(Bad)),
    c("sse-data-two-spaces", Sse, Stay(Bad)),
    c("sse-data-no-space", Sse, Stay(No)),
    c("sse-named-event", Sse, Stay(No)),
    c("sse-retry-garbage", Sse, Stay(No)),
    cx("sse-retry-zero-then-end", Sse, Recover, &[MaxSse(2)]),
    c("sse-long-comment", Sse, Stay(No)),
    c("sse-long-data", Sse, Stay(TooBig)),
    c("sse-no-newline-megabytes", Sse, Recover),
    c("sse-end-after-welcome", Sse, Recover),
    c("sse-abort-mid-event", Sse, Recover),
    c("sse-empty-data", Sse, Stay(Bad)),
    c("sse-invalid-utf8", Sse, Stay(Bad)),
    c("sse-nul-in-data", Sse, Stay(MaybeBad)),
    c("sse-unknown-frame", Sse, Stay(No)),
    c("sse-second-welcome", Sse, Stay(Unexpected)),
    c("sse-seq-u64-max", Sse, Stay(Bad)),
    c("sse-welcome-session-crlf", Sse, Recover),
    c("sse-welcome-version-2", Sse, Recover),
    c("sse-error-version", Sse, Closed(1002)),
    c("sse-gzip-lie", Sse, Recover),
    c("sse-comment-flood", Sse, Stay(No)),
];

const POLLING: &[Case] = &[
    c("lp-open-html-200", Lp, Recover),
    c("lp-open-502-html", Lp, Recover),
    c("lp-open-empty-200", Lp, Recover),
    c("lp-open-truncated-batch", Lp, Recover),
    c("lp-open-error-version", Lp, Closed(1002)),
    c("lp-open-welcome-session-slash", Lp, Recover),
    cx(
        "lp-open-redirect-other-origin",
        Lp,
        Recover,
        &[NoRedirectHit],
    ),
    c("lp-open-no-cors", Lp, Recover),
    cx(
        "lp-open-429-retry-after-huge",
        Lp,
        Recover,
        &[DelayAtMost(1_500)],
    ),
    cx("lp-poll-empty-instant-loop", Lp, Stay(No), &[MaxPolls(15)]),
    cx("lp-poll-504-instant-loop", Lp, Stay(No), &[MaxPolls(15)]),
    cx("lp-poll-html-200-loop", Lp, Recover, &[MaxPolls(30)]),
    c("lp-poll-502-html", Lp, Recover),
    c("lp-poll-truncated-batch", Lp, Stay(Bad)),
    c("lp-poll-too-many-frames", Lp, Stay(Bad)),
    c("lp-poll-frame-length-huge", Lp, Stay(Bad)),
    c("lp-poll-length-varint-overflow", Lp, Stay(Bad)),
    c("lp-poll-mixed-batch", Lp, Messages(&["a", "after"], Bad)),
    cx("lp-poll-endless-chunked", Lp, Recover, &[OverLimit]),
    cx("lp-poll-oversized-body", Lp, Recover, &[OverLimit]),
    c("lp-poll-410", Lp, Recover),
    c("lp-poll-404", Lp, Recover),
    cx(
        "lp-poll-429-retry-after-huge",
        Lp,
        Recover,
        &[DelayAtMost(1_500)],
    ),
    c("lp-poll-503-retry-after-date", Lp, Recover),
    c("lp-poll-503-retry-after-negative", Lp, Recover),
    c("lp-poll-503-retry-after-fraction", Lp, Recover),
    c("lp-poll-503-retry-after-garbage", Lp, Recover),
    cx(
        "lp-poll-redirect-other-origin",
        Lp,
        Recover,
        &[NoRedirectHit],
    ),
    c("lp-poll-no-cors", Lp, Recover),
    c("lp-poll-wrong-content-type", Lp, Stay(No)),
    c("lp-poll-after-close", Lp, CloseEarly),
    c("lp-poll-seq-u64-max", Lp, Stay(Bad)),
    c("lp-poll-gzip-lie", Lp, Recover),
    c("lp-poll-cut-mid-body", Lp, Recover),
    c("lp-send-500", Lp, Recover),
    c("lp-send-410", Lp, Recover),
    cx("sp-empty-instant", Sp, Stay(No), &[MaxPolls(15)]),
    c("sp-html-200", Sp, Stay(Bad)),
    c("sp-truncated-batch", Sp, Stay(Bad)),
    c("sp-429-retry-after-odd", Sp, Recover),
    cx(
        "sp-503-retry-after-huge",
        Sp,
        Recover,
        &[DelayAtMost(1_500)],
    ),
    c("sp-410", Sp, Recover),
    c("sp-poll-after-close", Sp, CloseEarly),
];

/// Short timers, so a group's recoveries take seconds. Cases that must stay on their first
/// connection get a 3 s connect deadline (Firefox opens one WebSocket per host at a time, and ten
/// cases start together on a loaded machine); the others 1 s, which is the recovery some test.
fn hostile_config(tr: Tr, expect: Expect) -> Config {
    Config {
        transports: match tr {
            Tr::Ws | Tr::Raw => vec![TransportKind::WebSocket],
            Tr::Sse => vec![TransportKind::Sse],
            Tr::SseThenLp => vec![TransportKind::Sse, TransportKind::LongPolling],
            Tr::Lp => vec![TransportKind::LongPolling],
            Tr::Sp => vec![TransportKind::Polling],
        },
        protocol: if tr == Raw {
            Protocol::Raw(None)
        } else {
            Protocol::Holdfast
        },
        heartbeat_interval_ms: 500,
        heartbeat_timeout_ms: 2_500,
        connect_timeout_ms: if matches!(expect, Recover) {
            1_000
        } else {
            3_000
        },
        reconnect_delay_ms: 50,
        reconnect_max_delay_ms: 300,
        min_uptime_ms: 1_000,
        max_retry_after_ms: 1_500,
        max_message_bytes: 65_536,
        poll_interval_ms: 300,
        upgrade_probe_ms: 0,
        remember_transport_ms: 0,
        ..Config::default()
    }
}

fn kind_of(e: &ClientError) -> Kind {
    match e {
        ClientError::BadFrame(_) => Bad,
        ClientError::UnexpectedText => Text,
        ClientError::UnexpectedFrame(_) => Unexpected,
        ClientError::SequenceGap { .. } => Gap,
        ClientError::Server { .. } => Server,
        ClientError::MessageTooBig { .. } => TooBig,
        _ => No,
    }
}

fn texts(rec: &Recorder) -> Vec<String> {
    rec.messages()
        .iter()
        .map(|p| match p {
            Payload::Text(t) if t.len() > 40 => ["<", &t.len().to_string(), " chars>"].concat(),
            Payload::Text(t) => t.clone(),
            Payload::Binary(b) => ["<", &b.len().to_string(), " bytes>"].concat(),
        })
        .collect()
}

fn errors(rec: &Recorder) -> Vec<ClientError> {
    rec.0
        .borrow()
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Error(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn reconnects(rec: &Recorder) -> usize {
    rec.count(|e| matches!(e, Event::Reconnecting { .. } | Event::Transport { .. }))
}

fn has_text(rec: &Recorder, s: &str) -> bool {
    rec.messages().iter().any(|p| *p == text(s))
}

async fn stat(case: &str, run: &str, key: &str) -> u64 {
    let url = format!("{SERVER}/_hostile/{case}/{run}/stats");
    let resp = JsFuture::from(fetch_get(&url)).await;
    let Ok(resp) = resp else { return u64::MAX };
    let resp: web_sys::Response = resp.unchecked_into();
    let Ok(text) = resp.text() else {
        return u64::MAX;
    };
    let Ok(text) = JsFuture::from(text).await else {
        return u64::MAX;
    };
    let Some(v) = text.as_string().and_then(|t| js_sys::JSON::parse(&t).ok()) else {
        return u64::MAX;
    };
    Reflect::get(&v, &key.into())
        .ok()
        .and_then(|v| v.as_f64())
        .map_or(u64::MAX, |f| f as u64)
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn fetch_get(url: &str) -> Promise;
}

/// Runs one case; `Err` says what went wrong, naming the case.
async fn run_case(case: &'static Case) -> Result<f64, String> {
    let t0 = now();
    let run = format!("{:x}", (js_sys::Math::random() * 1e15) as u64);
    let base = format!("{SERVER}/_hostile/{}/{run}", case.name);
    let url = if case.tr == Raw {
        base.replacen("http", "ws", 1)
    } else {
        base.clone()
    };
    let (client, rec) = client_with(UrlSource::Fixed(url), hostile_config(case.tr, case.expect));
    let result = check(case, &run, &client, &rec).await;
    // Closing is always allowed and never panics, whatever state the case left.
    let _ = client.close(1000, "case done");
    drop(client);
    result.map(|()| now() - t0).map_err(|why| {
        format!(
            "{} ({:?}): {why}\n  events: {}",
            case.name,
            case.tr,
            short_dump(&rec)
        )
    })
}

fn short_dump(rec: &Recorder) -> String {
    let events = rec.0.borrow();
    let mut out = Vec::new();
    for (t, e) in events.iter().take(30) {
        let s = match e {
            Event::Message(Payload::Text(t)) if t.len() > 40 => {
                ["Message(<", &t.len().to_string(), " chars>)"].concat()
            }
            Event::Message(Payload::Binary(b)) => {
                ["Message(<", &b.len().to_string(), " bytes>)"].concat()
            }
            Event::Gap {
                messages, last_seq, ..
            } => format!("Gap({} msgs, last_seq {last_seq})", messages.len()),
            e => format!("{e:?}"),
        };
        out.push(format!("{t:.0}:{s}"));
    }
    if events.len() > 30 {
        out.push(format!("… {} more", events.len() - 30));
    }
    out.join(" | ")
}

async fn check(case: &Case, run: &str, c: &Client, rec: &Recorder) -> Result<(), String> {
    let ensure = |ok: bool, why: &str| if ok { Ok(()) } else { Err(why.to_owned()) };
    match case.expect {
        Stay(kind) | Messages(_, kind) => {
            let want: Option<&[&str]> = match case.expect {
                Messages(m, _) => Some(m),
                _ => None,
            };
            let done = rec
                .wait(4_000.0, |r| match want {
                    Some(m) => texts(r) == m,
                    None => has_text(r, "after"),
                })
                .await;
            ensure(done, "the good message after the bad input never arrived")?;
            sleep(300).await;
            ensure(rec.opens() == 1, "opened more than once")?;
            ensure(
                reconnects(rec) == 0,
                "reconnected: the bad input broke the session",
            )?;
            ensure(rec.closes() == 0, "closed")?;
            if let Some(m) = want {
                ensure(texts(rec) == m, &format!("messages {:?}", texts(rec)))?;
            } else {
                let n = case
                    .extra
                    .iter()
                    .find_map(|x| match x {
                        Count(n) => Some(*n),
                        _ => None,
                    })
                    .unwrap_or(1);
                let got = texts(rec);
                ensure(
                    got.len() == n && got.last().map(String::as_str) == Some("after"),
                    &format!("messages {got:?}"),
                )?;
            }
            let errs = errors(rec);
            match kind {
                No => ensure(
                    errs.is_empty(),
                    &format!("unexpected error events {errs:?}"),
                )?,
                MaybeBad => ensure(
                    errs.iter().all(|e| kind_of(e) == Bad),
                    &format!("wanted bad-frame error events or none, got {errs:?}"),
                )?,
                k => ensure(
                    !errs.is_empty() && errs.iter().all(|e| kind_of(e) == k),
                    &format!("wanted {k:?} error events, got {errs:?}"),
                )?,
            }
            ensure(c.state() == StateKind::Open, "not open")?;
            ensure(c.send(text("alive")) == SendOutcome::Sent, "send not sent")?;
        }
        Recover => {
            let done = rec.wait(7_000.0, |r| has_text(r, "recovered")).await;
            ensure(done, "never recovered on a later connection")?;
            ensure(
                reconnects(rec) >= 1,
                "recovered without a reconnect or fallback",
            )?;
            ensure(rec.closes() == 0, "closed")?;
            ensure(!has_text(rec, "evil"), "delivered a bad frame")?;
            ensure(c.state() == StateKind::Open, "not open")?;
            ensure(c.send(text("alive")) == SendOutcome::Sent, "send not sent")?;
        }
        Closed(code) => {
            let done = rec.wait(6_000.0, |r| r.closes() == 1).await;
            ensure(done, "never closed")?;
            let got = rec.0.borrow().iter().find_map(|(_, e)| match e {
                Event::Close { code, reason, .. } => Some((*code, reason.clone())),
                _ => None,
            });
            ensure(
                matches!(&got, Some((c, r)) if *c == code && !r.is_empty()),
                &format!("closed with {got:?}, wanted {code} and a reason"),
            )?;
            ensure(c.state() == StateKind::Closed, "state is not closed")?;
            ensure(
                c.send(text("late")) == SendOutcome::Rejected(RejectReason::Closed),
                "send after close not rejected",
            )?;
        }
        CloseEarly => {
            ensure(rec.wait(4_000.0, |r| r.opens() == 1).await, "never opened")?;
            c.close(1000, "bye")
                .map_err(|e| format!("close failed: {e}"))?;
            let at = rec.len();
            sleep(1_000).await;
            ensure(rec.len() == at, "events after close")?;
            ensure(!has_text(rec, "after-close"), "delivered after close")?;
            let last_is_close = matches!(rec.0.borrow().last(), Some((_, Event::Close { .. })));
            ensure(last_is_close, "the last event is not close")?;
        }
    }
    for extra in case.extra {
        match *extra {
            MaxPings(n) => {
                sleep(1_500).await;
                let pings = stat(case.name, run, "pings").await;
                ensure(pings <= n, &format!("{pings} pings in about 2 s"))?;
            }
            MaxPolls(n) => {
                sleep(1_500).await;
                let polls = stat(case.name, run, "polls").await;
                ensure(polls <= n, &format!("{polls} polls in about 2 s"))?;
            }
            MaxSse(n) => {
                let sse = stat(case.name, run, "sse").await;
                ensure(sse <= n, &format!("{sse} SSE requests"))?;
            }
            SendTooBig => ensure(
                c.send(Payload::Binary(vec![0; 2_000]))
                    == SendOutcome::Rejected(RejectReason::TooBig),
                "a 2000-byte send was not refused",
            )?,
            DelayAtMost(ms) => {
                let delays: Vec<u64> = rec
                    .0
                    .borrow()
                    .iter()
                    .filter_map(|(_, e)| match e {
                        Event::Reconnecting { delay_ms, .. } => Some(*delay_ms),
                        _ => None,
                    })
                    .collect();
                ensure(
                    delays.iter().all(|d| *d <= ms && *d >= 1),
                    &format!("delays {delays:?}"),
                )?;
            }
            NoRedirectHit => {
                let hits = stat(case.name, run, "redirect_hits").await;
                ensure(hits == 0, &format!("{hits} requests followed the redirect"))?;
            }
            ReportRedirect => {
                let hits = stat(case.name, run, "redirect_hits").await;
                web_sys::console::log_1(
                    &format!(
                        "HOSTILE {}: {hits} request(s) followed the redirect",
                        case.name
                    )
                    .into(),
                );
            }
            GapEvent => ensure(
                rec.count(|e| matches!(e, Event::Gap { .. })) == 1,
                "no gap event",
            )?,
            Fallback => ensure(
                rec.count(|e| {
                    matches!(
                        e,
                        Event::Open {
                            transport: TransportKind::LongPolling
                        }
                    )
                }) == 1,
                "did not fall back to long polling",
            )?,
            Exact(m) => ensure(texts(rec) == m, &format!("messages {:?}", texts(rec)))?,
            NoPollution => {
                let probe = js_sys::Object::new();
                let polluted = Reflect::get(&probe, &"polluted".into()).unwrap_or(JsValue::NULL);
                ensure(polluted.is_undefined(), "Object.prototype polluted")?;
            }
            OverLimit => ensure(
                rec.count(|e| {
                    matches!(
                        e,
                        Event::Reconnecting {
                            reason: DisconnectReason::Failed(TransportError::Network(m)),
                            ..
                        } if m.contains("-byte limit")
                    )
                }) >= 1,
                "no connection failed on the answer size limit",
            )?,
            Count(_) => {}
        }
    }
    Ok(())
}

thread_local! {
    static JS_ERRORS: Rc<Cell<u32>> = Rc::new(Cell::new(0));
    static JS_ERROR_TEXTS: Rc<RefCell<Vec<String>>> = Rc::new(RefCell::new(Vec::new()));
    static TRAP: Cell<bool> = const { Cell::new(false) };
}

/// Counts uncaught errors and unhandled rejections on the page from now on.
fn trap_js_errors() {
    if TRAP.with(|t| t.replace(true)) {
        return;
    }
    let target: web_sys::EventTarget = js_sys::global().unchecked_into();
    for kind in ["error", "unhandledrejection"] {
        let count = JS_ERRORS.with(Rc::clone);
        let texts = JS_ERROR_TEXTS.with(Rc::clone);
        let f = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            count.set(count.get() + 1);
            let what = Reflect::get(&e, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
                .unwrap_or_else(|| e.type_());
            texts.borrow_mut().push(what);
        });
        let _ = target.add_event_listener_with_callback(kind, f.as_ref().unchecked_ref());
        f.forget(); // test-only: lives for the page
    }
}

fn wasm_memory_bytes() -> u64 {
    core::arch::wasm32::memory_size(0) as u64 * 65_536
}

/// Runs `cases` `parallel` at a time and asserts on all of them, naming every failure.
async fn run_group(group: &str, cases: &'static [Case], parallel: usize) {
    fault("recover").await;
    trap_js_errors();
    let errors_before = JS_ERRORS.with(|c| c.get());
    let memory_before = wasm_memory_bytes();
    let t0 = now();
    let failures = Rc::new(RefCell::new(Vec::<String>::new()));
    let slowest = Rc::new(RefCell::new((0.0f64, "")));
    for chunk in cases.chunks(parallel) {
        let promises = Array::new();
        for case in chunk {
            let failures = Rc::clone(&failures);
            let slowest = Rc::clone(&slowest);
            promises.push(&future_to_promise(async move {
                match run_case(case).await {
                    Ok(ms) => {
                        let mut s = slowest.borrow_mut();
                        if ms > s.0 {
                            *s = (ms, case.name);
                        }
                    }
                    Err(why) => failures.borrow_mut().push(why),
                }
                Ok(JsValue::UNDEFINED)
            }));
        }
        let _ = JsFuture::from(Promise::all(&promises)).await;
    }
    let elapsed = now() - t0;
    let grown = wasm_memory_bytes().saturating_sub(memory_before);
    let (slow_ms, slow_name) = *slowest.borrow();
    web_sys::console::log_1(
        &format!(
            "HOSTILE {group}: {} cases in {elapsed:.0} ms (slowest {slow_name} {slow_ms:.0} ms), \
             wasm memory +{grown} bytes",
            cases.len()
        )
        .into(),
    );
    report(&format!("hostile group {group}"), elapsed);
    let mut failures = failures.borrow().clone();
    let js_errors = JS_ERRORS.with(|c| c.get()) - errors_before;
    if js_errors > 0 {
        let texts = JS_ERROR_TEXTS.with(|t| t.borrow().clone());
        failures.push(format!("{js_errors} uncaught JS error(s): {texts:?}"));
    }
    // Oversized input (20 MiB WebSocket messages, 3 MiB bodies and events) must never be copied
    // into wasm: what the group may grow is its clients' ordinary working set.
    if grown > 8 << 20 {
        failures.push(format!("wasm memory grew by {grown} bytes"));
    }
    assert!(
        failures.is_empty(),
        "{} of {} hostile {group} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[wasm_bindgen_test]
async fn hostile_websocket_frames_and_raw_mode() {
    run_group("websocket-frames", FRAMES, 10).await;
}

#[wasm_bindgen_test]
async fn hostile_sequence_numbers_and_announced_settings() {
    run_group("sequence-and-settings", SEQUENCE_AND_SETTINGS, 10).await;
}

#[wasm_bindgen_test]
async fn hostile_handshake_over_websocket() {
    run_group("handshake", HANDSHAKE, 10).await;
}

#[wasm_bindgen_test]
async fn hostile_sse_streams() {
    run_group("sse", SSE, 3).await;
}

#[wasm_bindgen_test]
async fn hostile_long_and_short_polling() {
    run_group("polling", POLLING, 3).await;
}
