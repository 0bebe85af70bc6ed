//! Transports: each one an RAII value owning its JS object and its listeners.

pub(crate) mod websocket;
