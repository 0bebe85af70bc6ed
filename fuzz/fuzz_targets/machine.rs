//! The client core (`Machine`) driven by an arbitrary configuration and an arbitrary sequence
//! of inputs, sends and clock moves, on any transport of the chain, with hostile server frames
//! (WELCOME with any timers and limits, any seq, CLOSE and ERROR codes), garbage bytes and text,
//! SSE events, poll bodies, stale and probe connections.
//!
//! The sim (`tests/sim`) asserts after every call: at most one data connection and one probe,
//! sends only on live connections, no event after `Close`, every timer in the future and
//! finite. This target adds what `tests/invariants.rs` asserts — the queue within its bounds,
//! exactly one `Close` and nothing live or armed after it, an explicit close always ending in
//! exactly one `Close` — and that every send gets exactly one outcome: a message accepted
//! (`Sent`/`Queued`) stays counted until it is acknowledged or reported (overflow, discarded,
//! gap), so `accepted − reported − queued` never goes negative or backwards; a send after
//! `Close` is rejected as closed, and a `TooBig` rejection is over the limit.
#![no_main]

use arbitrary::Arbitrary;
use holdfast::config::{Config, OverflowPolicy, Protocol, RawHeartbeat, TransportKind};
use holdfast::core::{
    Action, ClientError, ConnId, Event, Input, Machine, Payload, RejectReason, SendOutcome,
    StateKind, TransportError,
};
use holdfast::protocol::{encode, encode_base64, encode_batch, Frame};
use holdfast_fuzz::sim::{fast, Sim};
use holdfast_fuzz::FrameSpec;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Cfg {
    chain: u8,
    mode: u8,
    start: Option<u8>,
    queue_max_messages: u8,
    queue_max_bytes: u16,
    drop_oldest: bool,
    max_attempts: Option<u8>,
    max_message_bytes: u16,
    fallback_after_failures: u8,
    upgrade_probe_ms: u16,
}

#[derive(Debug, Arbitrary)]
enum Step {
    Advance(u16),
    Jump(u32),
    Fire,
    Connect,
    Close {
        code: u16,
        reason: String,
    },
    Opened(u8),
    Server(u8, FrameSpec),
    /// The sim's WELCOME (session `s1`), the usual way a handshake completes.
    Welcome(u8),
    SseEvent(u8, FrameSpec),
    SseText(u8, String),
    Garbage(u8, Vec<u8>),
    Text(u8, String),
    Polled(u8, Vec<u8>),
    PolledFrames(u8, Vec<FrameSpec>),
    Sent(u8),
    Oversized(u8, u32),
    Closed(u8, u16, String),
    Failed(u8, u16, Option<u32>),
    Network(u8),
    Online,
    Offline,
    Visible,
    Hidden,
    Resumed,
    Send {
        binary: bool,
        len: u16,
    },
}

#[derive(Debug, Arbitrary)]
struct Run {
    cfg: Cfg,
    jitter: u8,
    steps: Vec<Step>,
}

fn config(c: &Cfg) -> Config {
    use TransportKind::*;
    let chains: [&[TransportKind]; 8] = [
        &[WebSocket],
        &[WebSocket, Sse, LongPolling, Polling],
        &[Sse],
        &[LongPolling],
        &[Polling],
        &[WebSocket, LongPolling],
        &[Sse, Polling],
        &[Polling, WebSocket],
    ];
    let raw = !c.mode.is_multiple_of(3);
    Config {
        transports: if raw {
            vec![WebSocket]
        } else {
            chains[usize::from(c.chain % 8)].to_vec()
        },
        protocol: match c.mode % 3 {
            0 => Protocol::Holdfast,
            1 => Protocol::Raw(None),
            _ => Protocol::Raw(Some(RawHeartbeat {
                ping: Some("p".into()),
                pong: Some("q".into()),
            })),
        },
        queue_max_messages: usize::from(c.queue_max_messages % 8) + 1,
        queue_max_bytes: usize::from(c.queue_max_bytes % 2000) + 1,
        overflow: if c.drop_oldest {
            OverflowPolicy::DropOldest
        } else {
            OverflowPolicy::Reject
        },
        max_attempts: c.max_attempts.map(|n| u32::from(n % 5)),
        max_message_bytes: usize::from(c.max_message_bytes % 1500) + 1,
        fallback_after_failures: u32::from(c.fallback_after_failures % 4) + 1,
        upgrade_probe_ms: u64::from(c.upgrade_probe_ms % 5000) + 100,
        ..fast()
    }
}

