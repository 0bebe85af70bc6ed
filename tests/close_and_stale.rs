//! Closing: exactly one terminal `Close`, nothing after it, from every state; terminal server
//! answers; inputs from stale connections are ignored.
#![cfg(not(target_arch = "wasm32"))]

mod sim;

use holdfast::core::{Action, Event, Input, Payload, State, StateKind, TransportError};
use holdfast::protocol::{CloseFrame, ErrorCode, ErrorFrame, Frame};
use sim::{fast, opened, Sim};

fn assert_one_close(s: &Sim, code: u16) {
    let closes = s.close_events();
    assert_eq!(closes.len(), 1, "{:?}", s.events);
    assert!(
        matches!(closes[0], Event::Close { code: c, .. } if *c == code),
        "{closes:?}"
    );
    assert!(matches!(s.events.last(), Some(Event::Close { .. })));
    assert_eq!(s.m.state_kind(), StateKind::Closed);
    assert_eq!(s.m.state_kind().ready_state(), 3);
    assert!(s.live.is_empty(), "a connection is still live after close");
    assert!(s.m.poll_timeout().is_none());
}

fn poke_everything(s: &mut Sim) {
    let c = s.last_conn();
    s.input(Input::Opened { conn: c });
    s.server(c, sim::welcome());
    s.input(Input::Closed {
        conn: c,
        code: 1006,
        reason: String::new(),
    });
    s.input(Input::Online);
    s.input(Input::Resumed);
    s.input(Input::Close {
        code: 1000,
        reason: "again".into(),
    });
    s.input(Input::Connect);
    s.advance(600_000);
}

#[test]
fn close_while_connecting() {
    let mut s = Sim::new(fast());
    s.input(Input::Connect);
    s.input(Input::Close {
        code: 1000,
        reason: "bye".into(),
    });
    assert_one_close(&s, 1000);
    poke_everything(&mut s);
    assert_one_close(&s, 1000);
    assert_eq!(s.connects(), 1);
}

#[test]
fn close_during_backoff() {
    let mut s = Sim::new(fast());
    s.input(Input::Connect);
    s.fail();
    assert!(matches!(s.m.state(), State::Backoff { .. }));
    s.input(Input::Close {
        code: 4000,
        reason: "done".into(),
    });
    assert_one_close(&s, 4000);
    poke_everything(&mut s);
    assert_eq!(s.connects(), 1, "attempted after close");
}

#[test]
fn close_while_open_sends_a_close_frame_then_disconnects() {
    let (mut s, c) = opened(fast());
    s.input(Input::Close {
        code: 1000,
        reason: "bye".into(),
    });
    assert!(s.frames_sent(c).contains(&Frame::Close(CloseFrame {
        code: 1000,
        reason: "bye".into()
    })));
    assert!(
        matches!(s.actions.last(), Some(Action::Disconnect { conn, code: 1000, .. }) if *conn == c)
    );
    match s.close_events()[0] {
        Event::Close {
            was_clean, reason, ..
        } => {
            assert!(*was_clean);
            assert_eq!(reason, "bye");
        }
        _ => unreachable!(),
    }
    assert_one_close(&s, 1000);
}

#[test]
fn close_twice_emits_one_close() {
    let (mut s, _) = opened(fast());
    s.input(Input::Close {
        code: 1000,
        reason: "one".into(),
    });
    s.input(Input::Close {
        code: 1001,
        reason: "two".into(),
    });
    assert_one_close(&s, 1000);
}

#[test]
fn close_before_connect() {
    let mut s = Sim::new(fast());
    s.input(Input::Close {
        code: 1000,
        reason: String::new(),
    });
    assert_one_close(&s, 1000);
    s.input(Input::Connect);
    assert_eq!(s.connects(), 0);
}

#[test]
fn final_server_close_code_stops_reconnecting() {
    let (mut s, c) = opened(fast());
    s.server(
        c,
        Frame::Close(CloseFrame {
            code: 4001,
            reason: "banned".into(),
        }),
    );
    assert_one_close(&s, 4001);
    s.advance(600_000);
    assert_eq!(s.connects(), 1);
}

