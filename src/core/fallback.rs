//! The fallback ladder: where the next attempt goes after a failure (PROTOCOL.md §9,
//! ARCHITECTURE.md "Fallback").

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
/// handshake before it failed) is retried with backoff; an untrusted one hands over to the next
/// transport at once; when the last one fails, the round is over and the client backs off and
/// starts again from the top.
pub(crate) fn after_failure(len: usize, index: usize, trusted: bool) -> Next {
    if trusted {
        return Next::Retry(index);
    }
    let to = index + 1;
    if to < len {
        Next::Fallback { from: index, to }
    } else {
        Next::Retry(0)
    }
}
