//! The v1 codec: round trips, malformed input, limits, batches, and property tests that decoding
//! arbitrary bytes never panics and `decode(encode(f)) == f`.
#![cfg(not(target_arch = "wasm32"))]

use holdfast::protocol::{
    decode, decode_batch, encode, encode_batch, CloseFrame, DecodeError, Decoded, ErrorCode,
    ErrorFrame, Frame, Hello, Limits, ResumeOutcome, Welcome, MAX_BATCH_FRAMES,
};
use proptest::prelude::*;

fn lim() -> Limits {
    Limits::default()
}

fn roundtrip(f: Frame) {
    let bytes = encode(&f);
    assert_eq!(decode(&bytes, &lim()), Ok(Decoded::Frame(f)));
}

#[test]
fn a_hello_without_flags_is_not_a_probe_and_a_probe_is_a_trailing_flag() {
    let plain = Frame::Hello(Hello {
        min_version: 1,
        max_version: 1,
        session: Some("s".into()),
        last_seq: 7,
        probe: false,
    });
    let probe = Frame::Hello(Hello {
        min_version: 1,
        max_version: 1,
        session: Some("s".into()),
        last_seq: 7,
        probe: true,
    });
    let (a, b) = (encode(&plain), encode(&probe));
    // The probe is the plain HELLO plus one flags byte: a peer that ignores trailing bytes
    // reads it as a plain HELLO.
    assert_eq!(&b[..a.len()], &a[..]);
    assert_eq!(b.len(), a.len() + 1);
    assert_eq!(decode(&a, &Limits::default()), Ok(Decoded::Frame(plain)));
    assert_eq!(decode(&b, &Limits::default()), Ok(Decoded::Frame(probe)));
}

#[test]
fn every_frame_type_round_trips() {
    roundtrip(Frame::Hello(Hello {
        min_version: 1,
        max_version: 3,
        session: None,
        last_seq: 0,
        probe: false,
    }));
    roundtrip(Frame::Hello(Hello {
        min_version: 1,
        max_version: 1,
        session: Some("abc_DEF-123".into()),
        last_seq: u64::MAX,
        probe: true,
    }));
    roundtrip(Frame::Welcome(Welcome {
        version: 1,
        session: "s".into(),
        resume: ResumeOutcome::Failed,
        ack: 99,
        ping_interval_ms: 1000,
        idle_timeout_ms: 2500,
        max_message_bytes: 1 << 20,
    }));
    roundtrip(Frame::Text {
        seq: 1,
        text: "héllo ✓".into(),
    });
    roundtrip(Frame::Text {
        seq: 2,
        text: String::new(),
    });
    roundtrip(Frame::Binary {
        seq: u64::MAX,
        data: vec![0, 255, 7],
    });
    roundtrip(Frame::Ping { id: 0 });
    roundtrip(Frame::Pong { id: 1 << 63 });
    roundtrip(Frame::Ack { seq: 12345 });
    roundtrip(Frame::Close(CloseFrame {
        code: 4999,
        reason: "bye".into(),
    }));
    roundtrip(Frame::Error(ErrorFrame {
        code: ErrorCode::Other(77),
        message: "x".into(),
        retry_after_ms: 5,
    }));
}

#[test]
fn the_encoding_is_small() {
    assert_eq!(encode(&Frame::Ping { id: 5 }).len(), 2);
    assert_eq!(
        encode(&Frame::Text {
            seq: 1,
            text: "hi".into()
        })
        .len(),
        4
    );
}

#[test]
fn truncated_frames_are_errors_at_every_cut() {
    let full = encode(&Frame::Welcome(Welcome {
        version: 1,
        session: "session-id".into(),
        resume: ResumeOutcome::New,
        ack: 300,
        ping_interval_ms: 1000,
        idle_timeout_ms: 2500,
        max_message_bytes: 4096,
    }));
    for cut in 0..full.len() {
        assert!(
            decode(&full[..cut], &lim()).is_err(),
            "cut at {cut} decoded"
        );
    }
    assert_eq!(decode(&[], &lim()), Err(DecodeError::Truncated));
}

