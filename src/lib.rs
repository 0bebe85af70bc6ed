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
