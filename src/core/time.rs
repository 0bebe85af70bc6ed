//! Time as the core sees it: milliseconds on a monotonic clock supplied by the caller.
//!
//! The core never reads a clock (`std::time::Instant::now()` panics on wasm32); every entry point
//! takes `now`. The browser glue passes `performance.now()`, tests pass a simulated clock.

/// A point on the caller's monotonic clock, in whole milliseconds. All arithmetic saturates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The instant `ms` milliseconds after the clock's origin.
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms)
    }

    /// Milliseconds since the clock's origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// This instant plus `ms` (saturating).
    pub const fn plus(self, ms: u64) -> Self {
        Instant(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, or 0 if `earlier` is later.
    pub const fn since(self, earlier: Instant) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}
