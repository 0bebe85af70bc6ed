//! What the fuzz targets share: frames built with `arbitrary`, the round-trip checks, a
//! reference event-stream parser (the browser's `EventSource` stand-in) and the core's
//! simulated clock (`tests/sim`, reused as it is).

use arbitrary::Arbitrary;
use holdfast::protocol::{
    self, CloseFrame, Decoded, ErrorCode, ErrorFrame, Frame, Hello, Limits, ResumeOutcome, Welcome,
    MAX_CLOSE_REASON_BYTES, MAX_ERROR_MESSAGE_BYTES,
};

/// The host tests' simulated clock and fake transport, with its per-call invariants.
#[path = "../../tests/sim/mod.rs"]
pub mod sim;

/// A session id: mostly valid ones, sometimes anything.
#[derive(Debug, Clone, Arbitrary)]
pub enum SessionSpec {
    /// `s1`, the sim's session.
    S1,
    /// A valid id of this length (1–64) over `[A-Za-z0-9_-]`.
    Valid(u8, u64),
    /// Anything at all (usually invalid).
    Raw(String),
}

impl SessionSpec {
    /// The id.
    pub fn id(&self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
        match self {
            SessionSpec::S1 => "s1".into(),
            SessionSpec::Valid(len, seed) => {
                let len = usize::from(*len) % 64 + 1;
                let mut x = *seed | 1;
                (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        char::from(ALPHABET[(x % 64) as usize])
                    })
                    .collect()
            }
            SessionSpec::Raw(s) => s.clone(),
        }
    }
}

/// A number: small, near the edges, or anything.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Num {
    /// 0–255.
    Small(u8),
    /// Near `u64::MAX`.
    NearMax(u8),
    /// Near 2^63 (`MAX_SEQ`).
    NearMaxSeq(u8),
    /// Anything.
    Any(u64),
}

impl Num {
    /// The value.
    pub fn get(self) -> u64 {
        match self {
            Num::Small(n) => u64::from(n),
            Num::NearMax(n) => u64::MAX - u64::from(n),
            Num::NearMaxSeq(n) => (protocol::MAX_SEQ - 128).wrapping_add(u64::from(n)),
            Num::Any(n) => n,
        }
    }
}

/// Any frame, with fields chosen to reach the decoder's edges.
#[derive(Debug, Clone, Arbitrary)]
pub enum FrameSpec {
    /// HELLO.
    Hello {
        /// min_version.
        min: Num,
        /// max_version.
        max: Num,
        /// Session to resume.
        session: Option<SessionSpec>,
        /// last_seq.
        last_seq: Num,
        /// Probe flag.
        probe: bool,
    },
    /// WELCOME.
    Welcome {
        /// version.
        version: Num,
        /// session.
        session: SessionSpec,
        /// 0 new, 1 resumed, 2 failed.
        resume: u8,
        /// ack.
        ack: Num,
        /// ping_interval_ms.
        ping: Num,
        /// idle_timeout_ms.
        idle: Num,
        /// max_message_bytes.
        max: Num,
    },
    /// TEXT.
    Text(Num, String),
    /// BINARY.
    Binary(Num, Vec<u8>),
    /// PING.
    Ping(Num),
    /// PONG.
    Pong(Num),
    /// ACK.
    Ack(Num),
    /// CLOSE.
    Close(u16, String),
    /// ERROR.
    Error(Num, String, Num),
}

impl FrameSpec {
    /// The frame.
    pub fn frame(&self) -> Frame {
        match self {
            FrameSpec::Hello {
                min,
                max,
                session,
                last_seq,
                probe,
            } => Frame::Hello(Hello {
                min_version: min.get(),
                max_version: max.get(),
                session: session.as_ref().map(SessionSpec::id),
                last_seq: last_seq.get(),
                probe: *probe,
            }),
            FrameSpec::Welcome {
                version,
                session,
                resume,
                ack,
                ping,
                idle,
                max,
            } => Frame::Welcome(Welcome {
                version: version.get(),
                session: session.id(),
                resume: match resume % 3 {
                    0 => ResumeOutcome::New,
                    1 => ResumeOutcome::Resumed,
                    _ => ResumeOutcome::Failed,
                },
                ack: ack.get(),
                ping_interval_ms: ping.get(),
                idle_timeout_ms: idle.get(),
                max_message_bytes: max.get(),
            }),
            FrameSpec::Text(seq, text) => Frame::Text {
                seq: seq.get(),
                text: text.clone(),
            },
            FrameSpec::Binary(seq, data) => Frame::Binary {
                seq: seq.get(),
                data: data.clone(),
            },
            FrameSpec::Ping(id) => Frame::Ping { id: id.get() },
            FrameSpec::Pong(id) => Frame::Pong { id: id.get() },
            FrameSpec::Ack(seq) => Frame::Ack { seq: seq.get() },
            FrameSpec::Close(code, reason) => Frame::Close(CloseFrame {
                code: *code,
                reason: reason.clone(),
            }),
            FrameSpec::Error(code, message, retry) => Frame::Error(ErrorFrame {
                code: ErrorCode::from_u64(code.get()),
                message: message.clone(),
                retry_after_ms: retry.get(),
            }),
        }
    }
}

