//! Frames and their codec (PROTOCOL.md §2–3).

use super::error::DecodeError;
use super::wire::{put_bytes, put_varint, Reader};
use super::{
    is_valid_session_id, DEFAULT_MAX_MESSAGE_BYTES, MAX_CLOSE_REASON_BYTES,
    MAX_ERROR_MESSAGE_BYTES, MAX_FRAME_BYTES, MAX_SESSION_ID_BYTES,
};

const T_HELLO: u8 = 0x01;
const T_WELCOME: u8 = 0x02;
const T_TEXT: u8 = 0x03;
const T_BINARY: u8 = 0x04;
const T_PING: u8 = 0x05;
const T_PONG: u8 = 0x06;
const T_ACK: u8 = 0x07;
const T_CLOSE: u8 = 0x08;
const T_ERROR: u8 = 0x09;

/// HELLO flags bit: this HELLO is a probe.
const HELLO_PROBE: u64 = 1;

/// Largest close code a CLOSE frame may carry.
const MAX_CLOSE_CODE: u64 = 4999;

/// The client's opening frame (PROTOCOL.md §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Lowest protocol version the client speaks.
    pub min_version: u64,
    /// Highest protocol version the client speaks.
    pub max_version: u64,
    /// Session to resume, or `None` for a new session.
    pub session: Option<String>,
    /// Highest server sequence number the client received in order (0 = none).
    pub last_seq: u64,
    /// A probe (PROTOCOL.md §4): the client checks that this connection reaches its session
    /// without taking delivery over; a plain HELLO on the same connection later takes over.
    /// Encoded as a trailing flags varint (bit 0), absent = not a probe, so older peers that
    /// ignore trailing bytes read a probe as an ordinary HELLO.
    pub probe: bool,
}

/// Whether the server resumed the session the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeOutcome {
    /// The client asked for no session; this is a new one.
    New,
    /// The requested session was resumed.
    Resumed,
    /// The requested session could not be resumed; this is a new one and data may be missing.
    Failed,
}

/// The server's handshake answer: session id, timers and limits (PROTOCOL.md §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    /// The negotiated protocol version.
    pub version: u64,
    /// The session id.
    pub session: String,
    /// Whether the requested session was resumed.
    pub resume: ResumeOutcome,
    /// Highest client sequence number the server received in order.
    pub ack: u64,
    /// How often the server pings when it has sent nothing else.
    pub ping_interval_ms: u64,
    /// After how much client silence the server drops the connection.
    pub idle_timeout_ms: u64,
    /// Largest data payload the server accepts.
    pub max_message_bytes: u64,
}

/// A graceful close with a WebSocket-style code (PROTOCOL.md §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// Close code, ≤ 4999.
    pub code: u16,
    /// Human-readable reason, ≤ 123 bytes.
    pub reason: String,
}

/// Error codes carried by ERROR frames (PROTOCOL.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A frame could not be decoded.
    BadFrame,
    /// No common protocol version (final).
    VersionUnsupported,
    /// A data payload exceeded the limit.
    MessageTooBig,
    /// The session is unknown to the server.
    SessionUnknown,
    /// The server is overloaded; retry later.
    TryLater,
    /// Origin or authorization refused.
    Forbidden,
    /// A code this version does not know.
    Other(u64),
}

impl ErrorCode {
    /// The numeric code on the wire.
    pub fn to_u64(self) -> u64 {
        match self {
            ErrorCode::BadFrame => 1,
            ErrorCode::VersionUnsupported => 2,
            ErrorCode::MessageTooBig => 3,
            ErrorCode::SessionUnknown => 4,
            ErrorCode::TryLater => 5,
            ErrorCode::Forbidden => 6,
            ErrorCode::Other(n) => n,
        }
    }

    /// The code for a wire number.
    pub fn from_u64(n: u64) -> Self {
        match n {
            1 => ErrorCode::BadFrame,
            2 => ErrorCode::VersionUnsupported,
            3 => ErrorCode::MessageTooBig,
            4 => ErrorCode::SessionUnknown,
            5 => ErrorCode::TryLater,
            6 => ErrorCode::Forbidden,
            other => ErrorCode::Other(other),
        }
    }
}

