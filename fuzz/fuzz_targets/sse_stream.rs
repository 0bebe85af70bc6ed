//! A hostile `text/event-stream` body on the client's SSE transport. The browser's
//! `EventSource` does the line parsing (a WHATWG reference parser stands in for it here, and
//! must give the same events in any chunking: CR/LF/CRLF split across chunks, BOM, comments,
//! `retry:` garbage); each event's data then goes to the core exactly as the glue hands it
//! over (`Input::Received` with the text, or `Input::Oversized` over the frame limit), on an
//! SSE connection that was opened. The sim asserts the core's invariants after every call.
//!
//! Input: one byte choosing the chunking, then the body.
#![no_main]

use holdfast::config::{Config, TransportKind};
use holdfast::core::{Action, Input, Machine, Payload};
use holdfast::protocol::{decode, Decoded, Frame, Limits};
use holdfast_fuzz::sim::{fast, Sim};
use holdfast_fuzz::{chunks, parse_sse, SseParser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunking, body)) = data.split_first() else {
        return;
    };
    let whole = parse_sse(body);
    let mut p = SseParser::new();
    for c in chunks(body, chunking) {
        p.feed(c);
    }
    p.finish();
    assert_eq!(p.events, whole.events, "events depend on the chunking");
    assert_eq!((&p.id, p.retry), (&whole.id, whole.retry));

    let config = Config {
        transports: vec![TransportKind::Sse, TransportKind::LongPolling],
        ..fast()
    };
    let m = Machine::new(config, 7)
        .expect("valid config")
        .with_jitter(|| 0.5);
    let mut s = Sim::from_machine(m);
    s.input(Input::Connect);
    let conn = s.last_conn();
    match s.actions.last() {
        Some(Action::Connect {
            transport: TransportKind::Sse,
            hello: Some(hello),
            ..
        }) => {
            assert!(matches!(
                decode(hello, &Limits::default()),
                Ok(Decoded::Frame(Frame::Hello(_)))
            ));
        }
        other => panic!("expected an SSE connect with its HELLO, got {other:?}"),
    }
    s.input(Input::Opened { conn });
    // The glue's bound: one event carries one frame, in base64 (4 characters per 3 bytes).
    let max_text = s.m.max_inbound_bytes().div_ceil(3).saturating_mul(4);
    for (i, ev) in p.events.iter().enumerate() {
        let size = ev.data.encode_utf16().count();
        let input = if size > max_text {
            Input::Oversized { conn, size }
        } else {
            Input::Received {
                conn,
                payload: Payload::Text(ev.data.clone()),
            }
        };
        s.input(input);
        if i % 4 == 3 {
            s.advance(700);
        }
    }
    s.advance(10_000);
    s.input(Input::Close {
        code: 1000,
        reason: String::new(),
    });
    assert_eq!(s.close_events().len(), 1);
});
