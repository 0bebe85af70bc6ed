//! Batches: length-prefixed frames in one HTTP body (PROTOCOL.md §8.5).

use super::error::DecodeError;
use super::frame::{decode, encode_into, Decoded, Frame, Limits};
use super::wire::{put_varint, Reader};
use super::MAX_FRAME_BYTES;

/// Most frames one batch may carry.
pub const MAX_BATCH_FRAMES: usize = 1024;

/// Encodes `frames` as one batch body.
pub fn encode_batch(frames: &[Frame]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut one = Vec::new();
    for frame in frames {
        one.clear();
        encode_into(&mut one, frame);
        put_varint(&mut out, one.len() as u64);
        out.extend_from_slice(&one);
    }
    out
}

/// Decodes a batch body. Each entry is decoded on its own, so one malformed frame does not hide
/// the others; a broken *envelope* (a length beyond the body, too many frames) fails the batch.
pub fn decode_batch(
    body: &[u8],
    limits: &Limits,
) -> Result<Vec<Result<Decoded, DecodeError>>, DecodeError> {
    let mut r = Reader::new(body);
    let mut out = Vec::new();
    while !r.is_empty() {
        if out.len() >= MAX_BATCH_FRAMES {
            return Err(DecodeError::TooLarge { field: "batch" });
        }
        let len = r.varint()?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= MAX_FRAME_BYTES)
            .ok_or(DecodeError::TooLarge { field: "frame" })?;
        let frame = r.take(len)?;
        out.push(decode(frame, limits));
    }
    Ok(out)
}
