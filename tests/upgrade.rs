//! Upgrade back (PROTOCOL.md §4 "Probes", §9) on a simulated clock: probes of WebSocket while
//! the session runs on SSE, their schedule and back-off, the takeover and cutover with nothing
//! lost or duplicated, and probes that fail without disturbing the session.
#![cfg(not(target_arch = "wasm32"))]

mod sim;

use holdfast::config::{Config, TransportKind};
use holdfast::core::{
    Action, ConnId, DisconnectReason, Event, Input, Payload, ProbePhase, State, TransportError,
    Upgrade,
};
use holdfast::protocol::{self, encode_base64, Frame, ResumeOutcome, Welcome};
use sim::{fast, welcome, Sim};
use TransportKind::*;

fn config() -> Config {
    Config {
        transports: vec![WebSocket, Sse],
        upgrade_probe_ms: 1_000,
        upgrade_probe_max_ms: 4_000,
        ..fast()
    }
}

fn sse_event(s: &mut Sim, conn: ConnId, frame: &Frame) {
    s.input(Input::Received {
        conn,
        payload: Payload::Text(encode_base64(&protocol::encode(frame))),
    });
}

/// WebSocket refused, then open on SSE: returns the SSE connection.
fn open_on_sse(s: &mut Sim) -> ConnId {
    s.input(Input::Connect);
    s.fail();
    let conn = s.last_conn();
    s.input(Input::Opened { conn });
    sse_event(s, conn, &welcome());
    assert!(matches!(s.m.state(), State::Open { transport: 1, .. }));
    conn
}

fn resumed(ack: u64) -> Frame {
    let Frame::Welcome(w) = welcome() else {
        unreachable!()
    };
    Frame::Welcome(Welcome {
        resume: ResumeOutcome::Resumed,
        ack,
        ..w
    })
}

/// Frames sent on `conn` as plain WebSocket messages (a probe's frames).
fn frames_on(s: &Sim, conn: ConnId) -> Vec<Frame> {
    s.frames_sent(conn)
}

/// Opens on SSE, then lets the first probe through its probe round trip: it is trusted and its
/// takeover HELLO is out. Returns (the SSE connection, the probe).
fn trusted_probe(s: &mut Sim) -> (ConnId, ConnId) {
    let sse = open_on_sse(s);
    s.advance(1_000);
    let (p, _) = probe(s).expect("a probe is out");
    s.input(Input::Opened { conn: p });
    s.server(p, resumed(0));
    (sse, p)
}

fn probe(s: &Sim) -> Option<(ConnId, ProbePhase)> {
    match s.m.upgrade() {
        Upgrade::Probing { conn, phase, .. } => Some((*conn, *phase)),
        _ => None,
    }
}

fn connects_to(s: &Sim, kind: TransportKind) -> Vec<ConnId> {
    s.actions
        .iter()
        .filter_map(|a| match a {
            Action::Connect {
                conn, transport, ..
            } if *transport == kind => Some(*conn),
            _ => None,
        })
        .collect()
}

#[test]
fn a_probe_goes_out_after_the_first_delay_and_proves_websocket_before_taking_over() {
    let mut s = Sim::new(config());
    let sse = open_on_sse(&mut s);
    assert_eq!(
        connects_to(&s, WebSocket).len(),
        1,
        "only the failed attempt so far"
    );
    s.advance(999);
    assert_eq!(probe(&s), None);
    s.advance(1);
    let (p, phase) = probe(&s).expect("a probe is out");
    assert_eq!(phase, ProbePhase::Opening);
    assert_eq!(connects_to(&s, WebSocket).last(), Some(&p));
    s.input(Input::Opened { conn: p });
    let hello = frames_on(&s, p);
    assert!(
        matches!(hello.as_slice(), [Frame::Hello(h)] if h.probe && h.session.as_deref() == Some("s1")),
        "{hello:?}"
    );
    // Trusted: the plain HELLO that takes over follows on the same connection.
    s.server(p, resumed(0));
    assert!(matches!(
        frames_on(&s, p).as_slice(),
        [Frame::Hello(a), Frame::Hello(b)] if a.probe && !b.probe
    ));
    assert_eq!(probe(&s).map(|p| p.1), Some(ProbePhase::TakeOver));
    assert!(
        matches!(s.m.state(), State::Open { conn, .. } if *conn == sse),
        "not yet"
    );
    s.server(p, resumed(0));
    assert!(matches!(s.m.state(), State::Open { conn, transport: 0, .. } if *conn == p));
    assert!(!s.live.contains(&sse), "the SSE connection was closed");
    assert_eq!(*s.m.upgrade(), Upgrade::Off, "on the best rung now");
    assert!(s.events.iter().any(|e| matches!(
        e,
        Event::Transport {
            from: Sse,
            to: WebSocket,
            reason: DisconnectReason::Upgrade
        }
    )));
    assert_eq!(s.opens(), 1, "an upgrade is not a reconnect");
}

