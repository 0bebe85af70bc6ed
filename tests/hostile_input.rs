//! Client fixes found by the hostile-server browser corpus (`tests/browser/hostile.rs`,
//! TESTING.md "Hostile server input (client)"), on a simulated clock: a sequence number above
//! 2^63 is a bad frame (it never poisons the receiver), and long polling answered at once with
//! nothing is paced by the poll interval instead of looping.
#![cfg(not(target_arch = "wasm32"))]

mod sim;

use holdfast::config::{Config, TransportKind};
use holdfast::core::DisconnectReason;
use holdfast::core::{ClientError, Event, Input, Payload, State};
use holdfast::protocol::{encode_batch, DecodeError, Frame, MAX_SEQ};
use sim::{fast, open_poll, opened, Sim};

fn data(seq: u64, text: &str) -> Frame {
    Frame::Text {
        seq,
        text: text.into(),
    }
}

fn bad_seq_errors(s: &Sim) -> usize {
    s.events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Error(ClientError::BadFrame(DecodeError::TooLarge {
                    field: "seq"
                }))
            )
        })
        .count()
}

#[test]
fn a_seq_above_two_to_the_63_is_a_bad_frame_and_the_next_message_still_arrives() {
    for evil in [MAX_SEQ + 1, u64::MAX - 1, u64::MAX] {
        let (mut s, c) = opened(fast());
        s.server(c, data(evil, "evil"));
        s.server(
            c,
            Frame::Binary {
                seq: evil,
                data: vec![6],
            },
        );
        s.server(c, data(1, "after"));
        assert_eq!(s.messages(), [Payload::Text("after".into())], "seq {evil}");
        assert_eq!(bad_seq_errors(&s), 2, "seq {evil}");
        // The next HELLO resumes from 1, not from the hostile seq.
        s.drop_conn();
        s.advance(2_000);
        let c2 = s.last_conn();
        s.input(Input::Opened { conn: c2 });
        let hello = s.frames_sent(c2).into_iter().next();
        assert!(
            matches!(hello, Some(Frame::Hello(ref h)) if h.last_seq == 1),
            "seq {evil}: {hello:?}"
        );
    }
    // 2^63 itself is a legal (if far) seq: a gap, delivered.
    let (mut s, c) = opened(fast());
    s.server(c, data(MAX_SEQ, "far"));
    assert_eq!(s.messages(), [Payload::Text("far".into())]);
    assert_eq!(bad_seq_errors(&s), 0);
}

fn long_polling() -> Config {
    Config {
        transports: vec![TransportKind::LongPolling],
        poll_interval_ms: 300,
        ..fast()
    }
}

fn poll_count(s: &Sim) -> usize {
    s.actions
        .iter()
        .filter(|a| matches!(a, holdfast::core::Action::Poll { .. }))
        .count()
}

/// Connects and opens a polling connection (`sim::open_poll`).
fn connect_poll(s: &mut Sim) -> holdfast::core::ConnId {
    s.input(Input::Connect);
    open_poll(s)
}

#[test]
fn held_polls_answered_at_once_with_nothing_are_paced_by_the_poll_interval() {
    // An empty batch (or a 504, which the glue reports as one), and a body that is no batch.
    for nothing in [vec![], b"<html>502 Bad Gateway</html>".to_vec()] {
        let mut s = Sim::new(long_polling());
        let conn = connect_poll(&mut s);
        assert_eq!(poll_count(&s), 1);
        // 2 s of instant answers: one poll per interval, not one per round trip.
        for _ in 0..200 {
            s.input(Input::Polled {
                conn,
                body: nothing.clone(),
            });
            s.advance(10);
        }
        let polls = poll_count(&s);
        assert!((5..=8).contains(&polls), "{polls} polls in 2 s");
    }
}

#[test]
fn held_polls_with_frames_or_a_long_hold_are_followed_at_once() {
    let mut s = Sim::new(long_polling());
    let conn = connect_poll(&mut s);
    // Data: at once, even instantly.
    s.input(Input::Polled {
        conn,
        body: encode_batch(&[data(1, "a")]),
    });
    assert_eq!(poll_count(&s), 2);
    // An empty answer after a hold longer than the interval: at once.
    s.advance(400);
    s.input(Input::Polled { conn, body: vec![] });
    assert_eq!(poll_count(&s), 3);
    // An instant empty answer: after the rest of the interval, measured from when it left.
    s.advance(100);
    s.input(Input::Polled { conn, body: vec![] });
    assert_eq!(poll_count(&s), 3);
    s.advance(199);
    assert_eq!(poll_count(&s), 3);
    s.advance(1);
    assert_eq!(poll_count(&s), 4);
    assert!(matches!(s.m.state(), State::Open { .. }));
}

#[test]
fn a_first_handshake_that_never_answers_is_abandoned_at_the_connect_deadline() {
    // The hostile server's `hs-no-welcome`: the upgrade succeeds, WELCOME never comes. Before the
    // first open the heartbeat timeout is still 0, which once made the timer's own firing look
    // like a thawed page and re-armed the deadline forever.
    let mut s = Sim::new(fast());
    s.input(Input::Connect);
    let c = s.last_conn();
    s.input(Input::Opened { conn: c });
    s.advance(2_000);
    assert!(
        s.reconnect_reasons()
            .contains(&DisconnectReason::ConnectTimeout),
        "{:?}",
        s.events
    );
}
