//! The fallback ladder: where the next attempt goes after a failure (PROTOCOL.md §9,
//! ARCHITECTURE.md "Fallback"), and the stored form of the transport remembered for the tab.

use crate::config::TransportKind;

/// Where the next attempt goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Back off, then retry the transport at this index.
    Retry(usize),
    /// Hand over to the next transport at once (the one that failed was never trusted).
    Fallback {
        /// The index that failed.
        from: usize,
        /// The index tried next.
        to: usize,
    },
}

/// After the transport at `index` of a chain of `len` failed: a trusted one (it completed a
/// handshake before it failed) is retried with backoff, until it failed `limit` times in a row
/// after being trusted (`failures_here`), when the chain is walked down; an untrusted one hands
/// over to the next transport at once; when the last one fails untrusted, the round is over and
/// the client backs off and starts again from the top.
pub(crate) fn after_failure(
    len: usize,
    index: usize,
    trusted: bool,
    failures_here: u32,
    limit: u32,
) -> Next {
    let to = index + 1;
    if trusted && (failures_here < limit || to >= len) {
        return Next::Retry(index);
    }
    if to < len {
        Next::Fallback { from: index, to }
    } else {
        Next::Retry(0)
    }
}

/// The stored form of a remembered transport: `name@expires_at_ms` (ms since the epoch).
pub fn remembered_value(kind: TransportKind, now_ms: f64, ttl_ms: u64) -> String {
    let expires = now_ms.max(0.0) as u64 + ttl_ms;
    [kind.name(), "@", &crate::text::dec(expires)].concat()
}

/// The transport in a stored value, if it parses and has not expired at `now_ms`. Anything
/// else (another version's format, a hand-edited value) is ignored.
pub fn parse_remembered(value: &str, now_ms: f64) -> Option<TransportKind> {
    let (name, expires) = value.split_once('@')?;
    let expires: u64 = expires.parse().ok()?;
    let kind = TransportKind::parse(name)?;
    ((now_ms.max(0.0) as u64) < expires).then_some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_hands_over_trusted_retries_until_the_limit() {
        assert_eq!(
            after_failure(4, 0, false, 0, 3),
            Next::Fallback { from: 0, to: 1 }
        );
        assert_eq!(after_failure(4, 3, false, 0, 3), Next::Retry(0));
        assert_eq!(after_failure(4, 1, true, 1, 3), Next::Retry(1));
        assert_eq!(after_failure(4, 1, true, 2, 3), Next::Retry(1));
        assert_eq!(
            after_failure(4, 1, true, 3, 3),
            Next::Fallback { from: 1, to: 2 }
        );
        // The last rung has nowhere to go: it keeps retrying itself.
        assert_eq!(after_failure(4, 3, true, 9, 3), Next::Retry(3));
        assert_eq!(after_failure(1, 0, true, 9, 3), Next::Retry(0));
    }

    #[test]
    fn a_remembered_transport_expires_and_garbage_is_ignored() {
        let v = remembered_value(TransportKind::LongPolling, 1_000.0, 500);
        assert_eq!(v, "long-polling@1500");
        assert_eq!(
            parse_remembered(&v, 1_499.0),
            Some(TransportKind::LongPolling)
        );
        assert_eq!(parse_remembered(&v, 1_500.0), None);
        for bad in ["", "sse", "sse@", "sse@x", "carrier-pigeon@9999", "@5"] {
            assert_eq!(parse_remembered(bad, 0.0), None, "{bad}");
        }
    }
}
