//! holdfast keeps a browser's real-time connection alive: heartbeat and dead-link detection,
//! reconnect with full-jitter backoff, a bounded send queue with an explicit outcome for every
//! send, and a transport fallback chain (WebSocket → SSE → long polling → polling) with upgrade
//! back. With a holdfast server (`holdfast-server`), a session outlives every connection:
//! nothing is lost or duplicated across reconnects and transport switches.
//!
//! This crate is the Rust API for browser apps (Leptos, Yew, Dioxus, plain `wasm-bindgen`) on
//! `wasm32-unknown-unknown`; the same client ships as the npm package `holdfast`, whose
//! `#[wasm_bindgen]` exports are behind the `js` feature (off by default).
//!
//! # Use
//!
//! [`Holdfast::builder`] takes the server's base URL and every option of the JS API
//! (durations as [`std::time::Duration`]); [`connect`](HoldfastBuilder::connect) validates
//! them, starts connecting at once and returns a [`Holdfast`] handle and the [`Events`]
//! stream. Events arrive in order: `Open`, then `Message`s, `Reconnecting` and `Transport`
//! while it recovers, `Error` for non-fatal problems, `Gap` when a session could not be
//! resumed, and exactly one terminal `Close`, after which the stream ends.
//!
//! ```no_run
//! # #[cfg(target_arch = "wasm32")]
//! # fn main() -> Result<(), holdfast::ConnectError> {
//! use holdfast::{Event, Holdfast, Payload, SendOutcome};
//! use std::time::Duration;
//!
//! let (hf, mut events) = Holdfast::builder("https://rt.example.com/holdfast")
//!     .heartbeat_interval(Duration::from_secs(5))
//!     .heartbeat_timeout(Duration::from_secs(10))
//!     .connect()?;
//!
//! // Queued until the connection is open, then sent in order before `Open` is delivered.
//! assert_eq!(hf.send_text("hello"), SendOutcome::Queued);
//!
//! // `Events` is a `futures_core::Stream`; `recv` is `StreamExt::next` without the futures crate.
//! let handle = hf.clone(); // a cheap clone; the client closes when the last one drops
//! wasm_bindgen_futures::spawn_local(async move {
//!     while let Some(event) = events.recv().await {
//!         match event {
//!             Event::Open { transport } => log(&format!("open on {transport}")),
//!             Event::Message(Payload::Text(text)) => log(&text),
//!             Event::Message(Payload::Binary(bytes)) => log(&format!("{} bytes", bytes.len())),
//!             Event::Close { code, reason, .. } => log(&format!("closed {code} {reason}")),
//!             _ => {} // Reconnecting, Transport, Gap, Error, and variants added later
//!         }
//!     }
//!     // The stream ended: the client is closed for good.
//!     drop(handle);
//! });
//! # fn log(_: &str) {}
//! # Ok(())
//! # }
//! # #[cfg(not(target_arch = "wasm32"))]
//! # fn main() {}
//! ```
//!
//! Prefer a callback? [`connect_with_callback`](HoldfastBuilder::connect_with_callback) calls a
//! closure with each event instead. A token that expires goes in a
//! [`url_fn`](HoldfastBuilder::url_fn) closure, called before every attempt.
//!
//! # What is public
//!
//! The crate root is the API: everything a Rust app names is re-exported here, and only here in
//! the documentation. The modules (`config`, `core`, `protocol`, `endpoint`, `web`) stay `pub`
//! because the reference server (`server/`), the host tests and the JS glue use them (the pure
//! state machine, the wire protocol, URL derivation, the legacy `Client::connect`), but they are
//! `#[doc(hidden)]`: they are internals without a stability promise, and their items that are
//! part of the API are the ones re-exported below. The browser API exists on `wasm32` only; on
//! other targets the crate is the pure core and protocol the server shares.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unreachable,
    clippy::todo
)]
#![warn(missing_docs, missing_debug_implementations)]
// The crate docs link the browser API, which exists on wasm32 only; host docs (the server's
// view of this crate) would warn about every such link.
#![cfg_attr(not(target_arch = "wasm32"), allow(rustdoc::broken_intra_doc_links))]

// The modules are internals shared with `server/`, the tests and the JS glue (see "What is
// public" above); the API is the re-exports that follow.
#[doc(hidden)]
pub mod config;
#[doc(hidden)]
pub mod core;
#[doc(hidden)]
pub mod endpoint;
#[doc(hidden)]
pub mod protocol;
mod text;
#[doc(hidden)]
#[cfg(target_arch = "wasm32")]
pub mod web;

// The Rust API. The handle, its builder and its event stream need a browser (wasm32).
#[cfg(target_arch = "wasm32")]
pub use web::{ConnectError, Events, Holdfast, HoldfastBuilder, WeakHoldfast};
// Options.
pub use config::{Config, ConfigError, OverflowPolicy, Protocol, RawHeartbeat, TransportKind};
// What the client reports: events, send outcomes, state, counters, and the types inside them.
pub use crate::core::{
    ClientError, DisconnectReason, Event, Payload, RejectReason, SendOutcome, StateKind, Stats,
    TransportError,
};
// Inside `ClientError::BadFrame` and `ClientError::Server`.
pub use protocol::{DecodeError, ErrorCode};
// Not exported: the state machine (`core::Machine`, `Input`, `Action`, timers, backoff
// internals such as `XorShift` and `ceiling_ms`), the wire frames, and the retry-policy hook
// (`core::RetryPolicy` runs inside the machine's borrow, so a policy that called the handle
// would panic; it stays internal until it can be offered without that trap).

// talc instead of std's dlmalloc: 2.6 KB smaller in the module and 1.2 KB gzip (BENCHMARKS.md,
// "Size"). The browser runs wasm on one thread, which is what `TalckWasm` assumes.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
// SAFETY: wasm32-unknown-unknown without the atomics feature has a single thread, so the
// allocator's lock is never contended; `new_global` is meant for exactly this static.
static ALLOC: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };
