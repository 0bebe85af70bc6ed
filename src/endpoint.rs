//! Where each transport connects, derived from the one base URL the app gives.
//!
//! Pure string logic (no `web-sys`), so it is tested on the host.

use crate::config::{Protocol, TransportKind};

/// The URL to open for `transport`, given the app's `base` URL (PROTOCOL.md §8).
///
/// In protocol mode `base` is the server's base URL (`https://rt.example.com/holdfast`, or the
/// same with `ws(s)://`); the WebSocket endpoint is `{base}/ws` with `http(s)` mapped to `ws(s)`,
/// and any query string (a token, say) kept at the end. In raw mode `base` is used as given, with
/// `http(s)` mapped to `ws(s)`. Returns an error naming the problem for a URL that is not absolute
/// `http(s)://` or `ws(s)://`.
pub fn transport_url(
    base: &str,
    transport: TransportKind,
    protocol: &Protocol,
) -> Result<String, String> {
    let (secure, path, query) = split(base)?;
    let ws_scheme = if secure { "wss" } else { "ws" };
    Ok(match (protocol, transport) {
        (Protocol::Raw(_), _) => [ws_scheme, "://", path, query].concat(),
        (Protocol::Holdfast, TransportKind::WebSocket) => {
            [ws_scheme, "://", path, "/ws", query].concat()
        }
        // The HTTP routes' URLs are built in one place.
        (Protocol::Holdfast, TransportKind::Sse) => return http_url(base, "sse", &[]),
        (Protocol::Holdfast, TransportKind::LongPolling | TransportKind::Polling) => {
            return http_url(base, "poll", &[])
        }
    })
}

/// The URL of an HTTP route under the app's `base` URL (PROTOCOL.md §8.2–§8.5): `route` is
/// `sse`, `send`, `poll/open` or `poll`; `params` come first in the query, then whatever query the
/// base URL carried (a token, say). `ws(s)` maps to `http(s)`. Values must already be URL-safe
/// (session ids, numbers, base64url).
pub fn http_url(base: &str, route: &str, params: &[(&str, &str)]) -> Result<String, String> {
    let (secure, path, query) = split(base)?;
    let scheme = if secure { "https" } else { "http" };
    let mut out = [scheme, "://", path, "/", route].concat();
    let mut sep = '?';
    for (key, value) in params {
        out.push(sep);
        out.push_str(key);
        out.push('=');
        out.push_str(value);
        sep = '&';
    }
    if let Some(q) = query.strip_prefix('?').filter(|q| !q.is_empty()) {
        out.push(sep);
        out.push_str(q);
    }
    Ok(out)
}

/// `(secure, host and path without a trailing /, "?query" or "")` of an absolute http(s) or
/// ws(s) URL; the fragment is dropped (it never reaches the server).
fn split(base: &str) -> Result<(bool, &str, &str), String> {
    let base = base.trim();
    let (scheme, rest) = base.split_once("://").ok_or_else(|| {
        [
            "url `",
            base,
            "` is not absolute (expected http(s):// or ws(s)://)",
        ]
        .concat()
    })?;
    let secure = match scheme.to_ascii_lowercase().as_str() {
        "https" | "wss" => true,
        "http" | "ws" => false,
        other => return Err(["url scheme `", other, "` is not http(s) or ws(s)"].concat()),
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(["url `", base, "` has no host"].concat());
    }
    let (path, query) = match rest.find(['?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let query = query.split('#').next().unwrap_or("");
    Ok((secure, path.trim_end_matches('/'), query))
}

/// A `Retry-After` header value in ms: whole seconds only (an HTTP date is ignored, as is
/// anything unparsable); the core clamps it to `maxRetryAfterMs`.
pub fn retry_after_ms(value: &str) -> Option<u64> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| s.saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use TransportKind::*;

    #[test]
    fn maps_schemes_paths_and_keeps_the_query() {
        let p = Protocol::Holdfast;
        let u = |b| transport_url(b, WebSocket, &p);
        assert_eq!(
            u("http://h:8080/holdfast").as_deref(),
            Ok("ws://h:8080/holdfast/ws")
        );
        assert_eq!(
            u("https://h/holdfast/").as_deref(),
            Ok("wss://h/holdfast/ws")
        );
        assert_eq!(
            u("wss://h/hf?token=a#frag").as_deref(),
            Ok("wss://h/hf/ws?token=a")
        );
        assert_eq!(u("HTTP://h").as_deref(), Ok("ws://h/ws"));
        assert_eq!(
            transport_url("https://h/hf?t=1", Sse, &p).as_deref(),
            Ok("https://h/hf/sse?t=1")
        );
        assert_eq!(
            transport_url("http://h/echo", WebSocket, &Protocol::Raw(None)).as_deref(),
            Ok("ws://h/echo")
        );
    }

    #[test]
    fn http_routes_put_their_params_before_the_base_query() {
        assert_eq!(
            http_url("ws://h:1/hf/?t=a#x", "send", &[("session", "s1")]).as_deref(),
            Ok("http://h:1/hf/send?session=s1&t=a")
        );
        assert_eq!(
            http_url("https://h/hf", "poll", &[("session", "s"), ("cursor", "7")]).as_deref(),
            Ok("https://h/hf/poll?session=s&cursor=7")
        );
        assert_eq!(
            http_url("http://h/hf?t=1", "poll/open", &[]).as_deref(),
            Ok("http://h/hf/poll/open?t=1")
        );
        assert!(http_url("ftp://h", "sse", &[]).is_err());
    }

    #[test]
    fn retry_after_is_seconds_or_nothing() {
        assert_eq!(retry_after_ms(" 3 "), Some(3000));
        assert_eq!(retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(retry_after_ms("-1"), None);
        assert_eq!(retry_after_ms("99999999999999999999"), None);
    }

    #[test]
    fn rejects_what_is_not_a_url() {
        for bad in [
            "",
            "/holdfast",
            "h/holdfast",
            "ftp://h",
            "http://",
            "http:///x",
        ] {
            assert!(
                transport_url(bad, WebSocket, &Protocol::Holdfast).is_err(),
                "{bad}"
            );
        }
    }
}
