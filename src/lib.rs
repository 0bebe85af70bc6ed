//! holdfast keeps a browser's real-time connection alive: heartbeat and dead-link detection,
//! reconnect with full-jitter backoff, a bounded send queue with an explicit outcome for every
//! send, and a transport fallback chain.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unreachable,
    clippy::todo
)]
#![warn(missing_docs, missing_debug_implementations)]

pub mod config;
pub mod core;
pub mod endpoint;
pub mod protocol;
#[cfg(target_arch = "wasm32")]
pub mod web;

// talc instead of std's dlmalloc: 2.6 KB smaller in the module and 1.2 KB gzip (BENCHMARKS.md,
// "Size levers"). The browser runs wasm on one thread, which is what `TalckWasm` assumes.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
// SAFETY: wasm32-unknown-unknown without the atomics feature has a single thread, so the
// allocator's lock is never contended; `new_global` is meant for exactly this static.
static ALLOC: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };
