//! A frozen page (or a sleeping laptop): request deadlines that expired while nothing ran are not
//! judged on resume; like the liveness deadline, they get the freeze probe window. Seen in
//! Chromium (tests/e2e/lifecycle.mjs): an SSE page frozen with a POST in flight reported a send
//! timeout on resume, before the POST's answer could be read.
#![cfg(not(target_arch = "wasm32"))]

mod sim;

use holdfast::config::{Config, TransportKind};
use holdfast::core::{ConnId, DisconnectReason, Input, Payload, State};
use holdfast::protocol::{self, encode_base64, Frame};
use sim::{fast, welcome, Sim};

fn sse() -> Config {
    Config {
        transports: vec![TransportKind::Sse],
        ..fast()
    }
}

fn sse_event(s: &mut Sim, conn: ConnId, frame: &Frame) {
    s.input(Input::Received {
        conn,
        payload: Payload::Text(encode_base64(&protocol::encode(frame))),
    });
}

fn open_sse(s: &mut Sim) -> ConnId {
    s.input(Input::Connect);
    let conn = s.last_conn();
    s.input(Input::Opened { conn });
    sse_event(s, conn, &welcome());
    conn
}

#[test]
fn a_post_in_flight_when_the_page_froze_is_not_a_send_timeout_on_resume() {
    let mut s = Sim::new(sse());
    let conn = open_sse(&mut s);
    s.send_text("m");
    s.jump(30_000); // frozen: nothing ran
    s.input(Input::Resumed);
    assert!(
        matches!(s.m.state(), State::Open { .. }),
        "judged on resume: {:?}",
        s.reconnect_reasons()
    );
    // The next tasks: the POST's answer, then the stream shows life.
    s.input(Input::Sent { conn });
    sse_event(&mut s, conn, &Frame::Ping { id: 7 });
    s.input(Input::Sent { conn });
    s.advance(2_000);
    assert!(matches!(s.m.state(), State::Open { .. }));
    assert!(
        s.reconnect_reasons().is_empty(),
        "{:?}",
        s.reconnect_reasons()
    );
}

#[test]
fn a_post_still_unanswered_after_the_probe_window_ends_the_link() {
    let mut s = Sim::new(sse());
    s.input(Input::Connect);
    let conn = s.last_conn();
    s.input(Input::Opened { conn });
    sse_event(&mut s, conn, &welcome());
    s.send_text("m");
    s.jump(30_000);
    s.input(Input::Resumed);
    s.advance(fast().freeze_probe_ms - 1);
    assert!(matches!(s.m.state(), State::Open { .. }));
    s.advance(1);
    assert!(!matches!(s.m.state(), State::Open { .. }));
    let reasons = s.reconnect_reasons();
    assert!(
        matches!(
            reasons.as_slice(),
            [DisconnectReason::SendTimeout | DisconnectReason::DeadLink]
        ),
        "{reasons:?}"
    );
}

#[test]
fn an_attempt_in_flight_when_the_page_froze_gets_the_probe_window() {
    let mut s = Sim::new(fast());
    s.input(Input::Connect);
    s.jump(30_000);
    s.input(Input::Resumed);
    assert!(
        matches!(s.m.state(), State::Connecting { .. }),
        "{:?}",
        s.m.state()
    );
    let c = s.open();
    assert_eq!(s.connects(), 1);
    assert!(matches!(s.m.state(), State::Open { conn, .. } if *conn == c));
}
