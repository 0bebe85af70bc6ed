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
        push_batch_entry(&mut out, &one);
    }
    out
}

/// Appends one already encoded frame to the batch body `out`.
pub fn push_batch_entry(out: &mut Vec<u8>, frame: &[u8]) {
    put_varint(out, frame.len() as u64);
    out.extend_from_slice(frame);
}

/// Splits a batch body into its encoded frames without decoding them. Fails on a broken
/// envelope: a length beyond the body or over [`MAX_FRAME_BYTES`], or more than
/// [`MAX_BATCH_FRAMES`] entries.
pub fn split_batch(body: &[u8]) -> Result<Vec<&[u8]>, DecodeError> {
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
        out.push(r.take(len)?);
    }
    Ok(out)
}

/// Decodes a batch body. Each entry is decoded on its own, so one malformed frame does not hide
/// the others; a broken *envelope* (see [`split_batch`]) fails the batch.
pub fn decode_batch(
    body: &[u8],
    limits: &Limits,
) -> Result<Vec<Result<Decoded, DecodeError>>, DecodeError> {
    Ok(split_batch(body)?
        .into_iter()
        .map(|frame| decode(frame, limits))
        .collect())
}
