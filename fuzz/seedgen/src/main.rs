//! Writes `fuzz/corpus/<target>/` seeds: real frames, batches and event streams from the
//! protocol's own encoders, plus a few hostile inputs for each decoder.

use holdfast::protocol::{
    encode, encode_base64, encode_base64url, encode_batch, CloseFrame, ErrorCode, ErrorFrame,
    Frame, Hello, ResumeOutcome, Welcome,
};
use std::fs;
use std::path::Path;

fn frames() -> Vec<(&'static str, Frame)> {
    vec![
        (
            "hello-new",
            Frame::Hello(Hello {
                min_version: 1,
                max_version: 1,
                session: None,
                last_seq: 0,
                probe: false,
            }),
        ),
        (
            "hello-resume",
            Frame::Hello(Hello {
                min_version: 1,
                max_version: 1,
                session: Some("Zq3-_x9AbCdEfGhIjKlMnO".into()),
                last_seq: 41,
                probe: false,
            }),
        ),
        (
            "hello-probe",
            Frame::Hello(Hello {
                min_version: 1,
                max_version: 2,
                session: Some("s1".into()),
                last_seq: u64::MAX,
                probe: true,
            }),
        ),
        (
            "welcome",
            Frame::Welcome(Welcome {
                version: 1,
                session: "s1".into(),
                resume: ResumeOutcome::New,
                ack: 0,
                ping_interval_ms: 1_000,
                idle_timeout_ms: 60_000,
                max_message_bytes: 1 << 20,
            }),
        ),
        (
            "welcome-resumed",
            Frame::Welcome(Welcome {
                version: 1,
                session: "s1".into(),
                resume: ResumeOutcome::Resumed,
                ack: 7,
                ping_interval_ms: 25_000,
                idle_timeout_ms: 60_000,
                max_message_bytes: 1024,
            }),
        ),
        (
            "welcome-hostile",
            Frame::Welcome(Welcome {
                version: 1,
                session: "s1".into(),
                resume: ResumeOutcome::Failed,
                ack: u64::MAX,
                ping_interval_ms: 0,
                idle_timeout_ms: u64::MAX,
                max_message_bytes: 0,
            }),
        ),
        (
            "text",
            Frame::Text {
                seq: 1,
                text: "hello".into(),
            },
        ),
        (
            "text-utf8",
            Frame::Text {
                seq: 1 << 62,
                text: "h\u{e9}llo \u{1f600} __proto__".into(),
            },
        ),
        (
            "binary",
            Frame::Binary {
                seq: 2,
                data: vec![0, 1, 2, 255],
            },
        ),
        ("ping", Frame::Ping { id: 3 }),
        ("pong", Frame::Pong { id: 3 }),
        ("ack", Frame::Ack { seq: 9 }),
        (
            "close",
            Frame::Close(CloseFrame {
                code: 1000,
                reason: "bye".into(),
            }),
        ),
        (
            "close-4999",
            Frame::Close(CloseFrame {
                code: 4999,
                reason: "x".repeat(123),
            }),
        ),
        (
            "error",
            Frame::Error(ErrorFrame {
                code: ErrorCode::TryLater,
                message: "busy".into(),
                retry_after_ms: 5_000,
            }),
        ),
        (
            "error-unknown",
            Frame::Error(ErrorFrame {
                code: ErrorCode::Other(77),
                message: String::new(),
                retry_after_ms: 0,
            }),
        ),
    ]
}

fn hostile_frames() -> Vec<(&'static str, Vec<u8>)> {
    let mut overflow = vec![0x05];
    overflow.extend([0xff; 10]);
    let mut close_long = vec![0x08, 0xe8, 0x07];
    close_long.extend([0xff, 0xff, 0xff, 0xff, 0x0f]);
    vec![
        ("empty", vec![]),
        ("unknown-type", vec![0x0a, 1, 2, 3]),
        ("type-zero", vec![0x00]),
        ("truncated-welcome", vec![0x02, 0x01, 0x02, b's']),
        ("varint-overflow", overflow),
        ("close-length-huge", close_long),
        ("text-bad-utf8", vec![0x03, 0x01, 0xc3, 0x28]),
        (
            "hello-session-slash",
            vec![0x01, 1, 1, 3, b'a', b'/', b'b', 0],
        ),
        (
            "hello-session-crlf",
            vec![0x01, 1, 1, 3, b'a', b'\r', b'\n', 0],
        ),
        ("close-code-5000", vec![0x08, 0x88, 0x27, 0]),
        (
            "welcome-resume-3",
            vec![0x02, 1, 2, b's', b'1', 3, 0, 1, 1, 1],
        ),
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join(name), bytes).unwrap();
}

