//! The server's clock for its sans-IO sessions: whole milliseconds since the process first asked,
//! as [`holdfast::core::Instant`], and back to a tokio deadline.

use holdfast::core::Instant;
use std::sync::OnceLock;
use std::time::Duration;

static ORIGIN: OnceLock<tokio::time::Instant> = OnceLock::new();

fn origin() -> tokio::time::Instant {
    *ORIGIN.get_or_init(tokio::time::Instant::now)
}

/// Now, for session calls.
pub(crate) fn now() -> Instant {
    Instant::from_millis(u64::try_from(origin().elapsed().as_millis()).unwrap_or(u64::MAX))
}

/// The tokio instant of a session deadline. `now()` rounds down, so sleeping until this and then
/// reading `now()` never lands before the deadline.
pub(crate) fn deadline(at: Instant) -> tokio::time::Instant {
    origin()
        .checked_add(Duration::from_millis(at.as_millis()))
        // Beyond what the platform's clock can represent: as good as never.
        .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600))
}
