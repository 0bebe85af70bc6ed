//! The server's session endpoint (`ServerSession`, sans IO) driven by an arbitrary sequence of
//! what clients and the app do: HELLOs (new, resume, someone else's id), arbitrary bytes and
//! frames from the client, poll cursors, app sends, detaches, closes and clock moves.
//!
//! Asserted after every call: no panic; the outbound log within its bounds; every client data
//! frame with a new seq (up to `MAX_SEQ`) delivered exactly once, anything else (duplicates,
//! seqs above `MAX_SEQ`, bad frames, frames while detached or ended) never; outbound seqs
//! allocated one by one and only logged ones transmitted; WELCOME first on every attach; nothing
//! but CLOSE after the end.
#![no_main]

use arbitrary::Arbitrary;
use holdfast::core::Instant;
use holdfast::protocol::{decode, encode, Decoded, Frame, Hello, Limits, ResumeOutcome, MAX_SEQ};
use holdfast_fuzz::{FrameSpec, Num};
use holdfast_server::{Message, Output, ServerSession, SessionConfig, SessionState};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Step {
    /// HELLO: 0 = new, 1 = this session, 2 = another id.
    Attach {
        who: u8,
        last_seq: Num,
    },
    Bytes(Vec<u8>),
    Frame(FrameSpec),
    /// A data frame near the next expected seq.
    Data {
        ahead: i8,
        binary: bool,
        len: u8,
    },
    Cursor(Num),
    Send {
        binary: bool,
        len: u16,
    },
    Advance(u16),
    Jump(u32),
    Fire,
    Detach {
        current: bool,
    },
    Close(u16),
    Abandon(u16),
    Liveness,
    NonFrame,
}

#[derive(Debug, Arbitrary)]
struct Input {
    max_log_messages: u8,
    max_log_bytes: u16,
    max_message_bytes: u16,
    steps: Vec<Step>,
}

struct Model {
    s: ServerSession,
    now: u64,
    limits: Limits,
    /// Client seq last delivered in order (the session's inbound position).
    last_in: u64,
    /// Outbound seqs handed out by `send`.
    last_out: u64,
    ended: bool,
}