#[test]
fn huge_and_overlong_numbers_are_rejected() {
    // 11-byte varint
    let mut b = vec![0x05];
    b.extend([0xff; 10]);
    b.push(0x01);
    assert_eq!(decode(&b, &lim()), Err(DecodeError::VarintOverflow));
    // 10 bytes whose last contributes more than the top bit: > 2^64 - 1
    let mut b = vec![0x05];
    b.extend([0xff; 9]);
    b.push(0x02);
    assert_eq!(decode(&b, &lim()), Err(DecodeError::VarintOverflow));
    // exactly u64::MAX is fine
    let mut b = vec![0x05];
    b.extend([0xff; 9]);
    b.push(0x01);
    assert_eq!(
        decode(&b, &lim()),
        Ok(Decoded::Frame(Frame::Ping { id: u64::MAX }))
    );
    // close code above 4999
    let mut b = vec![0x08];
    b.extend([0x88, 0x27]); // 5000
    b.push(0);
    assert_eq!(
        decode(&b, &lim()),
        Err(DecodeError::TooLarge {
            field: "close code"
        })
    );
}

#[test]
fn lengths_beyond_the_input_or_the_limits_fail_before_allocating() {
    // A close reason claiming 2^62 bytes: refused by the limit, no allocation attempted.
    let mut b = vec![0x08, 0xe8, 0x07];
    b.extend([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]);
    assert_eq!(
        decode(&b, &lim()),
        Err(DecodeError::TooLarge {
            field: "close reason"
        })
    );
    // A session claiming 60 bytes with 3 present.
    let b = [0x01, 1, 1, 60, b'a', b'b', b'c'];
    assert_eq!(decode(&b, &lim()), Err(DecodeError::Truncated));
    // A reason over 123 bytes.
    let mut b = vec![0x08, 0xe8, 0x07, 124];
    b.extend([b'x'; 124]);
    assert_eq!(
        decode(&b, &lim()),
        Err(DecodeError::TooLarge {
            field: "close reason"
        })
    );
}

#[test]
fn oversized_payloads_are_rejected() {
    let small = Limits {
        max_message_bytes: 4,
    };
    let f = encode(&Frame::Binary {
        seq: 1,
        data: vec![0; 5],
    });
    assert_eq!(
        decode(&f, &small),
        Err(DecodeError::TooLarge { field: "payload" })
    );
    let f = encode(&Frame::Binary {
        seq: 1,
        data: vec![0; 4],
    });
    assert!(decode(&f, &small).is_ok());
}

#[test]
fn wrong_types_and_values_are_rejected() {
    // invalid UTF-8 in a text payload
    assert_eq!(
        decode(&[0x03, 1, 0xff, 0xfe], &lim()),
        Err(DecodeError::InvalidUtf8 { field: "payload" })
    );
    // resume outcome 3 does not exist
    let mut w = encode(&Frame::Welcome(Welcome {
        version: 1,
        session: "s".into(),
        resume: ResumeOutcome::New,
        ack: 0,
        ping_interval_ms: 1,
        idle_timeout_ms: 1,
        max_message_bytes: 1,
    }));
    w[4] = 3;
    assert_eq!(
        decode(&w, &lim()),
        Err(DecodeError::InvalidValue { field: "resume" })
    );
    // session ids with URL-breaking characters or CRLF
    for bad in ["a/b", "a?b", "a#b", "a\r\nb", "a b", "__proto__\u{0}"] {
        let mut b = vec![0x01, 1, 1, bad.len() as u8];
        b.extend(bad.as_bytes());
        b.push(0);
        assert_eq!(
            decode(&b, &lim()),
            Err(DecodeError::InvalidValue { field: "session" }),
            "{bad:?}"
        );
    }
    // WELCOME needs a session
    let b = [0x02, 1, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        decode(&b, &lim()),
        Err(DecodeError::InvalidValue { field: "session" })
    );
}

#[test]
fn unknown_types_are_ignorable_and_trailing_fields_tolerated() {
    assert_eq!(decode(&[0x00], &lim()), Ok(Decoded::Unknown(0)));
    assert_eq!(decode(&[0x7f, 1, 2, 3], &lim()), Ok(Decoded::Unknown(0x7f)));
    // A future revision appends a field to PING: still decodes.
    assert_eq!(
        decode(&[0x05, 9, 0xaa, 0xbb], &lim()),
        Ok(Decoded::Frame(Frame::Ping { id: 9 }))
    );
}

#[test]
fn nested_frames_are_opaque_payload() {
    let inner = encode(&Frame::Close(CloseFrame {
        code: 1000,
        reason: "x".into(),
    }));
    let outer = Frame::Binary {
        seq: 1,
        data: encode_batch(&[Frame::Binary {
            seq: 2,
            data: inner,
        }]),
    };
    roundtrip(outer);
}