/// The connection an input names: the latest attempt mostly, older ones (stale) or the probe.
fn conn(s: &Sim, pick: u8) -> Option<ConnId> {
    let conns: Vec<ConnId> = s
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Connect { conn, .. } => Some(*conn),
            _ => None,
        })
        .collect();
    let back = usize::from(pick % 4).min(conns.len().checked_sub(1)?);
    conns.get(conns.len() - 1 - back).copied()
}

#[derive(Default)]
struct Books {
    accepted: u64,
    reported: u64,
    /// accepted − reported − queued after the previous step.
    settled: u64,
    events_seen: usize,
}

fuzz_target!(|run: Run| {
    let cfg = config(&run.cfg);
    let (qmax, qbytes, max_msg) = (
        cfg.queue_max_messages,
        cfg.queue_max_bytes,
        cfg.max_message_bytes,
    );
    let start = run
        .cfg
        .start
        .map(|i| TransportKind::ALL[usize::from(i % 4)]);
    let Ok(m) = Machine::new(cfg, 1) else {
        panic!("the fuzzer's configs are valid");
    };
    let sample = f64::from(run.jitter) / 256.0;
    let m = m.with_jitter(move || sample);
    let m = match start {
        Some(kind) => m.with_start(kind),
        None => m,
    };
    let mut s = Sim::from_machine(m);
    let mut books = Books::default();
    for step in run.steps {
        let closed_before = s.close_events().len() == 1;
        match step {
            Step::Advance(ms) => s.advance(u64::from(ms)),
            Step::Jump(ms) => s.jump(u64::from(ms % 200_000)),
            Step::Fire => s.fire(),
            Step::Connect => s.input(Input::Connect),
            Step::Close { code, reason } => s.input(Input::Close { code, reason }),
            Step::Opened(c) => {
                if let Some(conn) = conn(&s, c) {
                    s.input(Input::Opened { conn });
                }
            }
            Step::Server(c, f) => {
                if let Some(conn) = conn(&s, c) {
                    s.server(conn, f.frame());
                }
            }
            Step::Welcome(c) => {
                if let Some(conn) = conn(&s, c) {
                    s.server(conn, holdfast_fuzz::sim::welcome());
                }
            }
            Step::SseEvent(c, f) => {
                if let Some(conn) = conn(&s, c) {
                    let text = encode_base64(&encode(&f.frame()));
                    s.input(Input::Received {
                        conn,
                        payload: Payload::Text(text),
                    });
                }
            }
            Step::SseText(c, text) | Step::Text(c, text) => {
                if let Some(conn) = conn(&s, c) {
                    s.input(Input::Received {
                        conn,
                        payload: Payload::Text(text),
                    });
                }
            }
            Step::Garbage(c, bytes) => {
                if let Some(conn) = conn(&s, c) {
                    s.input(Input::Received {
                        conn,
                        payload: Payload::Binary(bytes),
                    });
                }
            }
            Step::Polled(c, body) => {
                if let Some(conn) = conn(&s, c) {
                    s.input(Input::Polled { conn, body });
                }
            }
            Step::PolledFrames(c, frames) => {
                if let Some(conn) = conn(&s, c) {
                    let frames: Vec<Frame> = frames.iter().map(FrameSpec::frame).collect();
                    s.input(Input::Polled {
                        conn,
                        body: encode_batch(&frames),
                    });
                }
            }
            Step::Sent(c) => {
                if let Some(conn) = conn(&s, c) {
                    s.input(Input::Sent { conn });
                }
            }
            Step::Oversized(c, size) => {
                if let Some(conn) = conn(&s, c) {
                    s.input(Input::Oversized {
                        conn,
                        size: size as usize,
                    });
                }
            }
            Step::Closed(c, code, reason) => {
                if let Some(conn) = conn(&s, c) {
                    s.input(Input::Closed { conn, code, reason });
                }
            }
            Step::Failed(c, status, retry) => {
                if let Some(conn) = conn(&s, c) {
                    let error = TransportError::Http {
                        status,
                        retry_after_ms: retry.map(u64::from),
                    };
                    s.input(Input::Failed { conn, error });
                }
            }
            Step::Network(c) => {
                if let Some(conn) = conn(&s, c) {
                    s.input(Input::Failed {
                        conn,
                        error: TransportError::Network("x".into()),
                    });
                }
            }
            Step::Online => s.input(Input::Online),
            Step::Offline => s.input(Input::Offline),
            Step::Visible => s.input(Input::Visible),
            Step::Hidden => s.input(Input::Hidden),
            Step::Resumed => s.input(Input::Resumed),
            Step::Send { binary, len } => {
                let len = usize::from(len % 2048);
                let payload = if binary {
                    Payload::Binary(vec![3; len])
                } else {
                    Payload::Text("x".repeat(len))
                };
                let outcome = s.send(payload);
                match outcome {
                    SendOutcome::Sent | SendOutcome::Queued => {
                        assert!(!closed_before, "accepted after Close");
                        books.accepted += 1;
                    }
                    SendOutcome::Rejected(RejectReason::Closed) => {}
                    SendOutcome::Rejected(RejectReason::TooBig) => assert!(len > max_msg),
                    SendOutcome::Rejected(_) => assert!(!closed_before),
                }
                if closed_before {
                    assert_eq!(outcome, SendOutcome::Rejected(RejectReason::Closed));
                }
            }
        }
        check(&s, &mut books, qmax, qbytes);
    }
    // Whatever happened, an explicit close always ends in exactly one Close event.
    s.input(Input::Close {
        code: 1000,
        reason: String::new(),
    });
    check(&s, &mut books, qmax, qbytes);
    assert_eq!(s.close_events().len(), 1);
    assert!(s.live.is_empty());
    if std::env::var_os("FUZZ_DEBUG").is_some() {
        eprintln!(
            "events: {:#?}\nactions: {:#?}\nstats: {:?}",
            s.events,
            s.actions,
            s.m.stats()
        );
    }
    assert_eq!(s.m.stats().queued, 0, "messages held after Close");
});

