//! HELLO and WELCOME: the bytes as a frame, and again with their type byte forced to HELLO and
//! to WELCOME, so every input reaches the handshake fields; and the server's two HELLO readers
//! (the SSE `hello` query value, the poll-open body). Never panics; a decoded HELLO / WELCOME is
//! valid (session id rules) and round-trips; the server readers agree with `decode`.
#![no_main]

use holdfast::protocol::{
    decode, encode, encode_base64url, encode_batch, is_valid_session_id, Decoded, Frame, Limits,
};
use holdfast_fuzz::assert_decoded_round_trips;
use holdfast_server::fuzzing::{poll_open_hello, sse_hello};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let mut inputs = vec![data.to_vec()];
    if !data.is_empty() {
        for kind in [0x01, 0x02] {
            let mut b = data.to_vec();
            b[0] = kind;
            inputs.push(b);
        }
    }
    for bytes in &inputs {
        let Ok(Decoded::Frame(frame)) = decode(bytes, &limits) else {
            continue;
        };
        match &frame {
            Frame::Hello(h) => {
                if let Some(s) = &h.session {
                    assert!(is_valid_session_id(s), "HELLO session {s:?}");
                }
                // The server reads the same HELLO from the SSE query and the poll-open body.
                // (The SSE route refuses a decoded `hello` over 1024 bytes.)
                if bytes.len() <= 1024 {
                    assert_eq!(
                        sse_hello(&encode_base64url(bytes), &limits).as_ref(),
                        Some(h)
                    );
                }
                assert_eq!(
                    sse_hello(&encode_base64url(&encode(&frame)), &limits).as_ref(),
                    Some(h)
                );
                assert_eq!(
                    poll_open_hello(&encode_batch(std::slice::from_ref(&frame)), &limits).as_ref(),
                    Some(h)
                );
            }
            Frame::Welcome(w) => {
                assert!(
                    is_valid_session_id(&w.session),
                    "WELCOME session {:?}",
                    w.session
                );
                assert_eq!(sse_hello(&encode_base64url(bytes), &limits), None);
            }
            _ => {}
        }
        assert_decoded_round_trips(&frame, &limits);
    }
    // The server's readers on the raw input: whatever they accept is what `decode` says.
    if let Some(h) = poll_open_hello(data, &limits) {
        assert!(h.session.as_deref().is_none_or(is_valid_session_id));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(h) = sse_hello(text, &limits) {
            let bytes = holdfast::protocol::decode_base64(text, 1024).expect("accepted base64");
            assert_eq!(decode(&bytes, &limits), Ok(Decoded::Frame(Frame::Hello(h))));
        }
    }
});