#[test]
fn overlong_reasons_are_clipped_on_encode_at_a_char_boundary() {
    let reason = "é".repeat(100); // 200 bytes
    let f = encode(&Frame::Close(CloseFrame { code: 1000, reason }));
    match decode(&f, &lim()) {
        Ok(Decoded::Frame(Frame::Close(c))) => {
            assert!(c.reason.len() <= 123);
            assert_eq!(c.reason, "é".repeat(61));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn batches_round_trip_and_isolate_bad_entries() {
    let frames = vec![
        Frame::Ping { id: 1 },
        Frame::Text {
            seq: 1,
            text: "a".into(),
        },
    ];
    let body = encode_batch(&frames);
    let out = decode_batch(&body, &lim()).unwrap();
    assert_eq!(
        out,
        vec![
            Ok(Decoded::Frame(frames[0].clone())),
            Ok(Decoded::Frame(frames[1].clone()))
        ]
    );
    assert_eq!(decode_batch(&[], &lim()), Ok(vec![]));
    // One bad entry in the middle does not hide the others.
    let mut body = encode_batch(&frames[..1]);
    body.extend([2, 0x03, 1]); // a TEXT frame whose seq is fine but payload missing is ok ("")…
    body.extend([1, 0x08]); // …a truncated CLOSE is not
    body.extend(encode_batch(&frames[1..]));
    let out = decode_batch(&body, &lim()).unwrap();
    assert_eq!(out.len(), 4);
    assert!(out[2].is_err());
    assert_eq!(out[3], Ok(Decoded::Frame(frames[1].clone())));
    // A length beyond the body fails the envelope.
    assert_eq!(
        decode_batch(&[10, 0x05], &lim()),
        Err(DecodeError::Truncated)
    );
    // Too many frames.
    let many = encode_batch(&vec![Frame::Ping { id: 0 }; MAX_BATCH_FRAMES + 1]);
    assert_eq!(
        decode_batch(&many, &lim()),
        Err(DecodeError::TooLarge { field: "batch" })
    );
}

fn session() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{1,64}"
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (
            any::<u64>(),
            any::<u64>(),
            proptest::option::of(session()),
            any::<u64>(),
            any::<bool>()
        )
            .prop_map(
                |(min_version, max_version, session, last_seq, probe)| Frame::Hello(Hello {
                    min_version,
                    max_version,
                    session,
                    last_seq,
                    probe,
                })
            ),
        (
            any::<u64>(),
            session(),
            0u8..3,
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>()
        )
            .prop_map(
                |(version, session, r, ack, ping, idle, max)| Frame::Welcome(Welcome {
                    version,
                    session,
                    resume: [
                        ResumeOutcome::New,
                        ResumeOutcome::Resumed,
                        ResumeOutcome::Failed
                    ][r as usize],
                    ack,
                    ping_interval_ms: ping,
                    idle_timeout_ms: idle,
                    max_message_bytes: max,
                })
            ),
        (any::<u64>(), ".{0,40}").prop_map(|(seq, text)| Frame::Text { seq, text }),
        (any::<u64>(), proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(seq, data)| Frame::Binary { seq, data }),
        any::<u64>().prop_map(|id| Frame::Ping { id }),
        any::<u64>().prop_map(|id| Frame::Pong { id }),
        any::<u64>().prop_map(|seq| Frame::Ack { seq }),
        (0u16..=4999, ".{0,30}")
            .prop_map(|(code, reason)| Frame::Close(CloseFrame { code, reason })),
        (0u64..20, ".{0,30}", any::<u64>()).prop_map(|(c, message, retry_after_ms)| {
            Frame::Error(ErrorFrame {
                code: ErrorCode::from_u64(c),
                message,
                retry_after_ms,
            })
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn decode_of_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes, &lim());
        let _ = decode(&bytes, &Limits { max_message_bytes: 3 });
        let _ = decode_batch(&bytes, &lim());
    }

    #[test]
    fn decode_of_mutated_valid_frames_never_panics(f in frame(), idx in any::<usize>(), byte in any::<u8>()) {
        let mut bytes = encode(&f);
        let i = idx % bytes.len();
        bytes[i] = byte;
        let _ = decode(&bytes, &lim());
    }

    #[test]
    fn decode_inverts_encode(f in frame()) {
        prop_assert_eq!(decode(&encode(&f), &lim()), Ok(Decoded::Frame(f)));
    }

    #[test]
    fn batch_decode_inverts_batch_encode(fs in proptest::collection::vec(frame(), 0..20)) {
        let out = decode_batch(&encode_batch(&fs), &lim()).unwrap();
        let back: Vec<Frame> = out.into_iter().map(|r| match r {
            Ok(Decoded::Frame(f)) => f,
            other => panic!("{other:?}"),
        }).collect();
        prop_assert_eq!(back, fs);
    }
}