/// A fixed pseudo-random byte string (seeds for the `arbitrary`-driven targets).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn sse(frames: &[Frame]) -> String {
    let mut out = String::from(":ok\n\n");
    for f in frames {
        out.push_str("data: ");
        out.push_str(&encode_base64(&encode(f)));
        out.push_str("\n\n");
    }
    out
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let all = frames();
    let by = |n: &str| all.iter().find(|(k, _)| *k == n).unwrap().1.clone();

    let dir = root.join("frame");
    for (name, f) in &all {
        write(&dir, name, &encode(f));
    }
    for (name, b) in hostile_frames() {
        write(&dir, name, &b);
    }

    let dir = root.join("batch");
    let session: Vec<Frame> = ["welcome", "text", "binary", "ping", "ack"]
        .iter()
        .map(|n| by(n))
        .collect();
    write(&dir, "session", &encode_batch(&session));
    write(&dir, "poll-open", &encode_batch(&[by("hello-new")]));
    write(
        &dir,
        "close-error",
        &encode_batch(&[by("error"), by("close")]),
    );
    write(&dir, "empty-entries", &[0, 0, 0]);
    write(&dir, "length-past-end", &[5, 0x03, 1]);
    write(
        &dir,
        "length-huge",
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x05],
    );
    write(&dir, "too-many", &[0; 1025]);
    write(&dir, "one-bad-entry", &[3, 0x03, 1, 0xff, 2, 0x05, 1]);

    let dir = root.join("base64");
    for name in ["welcome", "text", "binary", "hello-probe"] {
        write(&dir, name, encode_base64(&encode(&by(name))).as_bytes());
        write(
            &dir,
            &[name, "-url"].concat(),
            encode_base64url(&encode(&by(name))).as_bytes(),
        );
    }
    for (i, bad) in [
        "a",
        "a===",
        "ab=c",
        "ab==",
        "abc=",
        "\u{20ac}\u{20ac}",
        "ab cd",
        "AAAA\n",
    ]
    .iter()
    .enumerate()
    {
        write(&dir, &["bad-", &i.to_string()].concat(), bad.as_bytes());
    }

    let dir = root.join("handshake");
    for name in [
        "hello-new",
        "hello-resume",
        "hello-probe",
        "welcome",
        "welcome-resumed",
        "welcome-hostile",
    ] {
        write(&dir, name, &encode(&by(name)));
    }
    write(
        &dir,
        "hello-base64url",
        encode_base64url(&encode(&by("hello-resume"))).as_bytes(),
    );
    write(
        &dir,
        "poll-open-body",
        &encode_batch(&[by("hello-probe"), by("text")]),
    );
    write(
        &dir,
        "hello-session-slash",
        &[0x01, 1, 1, 3, b'a', b'/', b'b', 0],
    );
    let mut trailing = encode(&by("hello-new"));
    trailing.extend([0x80, 0x80, 0x01, 9, 9, 9]);
    write(&dir, "hello-trailing", &trailing);

    let dir = root.join("sse_stream");
    let stream = sse(&[
        by("welcome"),
        by("text"),
        by("ping"),
        by("binary"),
        by("ack"),
        by("close"),
    ]);
    for chunking in [0u8, 1, 7] {
        let mut b = vec![chunking];
        b.extend_from_slice(stream.as_bytes());
        write(&dir, &["session-", &chunking.to_string()].concat(), &b);
    }
    let crlf = stream.replace("\n", "\r\n");
    write(&dir, "crlf", &[&[3u8][..], crlf.as_bytes()].concat());
    let cr = stream.replace("\n", "\r");
    write(&dir, "cr", &[&[2u8][..], cr.as_bytes()].concat());
    let bom = ["\u{feff}", &stream].concat();
    write(&dir, "bom", &[&[5u8][..], bom.as_bytes()].concat());
    let w = encode_base64(&encode(&by("welcome")));
    let odd = [
        "retry: 10x\nretry: 300\nid: a\u{0}b\nid: 7\nevent: other\n: comment\ndata:",
        &w,
        "\n\ndata: AAAA\ndata: BBBB\n\ndata\n\ndata: not base64!\n\nfield-without-colon\n\ndata: ",
        &encode_base64(&encode(&by("text"))),
    ]
    .concat();
    write(
        &dir,
        "odd-fields-unterminated",
        &[&[1u8][..], odd.as_bytes()].concat(),
    );
    write(
        &dir,
        "long-line",
        &[&[0u8][..], "data: ".as_bytes(), &[b'A'; 3000]].concat(),
    );

    let dir = root.join("server_request");
    let hello = encode_base64url(&encode(&by("hello-resume")));
    for (i, q) in [
        ["session=Zq3-_x9AbCdEfGhIjKlMnO&cursor=12&hold=0"].concat(),
        ["hello=", &hello, "&t=token"].concat(),
        "session=a%2Fb&session=s1&cursor=+5&cursor=18446744073709551616".to_owned(),
        "hold&cursor=&=x&&session".to_owned(),
        "http://127.0.0.1:8080".to_owned(),
        "HTTPS://[::1]:65536/".to_owned(),
        "https://rt.example.com/holdfast?token=a#frag".to_owned(),
        " 120 ".to_owned(),
    ]
    .iter()
    .enumerate()
    {
        write(&dir, &["query-", &i.to_string()].concat(), q.as_bytes());
    }
    write(&dir, "poll-open-body", &encode_batch(&[by("hello-new")]));
    write(
        &dir,
        "send-body",
        &encode_batch(&[by("text"), by("ack"), by("pong")]),
    );

    for (target, lens) in [
        ("roundtrip", [32usize, 256, 1024]),
        ("server_session", [64, 512, 2048]),
        ("machine", [64, 512, 2048]),
    ] {
        let dir = root.join(target);
        for (i, len) in lens.iter().enumerate() {
            write(
                &dir,
                &["noise-", &i.to_string()].concat(),
                &noise(*len, 0x9e37_79b9 + i as u64),
            );
        }
    }
}
