//! What the server reads from a client's HTTP request, on arbitrary text: the raw query of
//! every HTTP route (`session`, `cursor`, `hold`, `hello`, read as the handlers read them), the
//! session id rules, the SSE `hello` value, a poll-open body and a send body (batches), and the
//! `Origin` check; plus the client's own readers of server and app text (`Retry-After`, the
//! base URL). Never panics, and each answer is consistent with its input.
#![no_main]

use holdfast::config::{Protocol, TransportKind};
use holdfast::endpoint::{http_url, retry_after_ms, transport_url};
use holdfast::protocol::{is_valid_session_id, split_batch, Limits, MAX_BATCH_FRAMES};
use holdfast_server::fuzzing::{poll_open_hello, query_param, sse_hello};
use holdfast_server::OriginPolicy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let query = Some(&*text);
    let limits = Limits {
        max_message_bytes: 1 << 20,
    };
    // A name taken from the input too, so odd names get looked up.
    let odd = text.split(['=', '&']).next().unwrap_or("");
    for name in ["session", "cursor", "hold", "hello", odd] {
        if let Some(v) = query_param(query, name) {
            assert!(!v.contains('&'), "{name}={v:?}");
            // The first pair whose key is `name`: `name=v`, or a bare `name` for "".
            let first = text
                .split('&')
                .find(|p| p.split_once('=').map_or(*p, |(k, _)| k) == name);
            let first = first.expect("a value comes from a pair");
            assert!(first == [name, "=", v].concat() || (v.is_empty() && first == name));
        }
    }
    assert_eq!(query_param(None, "session"), None);
    // GET {base}/poll: session, cursor (a whole number), hold.
    if let Some(session) = query_param(query, "session") {
        let _ = is_valid_session_id(session);
    }
    if let Some(cursor) = query_param(query, "cursor") {
        if let Ok(n) = cursor.parse::<u64>() {
            assert!(cursor.bytes().all(|b| b.is_ascii_digit() || b == b'+'));
            let _ = n;
        }
    }
    let _hold = query_param(query, "hold") != Some("0");
    // GET {base}/sse?hello=…
    if let Some(h) = query_param(query, "hello").and_then(|v| sse_hello(v, &limits)) {
        assert!(h.session.as_deref().is_none_or(is_valid_session_id));
    }
    let _ = sse_hello(&text, &limits);
    // POST bodies: poll/open (HELLO first) and send (any batch).
    let _ = poll_open_hello(data, &limits);
    if let Ok(frames) = split_batch(data) {
        assert!(frames.len() <= MAX_BATCH_FRAMES);
    }
    // Session ids end up in URLs: a valid one needs no escaping.
    if is_valid_session_id(&text) {
        assert!(text.len() <= 64);
        assert!(!text.contains(['/', '?', '#', '&', '%', '=', '\r', '\n', ' ']));
    }
    // The Origin check.
    let origin = Some(&*text);
    assert!(OriginPolicy::Any.allows(origin));
    if OriginPolicy::Loopback.allows(origin) {
        let o = text.trim().to_ascii_lowercase();
        let rest = o
            .strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"));
        let rest = rest.expect("a loopback origin is http(s)");
        let rest = rest.trim_end_matches('/');
        let host_ok = ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .any(|h| rest == *h || rest.strip_prefix(h).is_some_and(|p| p.starts_with(':')));
        assert!(host_ok, "loopback allowed {text:?}");
    }
    let list = OriginPolicy::List(vec!["https://app.example.com".into()]);
    if list.allows(origin) {
        assert!(text
            .trim()
            .trim_end_matches('/')
            .eq_ignore_ascii_case("https://app.example.com"));
    }
    // Client side: Retry-After and the base URL.
    if let Some(ms) = retry_after_ms(&text) {
        assert!(ms % 1000 == 0 || ms == u64::MAX);
    }
    for kind in TransportKind::ALL {
        if let Ok(url) = transport_url(&text, kind, &Protocol::Holdfast) {
            assert!(["ws://", "wss://", "http://", "https://"]
                .iter()
                .any(|s| url.starts_with(s)));
        }
    }
    if let Ok(url) = http_url(&text, "send", &[("session", "s1")]) {
        assert!(url.contains("/send?session=s1"), "{url}");
    }
});
