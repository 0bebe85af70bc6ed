//! One frame from exactly these bytes (a WebSocket message, a batch entry, a decoded SSE
//! event): `protocol::decode` under three limits. Never panics; a known frame respects the
//! limits and re-encodes to bytes that decode to the same frame.
#![no_main]

use holdfast::protocol::{decode, Decoded, Frame, Limits};
use holdfast_fuzz::{assert_decoded_round_trips, limits_from};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let tiny = limits_from(data.len() as u8 & !3);
    for limits in [
        Limits::default(),
        Limits {
            max_message_bytes: 1024,
        },
        tiny,
    ] {
        match decode(data, &limits) {
            Ok(Decoded::Frame(frame)) => {
                match &frame {
                    Frame::Text { text, .. } => assert!(text.len() <= limits.max_message_bytes),
                    Frame::Binary { data, .. } => assert!(data.len() <= limits.max_message_bytes),
                    _ => {}
                }
                assert_decoded_round_trips(&frame, &limits);
            }
            Ok(Decoded::Unknown(kind)) => {
                assert!(
                    !(1..=9).contains(&kind),
                    "known type {kind} reported unknown"
                );
                assert_eq!(data.first(), Some(&kind));
            }
            Err(_) => {}
        }
    }
});
