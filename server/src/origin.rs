//! The `Origin` check applied to both WebSocket endpoints before the upgrade, and to every HTTP
//! transport route before anything is read.
//!
//! Browsers send `Origin` on every WebSocket handshake, and a WebSocket is not protected by CORS,
//! so the server must refuse foreign pages itself (cross-site WebSocket hijacking). The HTTP
//! transports use CORS simple requests (a send POST is not preflighted), so the same check
//! refuses them with `403` instead of relying on the browser hiding the answer. Requests without
//! an `Origin` header come from non-browser clients and are always allowed.

/// Which page origins may use this server's protocol endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OriginPolicy {
    /// Every origin.
    Any,
    /// Exactly these origins (`scheme://host[:port]`, compared case-insensitively, a trailing `/`
    /// ignored).
    List(Vec<String>),
    /// Pages served from the loopback interface: `http(s)://127.0.0.1[:port]`,
    /// `http(s)://localhost[:port]` and `http(s)://[::1][:port]`. The default.
    #[default]
    Loopback,
}

impl OriginPolicy {
    /// Whether a request carrying `origin` (`None` = no `Origin` header) may upgrade.
    pub fn allows(&self, origin: Option<&str>) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        let origin = origin.trim().trim_end_matches('/');
        match self {
            OriginPolicy::Any => true,
            OriginPolicy::List(list) => list.iter().any(|allowed| {
                allowed
                    .trim()
                    .trim_end_matches('/')
                    .eq_ignore_ascii_case(origin)
            }),
            OriginPolicy::Loopback => is_loopback_origin(origin),
        }
    }
}

/// `http(s)://127.0.0.1[:port]`, `http(s)://localhost[:port]` or `http(s)://[::1][:port]`.
fn is_loopback_origin(origin: &str) -> bool {
    let lower = origin.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
    else {
        return false;
    };
    let port = ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .find_map(|host| rest.strip_prefix(host));
    match port {
        Some("") => true,
        Some(p) => p
            .strip_prefix(':')
            .is_some_and(|digits| !digits.is_empty() && digits.parse::<u16>().is_ok()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::OriginPolicy;

    #[test]
    fn loopback_accepts_local_pages_only() {
        let p = OriginPolicy::Loopback;
        assert!(p.allows(None));
        assert!(p.allows(Some("http://127.0.0.1:8080")));
        assert!(p.allows(Some("http://localhost")));
        assert!(p.allows(Some("https://[::1]:3000")));
        assert!(!p.allows(Some("http://127.0.0.1.evil.com")));
        assert!(!p.allows(Some("http://localhost:80x")));
        assert!(!p.allows(Some("http://example.com")));
        assert!(!p.allows(Some("null")));
    }

    #[test]
    fn list_matches_exactly() {
        let p = OriginPolicy::List(vec!["https://app.example.com".into()]);
        assert!(p.allows(Some("https://APP.example.com/")));
        assert!(!p.allows(Some("https://app.example.com:444")));
        assert!(OriginPolicy::Any.allows(Some("http://anything")));
    }
}
