//! The holdfast wire protocol, version 1 (see `PROTOCOL.md`): frames, their binary codec and
//! batches. Pure Rust, shared by the client core and the reference server.
//!
//! Every decoder here is total: any input yields a [`Frame`], a [`DecodeError`] or an ignorable
//! [`Decoded::Unknown`], never a panic, and every length is checked against the remaining input and
//! the limits before anything is allocated.

mod base64;
mod batch;
mod delivery;
mod error;
mod frame;
mod wire;

pub use base64::{decode_base64, encode_base64, encode_base64url};
pub use batch::{decode_batch, encode_batch, push_batch_entry, split_batch, MAX_BATCH_FRAMES};
pub use delivery::{next_seq, Inbound, Receiver, ACK_DELAY_MS, ACK_EVERY, MAX_SEQ};
pub use error::DecodeError;
pub use frame::{
    clip, decode, encode, encode_data, CloseFrame, Decoded, ErrorCode, ErrorFrame, Frame, Hello,
    Limits, ResumeOutcome, Welcome,
};

/// The protocol version this crate speaks.
pub const VERSION: u64 = 1;
/// Hard cap on one encoded frame, whatever the negotiated limits say.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024 + 16;
/// Longest CLOSE reason in bytes (the WebSocket limit for a close reason).
pub const MAX_CLOSE_REASON_BYTES: usize = 123;
/// Longest ERROR message in bytes.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 1024;
/// Longest session id in bytes.
pub const MAX_SESSION_ID_BYTES: usize = 64;
/// Default largest data payload in bytes.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// Returns whether `id` is a valid session id: 1–64 bytes of `[A-Za-z0-9_-]`.
///
/// Session ids end up in URLs of the HTTP transports, so anything that needs escaping is refused.
pub fn is_valid_session_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_SESSION_ID_BYTES
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
