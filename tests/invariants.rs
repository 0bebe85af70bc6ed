//! Property tests over random sequences of inputs, sends and clock moves. `Sim` itself asserts,
//! after every single call: at most one live connection; no event after `Close`; every armed
//! timer strictly later than now and finite (< 2^31 ms ahead). These tests add: the queue stays
//! within its bounds; exactly one `Close` once closed and nothing pending after it; every
//! `Send` goes to the live connection.
#![cfg(not(target_arch = "wasm32"))]

mod sim;

use holdfast::config::{Config, OverflowPolicy, Protocol, RawHeartbeat, TransportKind};
use holdfast::core::{Input, Payload, StateKind, TransportError};
use holdfast::protocol::{CloseFrame, ErrorCode, ErrorFrame, Frame};
use proptest::prelude::*;
use sim::{fast, Sim};

#[derive(Debug, Clone)]
enum Step {
    Advance(u64),
    Jump(u64),
    Fire,
    Connect,
    Close,
    Opened { stale: bool },
    ServerFrame(u8, u64),
    Garbage(Vec<u8>),
    Closed(u16),
    Failed(u16),
    Online,
    Offline,
    Visible,
    Hidden,
    Resumed,
    Send(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u64..5_000).prop_map(Step::Advance),
        (0u64..120_000).prop_map(Step::Jump),
        Just(Step::Fire),
        Just(Step::Connect),
        Just(Step::Close),
        any::<bool>().prop_map(|stale| Step::Opened { stale }),
        (0u8..8, 0u64..50).prop_map(|(k, n)| Step::ServerFrame(k, n)),
        proptest::collection::vec(any::<u8>(), 0..12).prop_map(Step::Garbage),
        prop_oneof![
            Just(1000u16),
            Just(1006),
            Just(1013),
            Just(4001),
            Just(4600)
        ]
        .prop_map(Step::Closed),
        prop_oneof![Just(0u16), Just(401), Just(503)].prop_map(Step::Failed),
        Just(Step::Online),
        Just(Step::Offline),
        Just(Step::Visible),
        Just(Step::Hidden),
        Just(Step::Resumed),
        (0usize..300).prop_map(Step::Send),
    ]
}

fn config() -> impl Strategy<Value = Config> {
    (
        any::<bool>(),
        0u8..3,
        1usize..6,
        any::<bool>(),
        proptest::option::of(0u32..4),
    )
        .prop_map(|(chain, mode, qmax, drop_oldest, max_attempts)| Config {
            transports: if chain && mode == 0 {
                vec![
                    TransportKind::WebSocket,
                    TransportKind::Sse,
                    TransportKind::Polling,
                ]
            } else {
                vec![TransportKind::WebSocket]
            },
            protocol: match mode {
                0 => Protocol::Holdfast,
                1 => Protocol::Raw(None),
                _ => Protocol::Raw(Some(RawHeartbeat {
                    ping: Some("p".into()),
                    pong: Some("q".into()),
                })),
            },
            queue_max_messages: qmax,
            queue_max_bytes: 500,
            overflow: if drop_oldest {
                OverflowPolicy::DropOldest
            } else {
                OverflowPolicy::Reject
            },
            max_attempts,
            ..fast()
        })
}

fn server_frame(kind: u8, n: u64) -> Frame {
    match kind {
        0 => sim::welcome(),
        1 => Frame::Ping { id: n },
        2 => Frame::Pong { id: n },
        3 => Frame::Text {
            seq: n,
            text: "m".into(),
        },
        4 => Frame::Ack { seq: n },
        5 => Frame::Close(CloseFrame {
            code: [1000, 1013, 4001, 4600][n as usize % 4],
            reason: String::new(),
        }),
        6 => Frame::Error(ErrorFrame {
            code: ErrorCode::from_u64(n % 8),
            message: String::new(),
            retry_after_ms: n * 100,
        }),
        _ => Frame::Binary {
            seq: n,
            data: vec![1],
        },
    }
}

fn run(s: &mut Sim, step: Step) {
    let conn = s.actions.iter().rev().find_map(|a| match a {
        holdfast::core::Action::Connect { conn, .. } => Some(*conn),
        _ => None,
    });
    match step {
        Step::Advance(ms) => s.advance(ms),
        Step::Jump(ms) => s.jump(ms),
        Step::Fire => s.fire(),
        Step::Connect => s.input(Input::Connect),
        Step::Close => s.input(Input::Close {
            code: 1000,
            reason: "bye".into(),
        }),
        Step::Opened { stale } => {
            if let Some(c) = conn {
                let c = if stale {
                    holdfast::core::ConnId(c.0.saturating_sub(1))
                } else {
                    c
                };
                s.input(Input::Opened { conn: c });
            }
        }
        Step::ServerFrame(k, n) => {
            if let Some(c) = conn {
                s.server(c, server_frame(k, n));
            }
        }
        Step::Garbage(b) => {
            if let Some(c) = conn {
                s.input(Input::Received {
                    conn: c,
                    payload: Payload::Binary(b),
                });
            }
        }
        Step::Closed(code) => {
            if let Some(c) = conn {
                s.input(Input::Closed {
                    conn: c,
                    code,
                    reason: String::new(),
                });
            }
        }
        Step::Failed(status) => {
            if let Some(c) = conn {
                let error = if status == 0 {
                    TransportError::Network("x".into())
                } else {
                    TransportError::Http {
                        status,
                        retry_after_ms: Some(u64::from(status) * 7),
                    }
                };
                s.input(Input::Failed { conn: c, error });
            }
        }
        Step::Online => s.input(Input::Online),
        Step::Offline => s.input(Input::Offline),
        Step::Visible => s.input(Input::Visible),
        Step::Hidden => s.input(Input::Hidden),
        Step::Resumed => s.input(Input::Resumed),
        Step::Send(n) => {
            s.send(Payload::Text("x".repeat(n)));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_over_random_input_sequences(cfg in config(), steps in proptest::collection::vec(step(), 1..80)) {
        let qmax = cfg.queue_max_messages;
        let mut s = Sim::new(cfg);
        for st in steps {
            run(&mut s, st);
            let stats = s.m.stats();
            prop_assert!(stats.queued <= qmax, "queue over count bound");
            prop_assert!(stats.queued_bytes <= 500, "queue over byte bound");
            // One data connection, plus a probe while one is out (upgrade back).
            let probes = usize::from(s.m.upgrade().probe_conn().is_some());
            prop_assert!(s.live.len() <= 1 + probes);
            let closes = s.close_events().len();
            prop_assert!(closes <= 1, "more than one Close");
            if closes == 1 {
                prop_assert_eq!(s.m.state_kind(), StateKind::Closed);
                prop_assert!(s.live.is_empty(), "live connection after Close");
                prop_assert!(s.m.poll_timeout().is_none());
            }
        }
        // Whatever happened, an explicit close always ends in exactly one Close event.
        s.input(Input::Close { code: 1000, reason: String::new() });
        prop_assert_eq!(s.close_events().len(), 1);
        prop_assert!(s.live.is_empty());
    }
}
