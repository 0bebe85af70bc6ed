//! Why a frame could not be decoded: the one error type every decoder in `protocol/` returns.
//!
//! It sits below `wire.rs` (the primitive reader) so that the codec layers import it downwards only.

use core::fmt;

/// Why a frame could not be decoded. The frame is dropped; the connection may continue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended inside a field (or was empty).
    Truncated,
    /// A varint longer than 10 bytes or above 2^64−1.
    VarintOverflow,
    /// A length or value over its limit.
    TooLarge {
        /// Which field.
        field: &'static str,
    },
    /// A string field was not UTF-8.
    InvalidUtf8 {
        /// Which field.
        field: &'static str,
    },
    /// A field had a value outside its allowed set.
    InvalidValue {
        /// Which field.
        field: &'static str,
    },
}

impl DecodeError {
    /// The `Display` text, built without `core::fmt`.
    pub fn message(&self) -> String {
        match self {
            DecodeError::Truncated => "frame truncated".into(),
            DecodeError::VarintOverflow => "varint overflow".into(),
            DecodeError::TooLarge { field } => [field, " too large"].concat(),
            DecodeError::InvalidUtf8 { field } => [field, " is not UTF-8"].concat(),
            DecodeError::InvalidValue { field } => [field, " has an invalid value"].concat(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for DecodeError {}