/// An ERROR frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFrame {
    /// What went wrong.
    pub code: ErrorCode,
    /// Human-readable detail, ≤ 1024 bytes.
    pub message: String,
    /// The server's hint for when to retry, in ms (0 = none).
    pub retry_after_ms: u64,
}

/// One protocol frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Client handshake.
    Hello(Hello),
    /// Server handshake answer.
    Welcome(Welcome),
    /// A text message with its sequence number.
    Text {
        /// Per-direction sequence number, from 1.
        seq: u64,
        /// The message.
        text: String,
    },
    /// A binary message with its sequence number.
    Binary {
        /// Per-direction sequence number, from 1.
        seq: u64,
        /// The message.
        data: Vec<u8>,
    },
    /// Heartbeat request; the peer answers with `Pong` carrying the same id.
    Ping {
        /// Correlates the pong.
        id: u64,
    },
    /// Heartbeat answer.
    Pong {
        /// The id of the ping it answers.
        id: u64,
    },
    /// Cumulative acknowledgement of data frames.
    Ack {
        /// Every data frame with seq ≤ this was received.
        seq: u64,
    },
    /// Graceful close.
    Close(CloseFrame),
    /// An error report.
    Error(ErrorFrame),
}

/// Limits a decoder enforces beyond the fixed ones in PROTOCOL.md §7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest data payload accepted, in bytes.
    pub max_message_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// What decoding produced: a frame, or a frame type this version does not know (ignore it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A known frame.
    Frame(Frame),
    /// A well-delimited frame of unknown type; receivers ignore it (but count it as liveness).
    Unknown(u8),
}

/// Encodes `frame` into a new buffer.
///
/// Strings longer than their protocol limit (close reason, error message) are cut at a character
/// boundary so the output always decodes.
pub fn encode(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    encode_into(&mut out, frame);
    out
}

/// Encodes a data frame straight from borrowed bytes: BINARY if `binary`, else TEXT (then
/// `payload` must be UTF-8 — callers pass a `str`'s bytes). Lets a sender keep the message for
/// resending after a resume without cloning it into a [`Frame`] first.
pub fn encode_data(seq: u64, binary: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 11);
    out.push(if binary { T_BINARY } else { T_TEXT });
    put_varint(&mut out, seq);
    out.extend_from_slice(payload);
    out
}

/// Cuts `s` to at most `max` bytes at a character boundary (for reasons and messages that have
/// a protocol limit).
pub fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

pub(crate) fn encode_into(out: &mut Vec<u8>, frame: &Frame) {
    match frame {
        Frame::Hello(h) => {
            out.push(T_HELLO);
            put_varint(out, h.min_version);
            put_varint(out, h.max_version);
            put_bytes(out, h.session.as_deref().unwrap_or("").as_bytes());
            put_varint(out, h.last_seq);
            if h.probe {
                put_varint(out, HELLO_PROBE);
            }
        }
        Frame::Welcome(w) => {
            out.push(T_WELCOME);
            put_varint(out, w.version);
            put_bytes(out, w.session.as_bytes());
            out.push(match w.resume {
                ResumeOutcome::New => 0,
                ResumeOutcome::Resumed => 1,
                ResumeOutcome::Failed => 2,
            });
            put_varint(out, w.ack);
            put_varint(out, w.ping_interval_ms);
            put_varint(out, w.idle_timeout_ms);
            put_varint(out, w.max_message_bytes);
        }
        Frame::Text { seq, text } => {
            out.push(T_TEXT);
            put_varint(out, *seq);
            out.extend_from_slice(text.as_bytes());
        }
        Frame::Binary { seq, data } => {
            out.push(T_BINARY);
            put_varint(out, *seq);
            out.extend_from_slice(data);
        }
        Frame::Ping { id } => {
            out.push(T_PING);
            put_varint(out, *id);
        }
        Frame::Pong { id } => {
            out.push(T_PONG);
            put_varint(out, *id);
        }
        Frame::Ack { seq } => {
            out.push(T_ACK);
            put_varint(out, *seq);
        }
        Frame::Close(c) => {
            out.push(T_CLOSE);
            put_varint(out, u64::from(c.code).min(MAX_CLOSE_CODE));
            put_bytes(out, clip(&c.reason, MAX_CLOSE_REASON_BYTES).as_bytes());
        }
        Frame::Error(e) => {
            out.push(T_ERROR);
            put_varint(out, e.code.to_u64());
            put_bytes(out, clip(&e.message, MAX_ERROR_MESSAGE_BYTES).as_bytes());
            put_varint(out, e.retry_after_ms);
        }
    }
}

