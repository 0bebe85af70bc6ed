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
    let base = base.trim();
    let (scheme, rest) = base
        .split_once("://")
        .ok_or_else(|| format!("url `{base}` is not absolute (expected http(s):// or ws(s)://)"))?;
    let scheme = scheme.to_ascii_lowercase();
    let secure = match scheme.as_str() {
        "https" | "wss" => true,
        "http" | "ws" => false,
        other => return Err(format!("url scheme `{other}` is not http(s) or ws(s)")),
    };
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("url `{base}` has no host"));
    }
    let (path, query) = match rest.find(['?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    // Fragments never reach the server.
    let query = query.split('#').next().unwrap_or("");
    let ws_scheme = if secure { "wss" } else { "ws" };
    let http_scheme = if secure { "https" } else { "http" };
    let path = path.trim_end_matches('/');
    Ok(match (protocol, transport) {
        (Protocol::Raw(_), _) => format!("{ws_scheme}://{path}{query}"),
        (Protocol::Holdfast, TransportKind::WebSocket) => {
            format!("{ws_scheme}://{path}/ws{query}")
        }
        (Protocol::Holdfast, TransportKind::Sse) => format!("{http_scheme}://{path}/sse{query}"),
        (Protocol::Holdfast, TransportKind::LongPolling | TransportKind::Polling) => {
            format!("{http_scheme}://{path}/poll{query}")
        }
    })
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