/// What `decode(encode(frame))` must give back, or `None` when the encoder is allowed to write
/// something the decoder refuses (a session id that is not valid, a payload over `limits`).
///
/// The encoder's documented adjustments are applied: close code clamped to 4999, reason and
/// message clipped to their limits at a character boundary, an empty HELLO session is "none".
pub fn expected_after_round_trip(frame: &Frame, limits: &Limits) -> Option<Frame> {
    let valid = |s: &str| protocol::is_valid_session_id(s);
    Some(match frame.clone() {
        Frame::Hello(mut h) => {
            match h.session.as_deref() {
                Some("") => h.session = None,
                Some(s) if !valid(s) => return None,
                _ => {}
            }
            Frame::Hello(h)
        }
        Frame::Welcome(w) => {
            if !valid(&w.session) {
                return None;
            }
            Frame::Welcome(w)
        }
        Frame::Text { seq, text } => {
            if text.len() > limits.max_message_bytes {
                return None;
            }
            Frame::Text { seq, text }
        }
        Frame::Binary { seq, data } => {
            if data.len() > limits.max_message_bytes {
                return None;
            }
            Frame::Binary { seq, data }
        }
        Frame::Close(c) => Frame::Close(CloseFrame {
            code: c.code.min(4999),
            reason: protocol::clip(&c.reason, MAX_CLOSE_REASON_BYTES).to_owned(),
        }),
        Frame::Error(e) => Frame::Error(ErrorFrame {
            code: e.code,
            message: protocol::clip(&e.message, MAX_ERROR_MESSAGE_BYTES).to_owned(),
            retry_after_ms: e.retry_after_ms,
        }),
        other => other,
    })
}

/// Asserts that a frame the decoder produced encodes to bytes that decode to the same frame
/// (every decoded frame is within the limits, so nothing may be adjusted on the way).
pub fn assert_decoded_round_trips(frame: &Frame, limits: &Limits) {
    let bytes = protocol::encode(frame);
    match protocol::decode(&bytes, limits) {
        Ok(Decoded::Frame(again)) => assert_eq!(&again, frame, "decode(encode(decoded))"),
        other => panic!("decoded {frame:?} re-encodes to {bytes:?}, which decodes to {other:?}"),
    }
}

/// A limit chosen from one input byte: tiny, the default, or the server's.
pub fn limits_from(byte: u8) -> Limits {
    Limits {
        max_message_bytes: match byte % 4 {
            0 => usize::from(byte),
            1 => 1024,
            _ => protocol::DEFAULT_MAX_MESSAGE_BYTES,
        },
    }
}

/// One dispatched event of an event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` type (empty = `message`).
    pub kind: String,
    /// The data (the `data:` lines joined by `\n`).
    pub data: String,
    /// The last event id at dispatch.
    pub id: String,
}

/// The WHATWG HTML "event stream interpretation" (§9.2.6), the way a browser's `EventSource`
/// parses a `text/event-stream` body, fed in chunks: UTF-8 decoded with replacement, one
/// leading BOM ignored, lines ended by CRLF, LF or CR (a CRLF may be split across chunks),
/// comments, `data`/`event`/`id`/`retry` fields, an event dispatched on an empty line, an
/// unterminated last event dropped at the end.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    /// The previous chunk ended with CR: an LF first in the next one ends nothing.
    after_cr: bool,
    first_line: bool,
    data: String,
    kind: String,
    /// The last event id.
    pub id: String,
    /// The reconnection time, if a valid `retry:` set one.
    pub retry: Option<u64>,
    /// Dispatched events, in order.
    pub events: Vec<SseEvent>,
    /// Longest line seen, in bytes.
    pub longest_line: usize,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        SseParser {
            first_line: true,
            ..SseParser::default()
        }
    }

    /// Feeds the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) {
        for &b in chunk {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\r' => {
                    self.after_cr = true;
                    self.end_line();
                }
                b'\n' => self.end_line(),
                _ => self.line.push(b),
            }
        }
    }

    /// The end of the body: an unterminated line and event are dropped.
    pub fn finish(&mut self) {
        self.line.clear();
        self.data.clear();
        self.kind.clear();
    }

    fn end_line(&mut self) {
        let mut raw = std::mem::take(&mut self.line);
        self.longest_line = self.longest_line.max(raw.len());
        if std::mem::take(&mut self.first_line) && raw.starts_with(&[0xef, 0xbb, 0xbf]) {
            raw.drain(..3);
        }
        let line = String::from_utf8_lossy(&raw);
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (&*line, ""),
        };
        match field {
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "event" => self.kind = value.to_owned(),
            "id" if !value.contains('\0') => self.id = value.to_owned(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry = value.parse().ok();
            }
            _ => {}
        }
    }

    fn dispatch(&mut self) {
        if self.data.is_empty() {
            self.kind.clear();
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the last LF
        self.events.push(SseEvent {
            kind: std::mem::take(&mut self.kind),
            data,
            id: self.id.clone(),
        });
    }
}

/// Parses `body` in one chunk and to the end.
pub fn parse_sse(body: &[u8]) -> SseParser {
    let mut p = SseParser::new();
    p.feed(body);
    p.finish();
    p
}

/// Splits `body` into chunks whose sizes follow `seed` (0: one chunk; else 1 to 16 bytes).
pub fn chunks(body: &[u8], seed: u8) -> Vec<&[u8]> {
    if seed == 0 {
        return vec![body];
    }
    let mut x = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let n = (x as usize % usize::from(seed % 16 + 1)) + 1;
        let (head, tail) = rest.split_at(n.min(rest.len()));
        out.push(head);
        rest = tail;
    }
    out
}