#[test]
fn failed_probes_back_off_to_the_cap_and_never_touch_the_session() {
    let mut s = Sim::new(config());
    let sse = open_on_sse(&mut s);
    let mut starts = vec![];
    for _ in 0..5 {
        let before = connects_to(&s, WebSocket).len();
        let t0 = s.now;
        while connects_to(&s, WebSocket).len() == before {
            s.advance(50);
            sse_event(&mut s, sse, &Frame::Ping { id: 1 }); // the session stays alive
            s.input(Input::Sent { conn: sse });
        }
        starts.push(s.now - t0);
        let (p, _) = probe(&s).unwrap();
        // A still-blocked WebSocket: refused.
        s.input(Input::Failed {
            conn: p,
            error: TransportError::Network("refused".into()),
        });
    }
    assert_eq!(
        starts,
        [1_000, 2_000, 4_000, 4_000, 4_000],
        "doubling, capped"
    );
    assert!(matches!(s.m.state(), State::Open { conn, .. } if *conn == sse));
    assert_eq!(s.opens(), 1);
    assert!(!s.events.iter().any(|e| matches!(
        e,
        Event::Reconnecting { .. }
            | Event::Transport {
                reason: DisconnectReason::Upgrade,
                ..
            }
    )));
}

#[test]
fn a_probe_that_never_answers_fails_at_the_websocket_deadline() {
    let mut s = Sim::new(config());
    let sse = open_on_sse(&mut s);
    s.advance(1_000);
    let (p, _) = probe(&s).unwrap();
    s.input(Input::Opened { conn: p });
    // Frames dropped after the upgrade: no WELCOME ever comes.
    for _ in 0..4 {
        s.advance(500);
        sse_event(&mut s, sse, &Frame::Ping { id: 1 });
        s.input(Input::Sent { conn: sse });
    }
    assert!(
        !s.live.contains(&p),
        "the probe was given up at its 2 s deadline"
    );
    assert!(matches!(s.m.upgrade(), Upgrade::Waiting { delay: 2_000 }));
    assert!(matches!(s.m.state(), State::Open { conn, .. } if *conn == sse));
}

#[test]
fn a_probe_answered_for_another_session_is_a_failed_probe() {
    let mut s = Sim::new(config());
    open_on_sse(&mut s);
    s.advance(1_000);
    let (p, _) = probe(&s).unwrap();
    s.input(Input::Opened { conn: p });
    let Frame::Welcome(w) = resumed(0) else {
        unreachable!()
    };
    s.server(
        p,
        Frame::Welcome(Welcome {
            session: "other".into(),
            ..w
        }),
    );
    assert!(matches!(s.m.upgrade(), Upgrade::Waiting { .. }));
    assert!(!s.live.contains(&p));
}

#[test]
fn losing_the_data_connection_abandons_the_probe() {
    let mut s = Sim::new(config());
    let sse = open_on_sse(&mut s);
    s.advance(1_000);
    let (p, _) = probe(&s).unwrap();
    s.input(Input::Failed {
        conn: sse,
        error: TransportError::Network("gone".into()),
    });
    assert!(!s.live.contains(&p), "no orphan probe");
    assert_eq!(*s.m.upgrade(), Upgrade::Off);
}

#[test]
fn online_and_visible_probe_at_once() {
    let mut s = Sim::new(config());
    open_on_sse(&mut s);
    s.input(Input::Online);
    assert!(probe(&s).is_some(), "online probes now");
    let (p, _) = probe(&s).unwrap();
    s.input(Input::Closed {
        conn: p,
        code: 1006,
        reason: String::new(),
    });
    assert!(probe(&s).is_none());
    s.input(Input::Visible);
    assert!(probe(&s).is_some(), "visible probes now");
}

#[test]
fn no_probe_on_the_best_rung_without_websocket_or_when_disabled() {
    // Open on WebSocket: nothing better.
    let mut s = Sim::new(config());
    s.input(Input::Connect);
    s.open();
    s.advance(10_000);
    assert_eq!(*s.m.upgrade(), Upgrade::Off);
    // No WebSocket in the chain.
    let mut s = Sim::new(Config {
        transports: vec![Sse, LongPolling],
        ..config()
    });
    s.input(Input::Connect);
    s.fail();
    s.advance(10_000);
    assert_eq!(connects_to(&s, WebSocket).len(), 0);
    // Disabled.
    let mut s = Sim::new(Config {
        upgrade_probe_ms: 0,
        ..config()
    });
    let sse = open_on_sse(&mut s);
    for _ in 0..20 {
        s.advance(500);
        sse_event(&mut s, sse, &Frame::Ping { id: 1 });
        s.input(Input::Sent { conn: sse });
    }
    assert!(matches!(s.m.state(), State::Open { conn, .. } if *conn == sse));
    assert_eq!(
        connects_to(&s, WebSocket).len(),
        1,
        "only the first, failed attempt"
    );
}

