//! Reconnect delays: exponential growth, capped, then full jitter — and the retry-policy hook.
//!
//! Jitter is applied *after* the cap (`random(0, min(cap, base·factor^n))`), unlike socket.io,
//! whose jitter-before-cap makes every client retry at exactly the cap from the fourth attempt on
//! and so synchronises reconnect storms. The exponent is clamped and the arithmetic done in `f64`,
//! so any attempt count (10^6, u32::MAX) yields the cap instead of overflowing to 0.

use crate::config::MAX_TIMER_MS;

/// A source of uniform samples in `[0, 1)` for jitter. Injected so tests are deterministic.
pub trait Jitter {
    /// One sample in `[0, 1)`. Values outside are clamped; NaN counts as 0.
    fn sample(&mut self) -> f64;
}

impl<F: FnMut() -> f64> Jitter for F {
    fn sample(&mut self) -> f64 {
        self()
    }
}

/// A small xorshift64* generator: the default jitter source, seeded by the caller
/// (the browser glue seeds it from `Math.random()`).
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (0 is replaced by a fixed non-zero constant).
    pub fn new(seed: u64) -> Self {
        XorShift(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }
}

impl Jitter for XorShift {
    fn sample(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        // Top 53 bits → uniform in [0, 1).
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The capped exponential ceiling for failure number `attempt` (1-based):
/// `min(cap, base · factor^(attempt−1))`. Overflow-safe for every `attempt`.
pub fn ceiling_ms(base_ms: u64, cap_ms: u64, factor: f64, attempt: u32) -> u64 {
    // Beyond 2048 doublings f64 is infinite anyway; clamping keeps powi's argument small.
    let exp = attempt.saturating_sub(1).min(2048) as i32;
    let raw = base_ms as f64 * factor.powi(exp);
    if !raw.is_finite() || raw >= cap_ms as f64 {
        cap_ms
    } else {
        raw as u64
    }
}

/// Full jitter: a delay uniform in `[1, ceiling]` ms from a sample in `[0, 1)`.
/// Never 0, so no timer is ever armed for "now".
pub fn full_jitter(ceiling_ms: u64, sample: f64) -> u64 {
    let s = if sample.is_nan() {
        0.0
    } else {
        sample.clamp(0.0, 1.0)
    };
    ((ceiling_ms as f64 * s) as u64).clamp(1, MAX_TIMER_MS)
}

/// Why the connection is being retried, passed to a [`RetryPolicy`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryContext<'a> {
    /// 1-based number of consecutive failures, including this one.
    pub attempt: u32,
    /// Milliseconds since the connection was last open (or since the first attempt).
    pub elapsed_ms: u64,
    /// What failed.
    pub reason: &'a super::DisconnectReason,
    /// The delay the built-in policy would use (already jittered).
    pub default_delay_ms: u64,
}

/// A custom reconnect schedule, like SignalR's `IRetryPolicy`: a pure function of the context.
pub trait RetryPolicy {
    /// The delay before the next attempt, or `None` to stop reconnecting for good.
    /// The result is clamped to `[1, 2^31−1]` ms.
    fn next_delay_ms(&mut self, ctx: &RetryContext<'_>) -> Option<u64>;
}

impl<F: FnMut(&RetryContext<'_>) -> Option<u64>> RetryPolicy for F {
    fn next_delay_ms(&mut self, ctx: &RetryContext<'_>) -> Option<u64> {
        self(ctx)
    }
}
