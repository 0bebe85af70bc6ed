//! The browser layer (wasm32 only): owns JS objects and moves events between them and the core.
//!
//! Nothing here decides anything. Every JS callback turns into an [`Input`](crate::core::Input)
//! fed to the [`Machine`](crate::core::Machine) by the pump in [`driver`]; every
//! [`Action`](crate::core::Action) turns into a JS call. Each JS resource (socket, listener,
//! timer) is a Rust value whose `Drop` detaches and releases it; there is no `Closure::forget`.

mod clock;
mod counts;
mod driver;
mod lifecycle;
mod listener;
mod remember;
mod timer;
mod transport;

#[cfg(feature = "js")]
pub mod api;
pub mod client;

pub use client::{Client, UrlSource};
pub use counts::{live_counts, LiveCounts};
