//! The protocol-vs-raw choice, made once when the machine is built: what a message looks like on
//! the wire, whether a handshake proves the round trip, what a heartbeat is, and which transport
//! close codes are final. The rest of the core asks the [`Mode`] instead of matching on the
//! configured protocol.

use super::event::ClientError;
use super::types::Payload;
use crate::config::Protocol;
use crate::protocol::{self, Decoded, Frame, Limits};

/// How the client talks to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The holdfast protocol: frames, a HELLO → WELCOME handshake, a session with sequence
    /// numbers and acks, PING/PONG frames.
    Session,
    /// Plain messages to any server: no envelope, no session.
    Raw {
        /// Text sent as a heartbeat ping, if any.
        ping: Option<String>,
        /// Inbound text that is a heartbeat reply (swallowed), if any.
        pong: Option<String>,
        /// Whether inbound silence declares the link dead (a raw heartbeat is configured).
        liveness: bool,
    },
}

/// What an inbound transport message turned out to be.
#[derive(Debug)]
pub(crate) enum Received {
    /// A protocol frame.
    Frame(Frame),
    /// A raw-mode message for the app.
    App(Payload),
    /// A raw-mode heartbeat reply.
    Pong,
    /// A frame of a type this version does not know: ignored (it was still proof of life).
    Ignored,
    /// Something that cannot be used; reported with an `error` event and dropped.
    Bad(ClientError),
}

impl Mode {
    /// The mode for a configured protocol.
    pub(crate) fn new(protocol: &Protocol) -> Mode {
        match protocol {
            Protocol::Holdfast => Mode::Session,
            Protocol::Raw(hb) => Mode::Raw {
                ping: hb.as_ref().and_then(|hb| hb.ping.clone()),
                pong: hb.as_ref().and_then(|hb| hb.pong.clone()),
                liveness: hb.is_some(),
            },
        }
    }

    /// Whether the session protocol is spoken (handshake, sequence numbers, acks).
    pub(crate) fn is_session(&self) -> bool {
        matches!(self, Mode::Session)
    }

    /// Whether inbound silence declares the link dead.
    pub(crate) fn liveness(&self) -> bool {
        match self {
            Mode::Session => true,
            Mode::Raw { liveness, .. } => *liveness,
        }
    }

    /// Whether the client sends heartbeat pings.
    pub(crate) fn pings(&self) -> bool {
        match self {
            Mode::Session => true,
            Mode::Raw { ping, .. } => ping.is_some(),
        }
    }

    /// Whether a transport close with `code` is final. Raw servers never promised anything about
    /// their codes, so only a holdfast server's 4000–4499 stop reconnecting.
    pub(crate) fn final_transport_close(&self, code: u16) -> bool {
        self.is_session() && super::close::is_final(code)
    }

    /// The heartbeat ping with `id` as it goes on the wire, if this mode sends one.
    pub(crate) fn ping(&self, id: u64) -> Option<Payload> {
        match self {
            Mode::Session => Some(encode(&Frame::Ping { id })),
            Mode::Raw { ping, .. } => ping.clone().map(Payload::Text),
        }
    }

    /// An app message numbered `seq` as a protocol data frame. Only the session mode numbers its
    /// messages; raw mode hands the outbox's payloads to the transport as they are.
    pub(crate) fn data(&self, seq: u64, payload: &Payload) -> Payload {
        match payload {
            Payload::Text(text) => {
                Payload::Binary(protocol::encode_data(seq, false, text.as_bytes()))
            }
            Payload::Binary(data) => Payload::Binary(protocol::encode_data(seq, true, data)),
        }
    }

    /// Classifies one inbound transport message.
    pub(crate) fn receive(&self, payload: Payload, limits: &Limits) -> Received {
        match self {
            Mode::Raw { pong, .. } => match (pong, &payload) {
                (Some(pong), Payload::Text(t)) if pong == t => Received::Pong,
                _ => Received::App(payload),
            },
            Mode::Session => match payload {
                Payload::Text(_) => Received::Bad(ClientError::UnexpectedText),
                Payload::Binary(bytes) => match protocol::decode(&bytes, limits) {
                    Err(e) => Received::Bad(ClientError::BadFrame(e)),
                    Ok(Decoded::Unknown(_)) => Received::Ignored,
                    Ok(Decoded::Frame(frame)) => Received::Frame(frame),
                },
            },
        }
    }
}

/// One protocol frame as a transport message.
pub(crate) fn encode(frame: &Frame) -> Payload {
    Payload::Binary(protocol::encode(frame))
}
