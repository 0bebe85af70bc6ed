//! One `setTimeout` owned by a value; dropping it clears the timeout.
//!
//! Backed by `gloo_timers::callback::Timeout` (the design card's crate: +118 B gzip over our own
//! binding, ARCHITECTURE.md "Crates"), wrapped so the live counters still see every timer.

use super::counts::{bump, Kind};
use crate::config::MAX_TIMER_MS;

/// An armed timeout. gloo binds the global `setTimeout`, so it works in workers too.
#[must_use = "the timeout is cleared when this value is dropped"]
pub(crate) struct Timeout {
    _inner: gloo_timers::callback::Timeout,
}

impl Timeout {
    /// Calls `f` once after `ms` (clamped to what `setTimeout` can represent).
    pub(crate) fn new(ms: u64, f: impl FnOnce() + 'static) -> Timeout {
        // The clamp keeps the value below 2^31, so gloo's cast to i32 cannot wrap.
        let ms = u32::try_from(ms.min(MAX_TIMER_MS)).unwrap_or(u32::MAX >> 1);
        let inner = gloo_timers::callback::Timeout::new(ms, f);
        bump(Kind::Timer, 1);
        Timeout { _inner: inner }
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        // The inner timeout's own Drop runs after this one and calls clearTimeout.
        bump(Kind::Timer, -1);
    }
}