impl Model {
    fn at(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    /// Drains the outputs and checks them: `(deliveries, transmitted frames)`.
    fn drain(&mut self) -> (Vec<Message>, Vec<Frame>, usize) {
        let (mut delivered, mut sent, mut disconnects) = (vec![], vec![], 0);
        while let Some(o) = self.s.poll_output() {
            match o {
                Output::Deliver(m) => delivered.push(m),
                Output::Transmit(f) => {
                    if let Frame::Text { seq, .. } | Frame::Binary { seq, .. } = &f {
                        assert!(
                            *seq >= 1 && *seq <= self.last_out,
                            "data seq {seq} never sent"
                        );
                    }
                    sent.push(f);
                }
                Output::Disconnect { .. } => disconnects += 1,
            }
        }
        let c = self.s.config();
        assert!(
            self.s.log_len() <= c.max_log_messages,
            "log over its message bound"
        );
        assert!(
            self.s.log_bytes() <= c.max_log_bytes,
            "log over its byte bound"
        );
        if matches!(self.s.state(), SessionState::Ended { .. }) {
            self.ended = true;
            assert_eq!(self.s.log_len(), 0);
        }
        (delivered, sent, disconnects)
    }
}

fuzz_target!(|input: Input| {
    let config = SessionConfig {
        ping_interval_ms: 1_000,
        idle_timeout_ms: 2_500,
        ttl_ms: 10_000,
        max_log_messages: usize::from(input.max_log_messages % 16),
        max_log_bytes: usize::from(input.max_log_bytes % 4096),
        max_message_bytes: usize::from(input.max_message_bytes % 2048),
    };
    let limits = Limits {
        max_message_bytes: config.max_message_bytes,
    };
    let mut m = Model {
        s: ServerSession::new("s1".into(), config, Instant::from_millis(0)),
        now: 0,
        limits,
        last_in: 0,
        last_out: 0,
        ended: false,
    };
    for step in input.steps {
        let was_attached = matches!(m.s.state(), SessionState::Attached { .. });
        let was_ended = m.ended;
        // The data frame the client sent in this step, if any, decoded as the session will.
        let mut client_bytes: Option<Vec<u8>> = None;
        match step {
            Step::Attach { who, last_seq } => {
                let hello = Hello {
                    min_version: 1,
                    max_version: 1,
                    session: match who % 3 {
                        0 => None,
                        1 => Some("s1".into()),
                        _ => Some("other".into()),
                    },
                    last_seq: last_seq.get(),
                    probe: false,
                };
                let now = m.at();
                m.s.attach(now, &hello);
                let (delivered, sent, _) = m.drain();
                assert!(delivered.is_empty());
                if was_ended {
                    assert!(matches!(sent.as_slice(), [Frame::Close(_)]), "{sent:?}");
                    continue;
                }
                match sent.first() {
                    Some(Frame::Welcome(w)) => {
                        assert_eq!(w.session, "s1");
                        assert_eq!(w.ack, m.last_in, "WELCOME ack");
                        let want = match who % 3 {
                            0 => ResumeOutcome::New,
                            1 => ResumeOutcome::Resumed,
                            _ => ResumeOutcome::Failed,
                        };
                        assert_eq!(w.resume, want);
                    }
                    other => panic!("attach transmitted {other:?} first"),
                }
                continue;
            }
            Step::Bytes(b) => client_bytes = Some(b),
            Step::Frame(f) => client_bytes = Some(encode(&f.frame())),
            Step::Data { ahead, binary, len } => {
                let seq = m.last_in.saturating_add_signed(i64::from(ahead));
                let frame = if binary {
                    Frame::Binary {
                        seq,
                        data: vec![7; usize::from(len)],
                    }
                } else {
                    Frame::Text {
                        seq,
                        text: "t".repeat(usize::from(len)),
                    }
                };
                client_bytes = Some(encode(&frame));
            }
            Step::Cursor(c) => {
                let now = m.at();
                m.s.handle_cursor(now, c.get());
            }
            Step::Send { binary, len } => {
                let msg = if binary {
                    Message::Binary(vec![1; usize::from(len % 1024)])
                } else {
                    Message::Text("m".repeat(usize::from(len % 1024)))
                };
                let now = m.at();
                if let Ok(seq) = m.s.send(now, msg) {
                    assert!(!was_ended);
                    assert_eq!(seq, m.last_out + 1, "outbound seqs one by one");
                    m.last_out = seq;
                }
            }
            Step::Advance(ms) => {
                m.now += u64::from(ms);
                let now = m.at();
                m.s.handle_timeout(now);
            }
            Step::Jump(ms) => m.now += u64::from(ms),
            Step::Fire => {
                if let Some(t) = m.s.poll_timeout() {
                    m.now = m.now.max(t.as_millis());
                }
                let now = m.at();
                m.s.handle_timeout(now);
            }
            Step::Detach { current } => {
                let a = m.s.attachment();
                let now = m.at();
                m.s.detach(now, if current { a } else { a.wrapping_sub(1) });
            }
            Step::Close(code) => m.s.close(code, "bye"),
            Step::Abandon(code) => m.s.abandon(code, "gone"),
            Step::Liveness => {
                let now = m.at();
                m.s.handle_liveness(now);
            }
            Step::NonFrame => {
                let now = m.at();
                m.s.handle_non_frame(now, "text");
            }
        }
        let mut want_delivery = None;
        if let Some(bytes) = client_bytes {
            if was_attached {
                // Above MAX_SEQ no sender ever goes: a bad frame, not delivered, the receiver
                // unmoved (`Receiver::accept`'s OutOfRange).
                let new = |seq: u64, last_in: u64| seq > last_in && seq <= MAX_SEQ;
                if let Ok(Decoded::Frame(Frame::Text { seq, text })) = decode(&bytes, &m.limits) {
                    if new(seq, m.last_in) {
                        want_delivery = Some(Message::Text(text));
                        m.last_in = seq;
                    }
                } else if let Ok(Decoded::Frame(Frame::Binary { seq, data })) =
                    decode(&bytes, &m.limits)
                {
                    if new(seq, m.last_in) {
                        want_delivery = Some(Message::Binary(data));
                        m.last_in = seq;
                    }
                }
            }
            let now = m.at();
            m.s.handle_bytes(now, &bytes);
        }
        let (delivered, sent, _) = m.drain();
        assert_eq!(
            delivered,
            want_delivery.into_iter().collect::<Vec<_>>(),
            "deliveries"
        );
        if was_ended {
            assert!(sent.is_empty(), "transmitted after the end: {sent:?}");
        }
    }
});
