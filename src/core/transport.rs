//! What each transport kind can do, decided here once so the rest of the core asks instead of
//! matching on the kind (PROTOCOL.md §8): how HELLO travels, how frames go up, how they come down,
//! and how the downstream proves the link is alive.

use crate::config::TransportKind;

/// How client → server frames travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Upstream {
    /// One transport message per frame, as soon as it exists (WebSocket).
    Message,
    /// Frames are batched into `POST {base}/send` bodies, with at most one POST in flight; frames
    /// produced meanwhile go together in the next one (SSE and both pollings).
    Post,
}

/// How server → client frames arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Downstream {
    /// One binary transport message per frame (WebSocket).
    Message,
    /// One text event per frame, base64 (SSE).
    Base64Events,
    /// Batches answering GET polls the client issues one at a time. `held`: the server holds a
    /// poll until it has frames (long polling), so the next one goes out as soon as an answer
    /// came; otherwise (short polling) the next one waits `pollIntervalMs`.
    Polls {
        /// Whether the server holds each poll.
        held: bool,
    },
}

/// The capabilities of one transport kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Caps {
    /// HELLO goes in the request that opens the transport (the SSE URL, the poll-open body),
    /// rather than as the first message once it is open.
    pub(crate) hello_in_open: bool,
    /// How frames go up.
    pub(crate) upstream: Upstream,
    /// How frames come down.
    pub(crate) downstream: Downstream,
}

/// Largest POST body the client builds from several frames (PROTOCOL.md §8.5); a single frame
/// larger than this goes alone.
pub(crate) const MAX_POST_BYTES: usize = 64 * 1024;

impl Caps {
    /// The capabilities of `kind`.
    pub(crate) fn of(kind: TransportKind) -> Caps {
        match kind {
            TransportKind::WebSocket => Caps {
                hello_in_open: false,
                upstream: Upstream::Message,
                downstream: Downstream::Message,
            },
            TransportKind::Sse => Caps {
                hello_in_open: true,
                upstream: Upstream::Post,
                downstream: Downstream::Base64Events,
            },
            TransportKind::LongPolling => Caps {
                hello_in_open: true,
                upstream: Upstream::Post,
                downstream: Downstream::Polls { held: true },
            },
            TransportKind::Polling => Caps {
                hello_in_open: true,
                upstream: Upstream::Post,
                downstream: Downstream::Polls { held: false },
            },
        }
    }

    /// Whether the client issues polls.
    pub(crate) fn polls(&self) -> bool {
        matches!(self.downstream, Downstream::Polls { .. })
    }
}