#[test]
fn final_code_on_the_transport_close_also_stops() {
    let (mut s, c) = opened(fast());
    s.input(Input::Closed {
        conn: c,
        code: 4403,
        reason: "nope".into(),
    });
    assert_one_close(&s, 4403);
}

#[test]
fn non_final_server_close_reconnects() {
    let (mut s, c) = opened(fast());
    s.server(
        c,
        Frame::Close(CloseFrame {
            code: 4500,
            reason: "move".into(),
        }),
    );
    assert!(s.close_events().is_empty());
    assert!(matches!(s.m.state(), State::Backoff { .. }));
}

#[test]
fn version_mismatch_is_terminal_with_a_clear_reason() {
    let mut s = Sim::new(fast());
    s.input(Input::Connect);
    let c = s.last_conn();
    s.input(Input::Opened { conn: c });
    s.server(
        c,
        Frame::Error(ErrorFrame {
            code: ErrorCode::VersionUnsupported,
            message: "server speaks 2..3".into(),
            retry_after_ms: 0,
        }),
    );
    assert_one_close(&s, 1002);
    match s.close_events()[0] {
        Event::Close { reason, .. } => assert!(reason.contains("version"), "{reason}"),
        _ => unreachable!(),
    }
}

#[test]
fn unauthorized_twice_is_terminal_after_one_immediate_retry() {
    let mut s = Sim::new(fast());
    s.input(Input::Connect);
    let http = |status| TransportError::Http {
        status,
        retry_after_ms: None,
    };
    let c = s.last_conn();
    s.input(Input::Failed {
        conn: c,
        error: http(401),
    });
    assert_eq!(s.connects(), 2, "no immediate retry with a fresh URL");
    assert!(s.reconnecting_delays().is_empty());
    let c = s.last_conn();
    s.input(Input::Failed {
        conn: c,
        error: http(403),
    });
    assert_one_close(&s, 1008);
}

#[test]
fn inputs_from_stale_connections_are_ignored() {
    let mut s = Sim::new(fast());
    s.input(Input::Connect);
    let old = s.fail();
    s.advance(2_000);
    let new = s.last_conn();
    assert_ne!(old, new);
    // The old connection's late events must not touch the new attempt.
    s.input(Input::Opened { conn: old });
    s.input(Input::Received {
        conn: old,
        payload: Payload::Binary(holdfast::protocol::encode(&sim::welcome())),
    });
    assert!(matches!(s.m.state(), State::Connecting { conn, .. } if *conn == new));
    assert_eq!(s.opens(), 0);
    s.input(Input::Closed {
        conn: old,
        code: 1006,
        reason: String::new(),
    });
    s.input(Input::Failed {
        conn: old,
        error: TransportError::Network("late".into()),
    });
    assert!(matches!(s.m.state(), State::Connecting { conn, .. } if *conn == new));
    assert_eq!(s.connects(), 2);
    s.open();
    s.input(Input::Received {
        conn: old,
        payload: Payload::Binary(holdfast::protocol::encode(&Frame::Text {
            seq: 1,
            text: "ghost".into(),
        })),
    });
    assert!(
        s.messages().is_empty(),
        "message from a stale connection delivered"
    );
}

#[test]
fn bad_frames_are_reported_and_the_connection_goes_on() {
    let (mut s, c) = opened(fast());
    s.input(Input::Received {
        conn: c,
        payload: Payload::Binary(vec![0x03]),
    });
    s.input(Input::Received {
        conn: c,
        payload: Payload::Text("not a frame".into()),
    });
    s.input(Input::Received {
        conn: c,
        payload: Payload::Binary(vec![]),
    });
    s.server(
        c,
        Frame::Text {
            seq: 1,
            text: "good".into(),
        },
    );
    let errors = s
        .events
        .iter()
        .filter(|e| matches!(e, Event::Error(_)))
        .count();
    assert_eq!(errors, 3);
    assert_eq!(s.messages(), vec![Payload::Text("good".into())]);
    assert!(matches!(s.m.state(), State::Open { .. }));
}