fn check(s: &Sim, books: &mut Books, qmax: usize, qbytes: usize) {
    let stats = s.m.stats();
    assert!(stats.queued <= qmax, "queue over count bound");
    assert!(stats.queued_bytes <= qbytes, "queue over byte bound");
    let probes = usize::from(s.m.upgrade().probe_conn().is_some());
    assert!(s.live.len() <= 1 + probes);
    let closes = s.close_events().len();
    assert!(closes <= 1, "more than one Close");
    if closes == 1 {
        assert_eq!(s.m.state_kind(), StateKind::Closed);
        assert!(s.live.is_empty(), "live connection after Close");
        assert!(s.m.poll_timeout().is_none());
    }
    for e in &s.events[books.events_seen..] {
        books.reported += match e {
            Event::Error(ClientError::QueueOverflow { dropped }) => *dropped as u64,
            Event::Error(ClientError::QueueDiscarded { count }) => *count as u64,
            Event::Gap { messages, .. } => messages.len() as u64,
            _ => 0,
        };
    }
    books.events_seen = s.events.len();
    let gone = books.reported + stats.queued as u64;
    assert!(
        gone <= books.accepted,
        "{} reported + {} queued > {} accepted",
        books.reported,
        stats.queued,
        books.accepted
    );
    let settled = books.accepted - gone;
    assert!(settled >= books.settled, "a settled send came back");
    books.settled = settled;
}