/// Everything sent around the cutover arrives once: messages sent while the takeover is in
/// flight go out on SSE, are resent on WebSocket after the takeover's WELCOME (its ack covers
/// what the server already had), and inbound duplicates from the resume are dropped.
#[test]
fn nothing_is_lost_or_duplicated_across_the_cutover() {
    let mut s = Sim::new(Config {
        queue_max_messages: 100,
        ..config()
    });
    let sse = open_on_sse(&mut s);
    s.send_text("a"); // seq 1, POSTed on SSE
    s.input(Input::Sent { conn: sse });
    sse_event(
        &mut s,
        sse,
        &Frame::Text {
            seq: 1,
            text: "x".into(),
        },
    );
    s.advance(1_000);
    let (p, _) = probe(&s).unwrap();
    s.input(Input::Opened { conn: p });
    s.server(p, resumed(0));
    // Takeover HELLO is out (last_seq 1); meanwhile more traffic on SSE.
    s.send_text("b"); // seq 2, on SSE (may be lost: the server ignores a superseded link)
    sse_event(
        &mut s,
        sse,
        &Frame::Text {
            seq: 2,
            text: "y".into(),
        },
    );
    // The server took over: it had client seq 1, and resends its seq 2 (after last_seq 1).
    s.server(p, resumed(1));
    s.server(
        p,
        Frame::Text {
            seq: 2,
            text: "y".into(),
        },
    );
    s.server(
        p,
        Frame::Text {
            seq: 3,
            text: "z".into(),
        },
    );
    let texts: Vec<_> = s
        .messages()
        .into_iter()
        .map(|m| match m {
            Payload::Text(t) => t,
            Payload::Binary(_) => String::new(),
        })
        .collect();
    assert_eq!(texts, ["x", "y", "z"], "server → client once, in order");
    // Client → server: "b" (seq 2) was resent on the WebSocket; "a" was acknowledged.
    let on_ws: Vec<_> = frames_on(&s, p)
        .into_iter()
        .filter_map(|f| match f {
            Frame::Text { seq, text } => Some((seq, text)),
            _ => None,
        })
        .collect();
    assert_eq!(on_ws, [(2, "b".to_owned())]);
    s.send_text("c");
    assert!(frames_on(&s, p)
        .iter()
        .any(|f| matches!(f, Frame::Text { seq: 3, text } if text == "c")));
}

/// The server closes the old connection as soon as the takeover reaches it, and that close can
/// arrive before the takeover's WELCOME (seen in Firefox): the session waits for the probe
/// instead of reconnecting, sends nothing meanwhile, and resends everything after the WELCOME.
#[test]
fn the_old_connection_closing_before_the_takeover_answer_is_not_a_reconnect() {
    let mut s = Sim::new(config());
    let (sse, p) = trusted_probe(&mut s);
    assert_eq!(probe(&s).map(|p| p.1), Some(ProbePhase::TakeOver));
    s.input(Input::Failed {
        conn: sse,
        error: TransportError::Network("event stream failed".into()),
    });
    assert_eq!(probe(&s).map(|p| p.1), Some(ProbePhase::Replacing));
    let before = s.actions.len();
    s.send_text("meanwhile");
    assert!(
        !s.actions[before..]
            .iter()
            .any(|a| matches!(a, Action::Send { .. } | Action::Poll { .. })),
        "nothing goes out while the probe is the only connection"
    );
    s.server(p, resumed(0));
    assert!(matches!(s.m.state(), State::Open { conn, transport: 0, .. } if *conn == p));
    assert!(frames_on(&s, p)
        .iter()
        .any(|f| matches!(f, Frame::Text { text, .. } if text == "meanwhile")));
    assert!(s.reconnect_reasons().is_empty());
    assert_eq!(s.opens(), 1);
}

#[test]
fn a_probe_that_fails_after_replacing_the_old_connection_reconnects_the_session() {
    let mut s = Sim::new(config());
    let (sse, p) = trusted_probe(&mut s);
    s.input(Input::Closed {
        conn: sse,
        code: 1006,
        reason: String::new(),
    });
    s.input(Input::Closed {
        conn: p,
        code: 1006,
        reason: String::new(),
    });
    assert!(s.live.is_empty());
    assert!(!s.reconnect_reasons().is_empty());
    assert_eq!(*s.m.upgrade(), Upgrade::Off);
}