/// Decodes one frame from exactly `input` (one WebSocket message, or one batch entry).
///
/// Never panics. Lengths are checked against `input` and `limits` before allocating.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Decoded, DecodeError> {
    if input.len() > MAX_FRAME_BYTES {
        return Err(DecodeError::TooLarge { field: "frame" });
    }
    let mut r = Reader::new(input);
    let kind = r.u8()?;
    let frame = match kind {
        T_HELLO => {
            let min_version = r.varint()?;
            let max_version = r.varint()?;
            let session = session_field(&mut r, true)?;
            let last_seq = r.varint()?;
            // Flags are optional (absent in HELLOs from before probes existed).
            let flags = if r.is_empty() { 0 } else { r.varint()? };
            Frame::Hello(Hello {
                min_version,
                max_version,
                session,
                last_seq,
                probe: flags & HELLO_PROBE != 0,
            })
        }
        T_WELCOME => {
            let version = r.varint()?;
            let session = session_field(&mut r, false)?
                .ok_or(DecodeError::InvalidValue { field: "session" })?;
            let resume = match r.u8()? {
                0 => ResumeOutcome::New,
                1 => ResumeOutcome::Resumed,
                2 => ResumeOutcome::Failed,
                _ => return Err(DecodeError::InvalidValue { field: "resume" }),
            };
            Frame::Welcome(Welcome {
                version,
                session,
                resume,
                ack: r.varint()?,
                ping_interval_ms: r.varint()?,
                idle_timeout_ms: r.varint()?,
                max_message_bytes: r.varint()?,
            })
        }
        T_TEXT => {
            let seq = r.varint()?;
            let payload = payload(&mut r, limits)?;
            let text = core::str::from_utf8(payload)
                .map_err(|_| DecodeError::InvalidUtf8 { field: "payload" })?;
            Frame::Text {
                seq,
                text: text.to_owned(),
            }
        }
        T_BINARY => {
            let seq = r.varint()?;
            Frame::Binary {
                seq,
                data: payload(&mut r, limits)?.to_vec(),
            }
        }
        T_PING => Frame::Ping { id: r.varint()? },
        T_PONG => Frame::Pong { id: r.varint()? },
        T_ACK => Frame::Ack { seq: r.varint()? },
        T_CLOSE => {
            let code = r.varint_max(MAX_CLOSE_CODE, "close code")?;
            let code = u16::try_from(code).map_err(|_| DecodeError::TooLarge {
                field: "close code",
            })?;
            let reason = r.str(MAX_CLOSE_REASON_BYTES, "close reason")?.to_owned();
            Frame::Close(CloseFrame { code, reason })
        }
        T_ERROR => {
            let code = ErrorCode::from_u64(r.varint()?);
            let message = r.str(MAX_ERROR_MESSAGE_BYTES, "error message")?.to_owned();
            Frame::Error(ErrorFrame {
                code,
                message,
                retry_after_ms: r.varint()?,
            })
        }
        other => return Ok(Decoded::Unknown(other)),
    };
    // Trailing bytes after the known fields are allowed (forward compatibility, §1).
    Ok(Decoded::Frame(frame))
}

fn payload<'a>(r: &mut Reader<'a>, limits: &Limits) -> Result<&'a [u8], DecodeError> {
    let payload = r.rest();
    if payload.len() > limits.max_message_bytes {
        return Err(DecodeError::TooLarge { field: "payload" });
    }
    Ok(payload)
}

fn session_field(r: &mut Reader<'_>, may_be_empty: bool) -> Result<Option<String>, DecodeError> {
    let s = r.str(MAX_SESSION_ID_BYTES, "session")?;
    if s.is_empty() && may_be_empty {
        return Ok(None);
    }
    if !is_valid_session_id(s) {
        return Err(DecodeError::InvalidValue { field: "session" });
    }
    Ok(Some(s.to_owned()))
}
