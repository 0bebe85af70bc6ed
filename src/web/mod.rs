//! The browser layer (wasm32 only): owns JS objects and moves events between them and the core.
//!
//! Nothing here decides anything. Every JS callback turns into an [`Input`](crate::core::Input)
//! fed to the [`Machine`](crate::core::Machine) by the pump in `driver`; every
//! [`Action`](crate::core::Action) turns into a JS call. Each JS resource (socket, listener,
//! timer) is a Rust value whose `Drop` detaches and releases it; there is no `Closure::forget`.
//!
//! The Rust API ([`Holdfast`], [`HoldfastBuilder`], [`Events`]) is re-exported at the crate root;
//! the rest of this module is for the JS glue and the browser tests.

mod builder;
mod clock;
mod counts;
mod driver;
mod events;
mod lifecycle;
mod listener;
mod remember;
mod text_identity;
mod timer;
mod transport;

#[cfg(feature = "js")]
pub mod api;
mod client;

pub use builder::{ConnectError, HoldfastBuilder};
pub use client::{Client, Holdfast, UrlSource, WeakHoldfast};
pub use counts::{live_counts, LiveCounts};
pub use events::Events;
