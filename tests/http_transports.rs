//! The HTTP transports in the core (PROTOCOL.md §8.2–§8.5, §9), on a simulated clock: HELLO in
//! the opening request, batched POSTs with one in flight, polls one at a time (held or at the
//! interval), base64 SSE events, poll answers as liveness, the POST deadline, and the chain walked
//! down after repeated failures of a trusted rung.
#![cfg(not(target_arch = "wasm32"))]

mod sim;

use holdfast::config::{Config, TransportKind};
use holdfast::core::{Action, ConnId, DisconnectReason, Event, Input, Payload, State};
use holdfast::protocol::{
    self, encode_base64, encode_batch, split_batch, Decoded, Frame, Limits, ResumeOutcome,
};
use sim::{fast, open_poll, welcome, Sim};
use TransportKind::*;

fn chain(kinds: &[TransportKind]) -> Config {
    Config {
        transports: kinds.to_vec(),
        ..fast()
    }
}

/// Frames of every POST body sent on `conn`, one `Vec` per POST.
fn posts(s: &Sim, conn: ConnId) -> Vec<Vec<Frame>> {
    s.actions
        .iter()
        .filter_map(|a| match a {
            Action::Send {
                conn: c,
                payload: Payload::Binary(body),
            } if *c == conn => Some(
                split_batch(body)
                    .unwrap()
                    .into_iter()
                    .map(|f| match protocol::decode(f, &Limits::default()).unwrap() {
                        Decoded::Frame(f) => f,
                        Decoded::Unknown(t) => panic!("unknown frame {t}"),
                    })
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

fn polls(s: &Sim, conn: ConnId) -> Vec<u64> {
    s.actions
        .iter()
        .filter_map(|a| match a {
            Action::Poll { conn: c, cursor } if *c == conn => Some(*cursor),
            _ => None,
        })
        .collect()
}

fn texts(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Text { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn data(seq: u64, text: &str) -> Frame {
    Frame::Text {
        seq,
        text: text.into(),
    }
}

/// Opens an SSE connection: EventSource open, then WELCOME as a base64 event.
fn open_sse(s: &mut Sim) -> ConnId {
    let conn = s.last_conn();
    s.input(Input::Opened { conn });
    sse_event(s, conn, &welcome());
    conn
}

fn sse_event(s: &mut Sim, conn: ConnId, frame: &Frame) {
    s.input(Input::Received {
        conn,
        payload: Payload::Text(encode_base64(&protocol::encode(frame))),
    });
}

#[test]
fn sse_carries_hello_in_the_open_request_and_trusts_only_after_welcome() {
    let mut s = Sim::new(chain(&[Sse]));
    s.input(Input::Connect);
    let Some(Action::Connect {
        transport: Sse,
        hello: Some(hello),
        ..
    }) = s.actions.first().cloned()
    else {
        panic!("expected an SSE connect with HELLO: {:?}", s.actions)
    };
    assert!(matches!(
        protocol::decode(&hello, &Limits::default()),
        Ok(Decoded::Frame(Frame::Hello(_)))
    ));
    let conn = s.last_conn();
    s.input(Input::Opened { conn });
    assert!(s.frames_sent(conn).is_empty(), "no HELLO after open");
    assert_eq!(s.opens(), 0, "an open stream is not trusted yet");
    sse_event(&mut s, conn, &welcome());
    assert_eq!(s.opens(), 1);
    assert_eq!(s.m.stats().transport, Some(Sse));
}

#[test]
fn one_post_in_flight_and_frames_meanwhile_go_together_in_the_next() {
    let mut s = Sim::new(chain(&[Sse]));
    s.input(Input::Connect);
    let conn = open_sse(&mut s);
    for i in 0..5 {
        s.send_text(&format!("m{i}"));
    }
    let sent = posts(&s, conn);
    assert_eq!(sent.len(), 1, "one POST in flight: {sent:?}");
    assert_eq!(texts(&sent[0]), ["m0"]);
    s.input(Input::Sent { conn });
    let sent = posts(&s, conn);
    assert_eq!(sent.len(), 2);
    assert_eq!(texts(&sent[1]), ["m1", "m2", "m3", "m4"]);
    // Nothing waits: a completed POST with nothing behind it sends nothing.
    s.input(Input::Sent { conn });
    assert_eq!(posts(&s, conn).len(), 2);
}

#[test]
fn sse_events_are_base64_frames_and_garbage_is_reported_without_ending_the_link() {
    let mut s = Sim::new(chain(&[Sse]));
    s.input(Input::Connect);
    let conn = open_sse(&mut s);
    s.input(Input::Received {
        conn,
        payload: Payload::Text("%%% not base64".into()),
    });
    sse_event(&mut s, conn, &data(1, "hello"));
    assert_eq!(s.messages(), [Payload::Text("hello".into())]);
    assert!(s
        .events
        .iter()
        .any(|e| matches!(e, Event::Error(holdfast::core::ClientError::BadFrame(_)))));
    assert!(matches!(s.m.state(), State::Open { .. }));
}

#[test]
fn long_polling_polls_again_as_soon_as_an_answer_came_and_never_two_at_once() {
    let mut s = Sim::new(chain(&[LongPolling]));
    s.input(Input::Connect);
    let conn = open_poll(&mut s);
    assert_eq!(s.opens(), 1);
    assert_eq!(polls(&s, conn), [0], "the first poll goes out on open");
    // Timers and sends while the poll is held do not add a second poll.
    s.advance(900);
    s.send_text("up");
    assert_eq!(polls(&s, conn), [0]);
    s.input(Input::Polled {
        conn,
        body: encode_batch(&[data(1, "a"), data(2, "b")]),
    });
    assert_eq!(s.messages().len(), 2);
    assert_eq!(
        polls(&s, conn),
        [0, 2],
        "the cursor is the last seq delivered"
    );
    // A gateway timeout (reported as an empty answer) after a long hold is just another poll
    // (an instant one waits out the poll interval: tests/hostile_input.rs).
    s.advance(1_000);
    s.input(Input::Polled { conn, body: vec![] });
    assert_eq!(polls(&s, conn), [0, 2, 2]);
}

#[test]
fn short_polling_waits_the_interval_between_polls() {
    let mut s = Sim::new(Config {
        poll_interval_ms: 700,
        ..chain(&[Polling])
    });
    s.input(Input::Connect);
    let conn = open_poll(&mut s);
    assert_eq!(polls(&s, conn).len(), 1);
    s.input(Input::Polled { conn, body: vec![] });
    s.advance(699);
    assert_eq!(polls(&s, conn).len(), 1, "not before the interval");
    s.advance(1);
    assert_eq!(polls(&s, conn).len(), 2);
}

#[test]
fn answered_polls_keep_the_link_alive_and_silence_still_kills_it() {
    let mut s = Sim::new(Config {
        poll_interval_ms: 500,
        ..chain(&[Polling])
    });
    s.input(Input::Connect);
    let conn = open_poll(&mut s);
    // 10 s of empty answers: far beyond the 2.5 s heartbeat timeout, never declared dead.
    for _ in 0..20 {
        s.input(Input::Polled { conn, body: vec![] });
        s.input(Input::Sent { conn }); // the heartbeat's POSTs are answered
        s.advance(500);
    }
    assert!(matches!(s.m.state(), State::Open { .. }));
    // The server stops answering: dead within the heartbeat timeout.
    s.advance(2_600);
    assert!(s.reconnect_reasons().contains(&DisconnectReason::DeadLink));
}

#[test]
fn a_body_that_is_not_a_batch_is_reported_and_proves_nothing() {
    let mut s = Sim::new(chain(&[LongPolling]));
    s.input(Input::Connect);
    let conn = open_poll(&mut s);
    for _ in 0..30 {
        s.input(Input::Polled {
            conn,
            body: b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff<html>".to_vec(),
        });
        s.advance(100);
    }
    assert!(s.reconnect_reasons().contains(&DisconnectReason::DeadLink));
}

#[test]
fn an_unanswered_post_ends_the_link_at_the_heartbeat_timeout() {
    let mut s = Sim::new(chain(&[Sse]));
    s.input(Input::Connect);
    let conn = open_sse(&mut s);
    s.send_text("stuck");
    // The downstream stays alive (server pings), but the POST never completes.
    for _ in 0..5 {
        s.advance(500);
        sse_event(&mut s, conn, &Frame::Ping { id: 1 });
    }
    assert!(s
        .reconnect_reasons()
        .contains(&DisconnectReason::SendTimeout));
}

#[test]
fn an_app_close_sends_its_close_behind_the_post_in_flight() {
    let mut s = Sim::new(chain(&[Sse]));
    s.input(Input::Connect);
    let conn = open_sse(&mut s);
    s.send_text("in flight");
    s.send_text("waiting");
    s.input(Input::Close {
        code: 1000,
        reason: "bye".into(),
    });
    let sent = posts(&s, conn);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(texts(&sent[1]), ["waiting"]);
    assert!(matches!(sent[1].last(), Some(Frame::Close(c)) if c.code == 1000));
}

#[test]
fn an_untrusted_rung_hands_over_at_once_with_a_transport_event() {
    let mut s = Sim::new(chain(&[WebSocket, Sse, LongPolling, Polling]));
    s.input(Input::Connect);
    s.fail();
    s.fail();
    let kinds: Vec<_> = s
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Connect { transport, .. } => Some(*transport),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, [WebSocket, Sse, LongPolling]);
    let moves: Vec<_> = s
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Transport { from, to, .. } => Some((*from, *to)),
            _ => None,
        })
        .collect();
    assert_eq!(moves, [(WebSocket, Sse), (Sse, LongPolling)]);
    assert_eq!(
        s.reconnecting_delays().len(),
        0,
        "no backoff inside a round"
    );
}

#[test]
fn a_trusted_rung_is_retried_then_left_after_repeated_failures() {
    let mut s = Sim::new(chain(&[LongPolling, Polling]));
    s.input(Input::Connect);
    for _ in 0..3 {
        let conn = open_poll(&mut s);
        s.input(Input::Failed {
            conn,
            error: holdfast::core::TransportError::Network("killed".into()),
        });
        s.advance(2_000); // backoff
    }
    let kinds: Vec<_> = s
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Connect { transport, .. } => Some(*transport),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, [LongPolling, LongPolling, LongPolling, Polling]);
    assert!(s.events.iter().any(|e| matches!(
        e,
        Event::Transport {
            from: LongPolling,
            to: Polling,
            ..
        }
    )));
}

#[test]
fn uptime_forgives_earlier_failures_of_the_rung() {
    let mut s = Sim::new(chain(&[LongPolling, Polling]));
    s.input(Input::Connect);
    for _ in 0..5 {
        let conn = open_poll(&mut s);
        // Stays up past min uptime (5 s), answering polls, then fails once.
        for _ in 0..12 {
            s.advance(500);
            s.input(Input::Polled { conn, body: vec![] });
            s.input(Input::Sent { conn });
        }
        s.input(Input::Failed {
            conn,
            error: holdfast::core::TransportError::Network("reset".into()),
        });
        s.advance(2_000);
    }
    assert!(
        !s.events
            .iter()
            .any(|e| matches!(e, Event::Transport { .. })),
        "isolated failures never walk the chain"
    );
}

#[test]
fn a_remembered_transport_is_where_the_first_attempt_starts() {
    let m = holdfast::core::Machine::new(chain(&[WebSocket, Sse, LongPolling]), 1)
        .unwrap()
        .with_start(LongPolling);
    let mut s = Sim::from_machine(m);
    s.input(Input::Connect);
    assert!(matches!(
        s.actions.first(),
        Some(Action::Connect {
            transport: LongPolling,
            ..
        })
    ));
}

#[test]
fn per_kind_connect_deadlines() {
    let mut timeouts = [None; 4];
    timeouts[WebSocket.index()] = Some(300);
    let mut s = Sim::new(Config {
        connect_timeouts: timeouts,
        ..chain(&[WebSocket, Sse])
    });
    s.input(Input::Connect);
    s.advance(299);
    assert_eq!(s.connects(), 1);
    s.advance(1);
    assert_eq!(s.connects(), 2, "the WebSocket deadline is its own");
    s.advance(1_999);
    assert_eq!(s.connects(), 2, "SSE has the shared 2 s");
    s.advance(1);
    assert!(s
        .events
        .iter()
        .any(|e| matches!(e, Event::Reconnecting { .. })));
}

#[test]
fn a_resume_over_polling_resends_and_keeps_the_session() {
    let mut s = Sim::new(chain(&[LongPolling]));
    s.input(Input::Connect);
    let conn = open_poll(&mut s);
    s.send_text("m0");
    s.send_text("m1");
    s.input(Input::Failed {
        conn,
        error: holdfast::core::TransportError::Http {
            status: 410,
            retry_after_ms: None,
        },
    });
    s.advance(2_000);
    let Some(Action::Connect {
        hello: Some(hello), ..
    }) = s
        .actions
        .iter()
        .rev()
        .find(|a| matches!(a, Action::Connect { .. }))
        .cloned()
    else {
        panic!("no reconnect")
    };
    let Ok(Decoded::Frame(Frame::Hello(h))) = protocol::decode(&hello, &Limits::default()) else {
        panic!("bad hello")
    };
    assert_eq!(h.session.as_deref(), Some("s1"), "the HELLO resumes");
    let conn = s.last_conn();
    s.input(Input::Opened { conn });
    let mut w = welcome();
    if let Frame::Welcome(w) = &mut w {
        w.resume = ResumeOutcome::Resumed;
    }
    s.input(Input::Polled {
        conn,
        body: encode_batch(&[w]),
    });
    let sent = posts(&s, conn);
    assert_eq!(
        texts(&sent.concat()),
        ["m0"],
        "first POST: m0; m1 waits for it"
    );
    s.input(Input::Sent { conn });
    assert_eq!(texts(&posts(&s, conn).concat()), ["m0", "m1"]);
}

#[test]
fn a_message_the_transport_dropped_unread_is_reported_and_the_link_goes_on() {
    let mut s = Sim::new(chain(&[Sse]));
    s.input(Input::Connect);
    let conn = open_sse(&mut s);
    s.advance(2_000);
    sse_event(&mut s, conn, &Frame::Ping { id: 9 });
    s.input(Input::Sent { conn });
    s.input(Input::Oversized {
        conn,
        size: 300 << 20,
    });
    assert!(s.events.iter().any(|e| matches!(
        e,
        Event::Error(holdfast::core::ClientError::MessageTooBig { size, limit })
            if *size == 300 << 20 && *limit == s.m.max_inbound_bytes()
    )));
    assert!(matches!(s.m.state(), State::Open { .. }));
    sse_event(&mut s, conn, &data(2, "next"));
    assert_eq!(s.messages(), [Payload::Text("next".into())]);
}

#[test]
fn a_tiny_max_message_bytes_still_lets_the_handshake_and_server_errors_through() {
    // maxMessageBytes: 10 once made every WELCOME "too big": no transport could ever open.
    let config = Config {
        max_message_bytes: 10,
        ..chain(&[Sse])
    };
    let mut s = Sim::new(config);
    let welcome = holdfast::protocol::encode(&welcome());
    let error = holdfast::protocol::encode(&Frame::Error(holdfast::protocol::ErrorFrame {
        code: holdfast::protocol::ErrorCode::TryLater,
        message: "x".repeat(holdfast::protocol::MAX_ERROR_MESSAGE_BYTES),
        retry_after_ms: 0,
    }));
    assert!(welcome.len() <= s.m.max_inbound_bytes());
    assert!(error.len() <= s.m.max_inbound_bytes());
    s.input(Input::Connect);
    let conn = open_sse(&mut s);
    assert!(matches!(s.m.state(), State::Open { .. }));
    // A data payload above the option is still refused, and the link goes on.
    sse_event(&mut s, conn, &data(1, "eleven chars"));
    sse_event(&mut s, conn, &data(1, "ok"));
    assert_eq!(s.messages(), [Payload::Text("ok".into())]);
}
