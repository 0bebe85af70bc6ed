//! Every encoder against its decoder, on frames built with `arbitrary`: `decode(encode(f))`,
//! `decode_batch(encode_batch(fs))`, `encode_data`, and the server's SSE events (`data:
//! <base64>` and the bench echo's multi-line events) read back by a WHATWG event-stream
//! parser in arbitrary chunkings.
#![no_main]

use arbitrary::Arbitrary;
use holdfast::protocol::{
    decode, decode_base64, decode_batch, encode, encode_batch, encode_data, Decoded, Frame,
    MAX_FRAME_BYTES,
};
use holdfast_fuzz::{chunks, expected_after_round_trip, limits_from, FrameSpec, SseParser};
use holdfast_server::fuzzing::{bench_event, sse_event};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    limits: u8,
    chunking: u8,
    frames: Vec<FrameSpec>,
    text: String,
    data: (u64, bool, Vec<u8>),
}

fn frame_of(r: Result<Decoded, holdfast::protocol::DecodeError>) -> Option<Frame> {
    match r {
        Ok(Decoded::Frame(f)) => Some(f),
        _ => None,
    }
}

fuzz_target!(|input: Input| {
    let limits = limits_from(input.limits);
    let frames: Vec<Frame> = input.frames.iter().map(FrameSpec::frame).collect();
    let mut stream = Vec::new();
    let mut expected_events = Vec::new();
    for f in &frames {
        let expected = expected_after_round_trip(f, &limits);
        let got = frame_of(decode(&encode(f), &limits));
        if let Some(e) = &expected {
            assert_eq!(got.as_ref(), Some(e), "decode(encode({f:?}))");
        }
        let event = sse_event(f);
        stream.extend_from_slice(&event);
        expected_events.push((f.clone(), expected));
    }
    // A batch: every entry decodes on its own, to the same as the frame alone.
    let batch = decode_batch(&encode_batch(&frames), &limits).expect("an encoded batch splits");
    assert_eq!(batch.len(), frames.len());
    for (entry, (_, expected)) in batch.into_iter().zip(&expected_events) {
        if let Some(e) = expected {
            assert_eq!(frame_of(entry).as_ref(), Some(e));
        }
    }
    // The SSE stream the server writes for these frames, read like a browser in chunks.
    let mut p = SseParser::new();
    for c in chunks(&stream, input.chunking) {
        p.feed(c);
    }
    p.finish();
    assert_eq!(p.events.len(), frames.len(), "one event per frame");
    for (ev, (_, expected)) in p.events.iter().zip(&expected_events) {
        assert!(ev.kind.is_empty());
        let bytes = decode_base64(&ev.data, MAX_FRAME_BYTES).expect("event data is base64");
        if let Some(e) = expected {
            assert_eq!(frame_of(decode(&bytes, &limits)).as_ref(), Some(e));
        }
    }
    // The bench echo: the event's data is the text with CRLF and CR turned into LF.
    let mut p = SseParser::new();
    for c in chunks(&bench_event(&input.text), input.chunking) {
        p.feed(c);
    }
    p.finish();
    let want = input.text.replace("\r\n", "\n").replace('\r', "\n");
    assert_eq!(p.events.len(), 1);
    assert_eq!(p.events[0].data, want, "bench event of {:?}", input.text);
    // encode_data: the borrowed-payload encoder the client's send path uses.
    let (seq, binary, payload) = &input.data;
    let text = String::from_utf8_lossy(payload).into_owned();
    let bytes = if *binary {
        payload.as_slice()
    } else {
        text.as_bytes()
    };
    if bytes.len() <= limits.max_message_bytes {
        let want = if *binary {
            Frame::Binary {
                seq: *seq,
                data: payload.clone(),
            }
        } else {
            Frame::Text {
                seq: *seq,
                text: text.clone(),
            }
        };
        assert_eq!(
            frame_of(decode(&encode_data(*seq, *binary, bytes), &limits)),
            Some(want)
        );
    }
});
