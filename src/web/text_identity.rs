//! Text the page already has as a JS string, recognised by its allocation.
//!
//! A text message crosses into wasm as UTF-8 because the core decides on it (limits, the raw
//! heartbeat's pong, the queue's byte count); making the same JS string again on the way out is
//! the copy this module saves. When a JS string becomes a `String` that the core then moves, not
//! copies, through to its output (raw mode: `send` → `Action::Send`; a received message →
//! `Event::Message`), the output's `String` *is* that allocation, and the JS string can be used
//! for it.
//!
//! A [`TextKey`] (address and length) identifies the allocation only while it is alive: a freed
//! block can be handed out again with the same address. So a key is only ever compared with a
//! `String` during the window in which its allocation is known to be alive and moving through
//! the core: `websocket.rs` sets its slot around one synchronous `Input::Received` (the only text
//! payload that pump can deliver), and the driver records a send only when the outcome is `Sent`
//! (its `Action::Send` is already queued, owning the allocation, and every queued action is
//! performed in the same pump, which clears the record at its end).

/// The address and length of a `String`'s bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TextKey(usize, usize);

impl TextKey {
    /// The key of `text`'s allocation.
    pub(crate) fn of(text: &str) -> TextKey {
        TextKey(text.as_ptr() as usize, text.len())
    }
}
