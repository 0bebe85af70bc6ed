//! A batch body (a poll answer on the client, a `POST {base}/send` or poll-open body on the
//! server): `split_batch` and `decode_batch`. Never panics; at most `MAX_BATCH_FRAMES`
//! entries; the entries re-batch to a body that splits the same; decoded frames round-trip
//! through `encode_batch`.
#![no_main]

use holdfast::protocol::{
    decode_batch, encode_batch, push_batch_entry, split_batch, Decoded, Limits, MAX_BATCH_FRAMES,
};
use holdfast_fuzz::assert_decoded_round_trips;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let split = split_batch(data);
    let decoded = decode_batch(data, &limits);
    assert_eq!(split.is_ok(), decoded.is_ok());
    let (Ok(entries), Ok(decoded)) = (split, decoded) else {
        return;
    };
    assert!(entries.len() <= MAX_BATCH_FRAMES);
    assert_eq!(entries.len(), decoded.len());
    let mut body = Vec::new();
    for e in &entries {
        push_batch_entry(&mut body, e);
    }
    assert_eq!(
        split_batch(&body).as_ref(),
        Ok(&entries),
        "re-batched entries"
    );
    let frames: Vec<_> = decoded
        .into_iter()
        .filter_map(|d| match d {
            Ok(Decoded::Frame(f)) => Some(f),
            _ => None,
        })
        .collect();
    for f in &frames {
        assert_decoded_round_trips(f, &limits);
    }
    let again = decode_batch(&encode_batch(&frames), &limits).map(|v| {
        v.into_iter()
            .map(|d| match d {
                Ok(Decoded::Frame(f)) => Some(f),
                _ => None,
            })
            .collect::<Vec<_>>()
    });
    let expected: Vec<_> = frames.into_iter().map(Some).collect();
    assert_eq!(again, Ok(expected), "decode_batch(encode_batch(frames))");
});
