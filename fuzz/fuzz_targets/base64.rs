//! Base64 (an SSE event's data on the client, the SSE `hello` query value on the server):
//! `decode_base64` under several limits never panics and never returns more than the limit;
//! what it returns encodes (both alphabets) to text that decodes to the same bytes; and any
//! bytes encode to text that decodes back to them.
#![no_main]

use holdfast::protocol::{decode_base64, encode_base64, encode_base64url};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for max in [0, 1, 3, text.len() / 2, text.len(), 1 << 24] {
        if let Ok(bytes) = decode_base64(&text, max) {
            assert!(
                bytes.len() <= max,
                "{} bytes over the limit {max}",
                bytes.len()
            );
            for enc in [encode_base64(&bytes), encode_base64url(&bytes)] {
                assert_eq!(decode_base64(&enc, max).as_ref(), Ok(&bytes), "{enc}");
            }
        }
    }
    let padded = encode_base64(data);
    assert_eq!(padded.len(), data.len().div_ceil(3) * 4);
    assert_eq!(decode_base64(&padded, data.len()).as_deref(), Ok(data));
    let url = encode_base64url(data);
    assert!(url
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(decode_base64(&url, data.len()).as_deref(), Ok(data));
    if !data.is_empty() {
        assert!(decode_base64(&padded, data.len() - 1).is_err());
    }
});
