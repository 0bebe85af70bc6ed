//! Sessions that outlive a connection, driven against a scripted server on a simulated clock:
//! HELLO carries the session and the last in-order server seq; a resumed WELCOME replays exactly
//! what the server did not acknowledge; duplicates are dropped; a failed resume yields one `gap`
//! naming what is uncertain and resends none of it.
#![cfg(not(target_arch = "wasm32"))]

mod sim;

use holdfast::config::{Config, OverflowPolicy};
use holdfast::core::{ClientError, ConnId, Event, Input, Payload, SendOutcome};
use holdfast::protocol::{Frame, Hello, ResumeOutcome, Welcome};
use sim::{fast, opened, Sim};

fn welcome(session: &str, resume: ResumeOutcome, ack: u64) -> Frame {
    match sim::welcome() {
        Frame::Welcome(w) => Frame::Welcome(Welcome {
            session: session.into(),
            resume,
            ack,
            ..w
        }),
        other => other,
    }
}

fn text(seq: u64, t: &str) -> Frame {
    Frame::Text {
        seq,
        text: t.into(),
    }
}

/// The HELLO the client sent on `conn`.
fn hello_on(s: &Sim, conn: ConnId) -> Hello {
    s.frames_sent(conn)
        .into_iter()
        .find_map(|f| match f {
            Frame::Hello(h) => Some(h),
            _ => None,
        })
        .expect("no HELLO on this connection")
}

/// Data frames (seq, text) the client sent on `conn`.
fn data_on(s: &Sim, conn: ConnId) -> Vec<(u64, String)> {
    s.frames_sent(conn)
        .into_iter()
        .filter_map(|f| match f {
            Frame::Text { seq, text } => Some((seq, text)),
            _ => None,
        })
        .collect()
}

/// Drops the connection and lets the backoff run until the next attempt's transport is open.
fn reconnect(s: &mut Sim) -> ConnId {
    s.drop_conn();
    s.advance(2_000);
    let c = s.last_conn();
    s.input(Input::Opened { conn: c });
    c
}

fn gaps(s: &Sim) -> Vec<(Vec<Payload>, usize, u64)> {
    s.events
        .iter()
        .filter_map(|e| match e {
            Event::Gap {
                messages,
                bytes,
                last_seq,
            } => Some((messages.clone(), *bytes, *last_seq)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_resumed_session_replays_only_what_the_server_did_not_acknowledge() {
    let (mut s, c1) = opened(fast());
    for t in ["a", "b", "c"] {
        assert_eq!(s.send_text(t), SendOutcome::Sent);
    }
    s.server(c1, Frame::Ack { seq: 1 });
    assert_eq!(s.m.buffered_amount(), 2, "b and c are still unacknowledged");
    let c2 = reconnect(&mut s);
    let hello = hello_on(&s, c2);
    assert_eq!(hello.session.as_deref(), Some("s1"));
    // Queued during the outage: goes out after the replay, in order.
    assert_eq!(s.send_text("d"), SendOutcome::Queued);
    // The server had received b (ack 2) but not c.
    s.server(c2, welcome("s1", ResumeOutcome::Resumed, 2));
    assert_eq!(
        data_on(&s, c2),
        [(3, "c".to_owned()), (4, "d".to_owned())],
        "exactly the unacknowledged, with their original seqs, then the queued"
    );
    assert!(gaps(&s).is_empty());
    assert_eq!(s.m.buffered_amount(), 2);
    s.server(c2, Frame::Ack { seq: 4 });
    assert_eq!(s.m.buffered_amount(), 0);
}

#[test]
fn hello_carries_the_last_in_order_server_seq_and_duplicates_are_dropped_after_resume() {
    let (mut s, c1) = opened(fast());
    s.server(c1, text(1, "x1"));
    s.server(c1, text(2, "x2"));
    let c2 = reconnect(&mut s);
    assert_eq!(hello_on(&s, c2).last_seq, 2);
    s.server(c2, welcome("s1", ResumeOutcome::Resumed, 0));
    // A server resending from an older point: the app still sees each message once.
    s.server(c2, text(2, "x2"));
    s.server(c2, text(3, "x3"));
    let got: Vec<Payload> = s.messages();
    assert_eq!(
        got,
        ["x1", "x2", "x3"].map(|t| Payload::Text(t.into())).to_vec()
    );
}

#[test]
fn a_failed_resume_reports_one_gap_with_exactly_the_unacknowledged_messages() {
    let (mut s, c1) = opened(fast());
    s.server(c1, text(1, "x1"));
    for t in ["a", "bb", "ccc"] {
        s.send_text(t);
    }
    s.server(c1, Frame::Ack { seq: 1 });
    let c2 = reconnect(&mut s);
    s.send_text("queued");
    s.take_events();
    // The server restarted: it knows nothing of s1.
    s.server(c2, welcome("s2", ResumeOutcome::Failed, 0));
    let events = s.take_events();
    let gap_at = events
        .iter()
        .position(|e| matches!(e, Event::Gap { .. }))
        .expect("a gap event");
    let open_at = events
        .iter()
        .position(|e| matches!(e, Event::Open { .. }))
        .expect("an open event");
    assert!(
        gap_at < open_at,
        "the app hears the gap before the new open"
    );
    assert_eq!(
        gaps(&s),
        [(
            vec![Payload::Text("bb".into()), Payload::Text("ccc".into())],
            5,
            1
        )]
    );
    // Nothing uncertain is resent into the new session; the never-sent message starts it at 1.
    assert_eq!(data_on(&s, c2), [(1, "queued".to_owned())]);
    assert_eq!(s.m.session_id(), Some("s2"));
    assert_eq!(s.m.buffered_amount(), 6);
    // The new session numbers the server's messages from 1 again.
    s.server(c2, text(1, "y1"));
    assert_eq!(s.messages().last(), Some(&Payload::Text("y1".into())));
}

#[test]
fn a_server_answering_another_session_counts_as_a_failed_resume() {
    let (mut s, _) = opened(fast());
    s.send_text("a");
    let c2 = reconnect(&mut s);
    s.server(c2, welcome("other", ResumeOutcome::Resumed, 0));
    assert_eq!(gaps(&s).len(), 1);
    assert!(data_on(&s, c2).is_empty());
}

#[test]
fn an_ack_beyond_what_was_sent_frees_only_what_was_sent() {
    let (mut s, c) = opened(fast());
    s.send_text("a");
    s.server(c, Frame::Ack { seq: 1_000 });
    assert_eq!(s.m.buffered_amount(), 0);
    s.send_text("bb");
    assert_eq!(s.m.buffered_amount(), 2);
    s.server(c, Frame::Ack { seq: 1 });
    assert_eq!(s.m.buffered_amount(), 2, "an old ack frees nothing new");
}

#[test]
fn the_outbox_bounds_cover_messages_in_flight() {
    let cfg = Config {
        queue_max_messages: 2,
        overflow: OverflowPolicy::Reject,
        ..fast()
    };
    let (mut s, c) = opened(cfg);
    assert_eq!(s.send_text("a"), SendOutcome::Sent);
    assert_eq!(s.send_text("b"), SendOutcome::Sent);
    assert!(matches!(s.send_text("c"), SendOutcome::Rejected(_)));
    assert!(s.events.contains(&Event::Error(ClientError::QueueFull)));
    s.server(c, Frame::Ack { seq: 2 });
    assert_eq!(s.send_text("c"), SendOutcome::Sent);
}

#[test]
fn close_refuses_codes_an_app_may_not_send_and_stays_open() {
    let (mut s, _) = opened(fast());
    s.input(Input::Close {
        code: 1006,
        reason: String::new(),
    });
    assert!(s.close_events().is_empty(), "1006 is not a clean app close");
    assert!(s.events.iter().any(|e| matches!(
        e,
        Event::Error(ClientError::InvalidClose { code: 1006, .. })
    )));
    s.input(Input::Close {
        code: 1000,
        reason: "x".repeat(124),
    });
    assert!(s.close_events().is_empty(), "reason over 123 bytes");
    s.input(Input::Close {
        code: 4000,
        reason: "bye".into(),
    });
    assert_eq!(s.close_events().len(), 1);
}

#[test]
fn closing_after_a_drop_reports_the_unacknowledged_as_discarded() {
    let (mut s, _) = opened(fast());
    s.send_text("a");
    s.drop_conn();
    s.send_text("b");
    s.input(Input::Close {
        code: 1000,
        reason: String::new(),
    });
    assert!(s
        .events
        .contains(&Event::Error(ClientError::QueueDiscarded { count: 2 })));
}

#[test]
fn a_final_server_close_reports_the_messages_still_in_flight() {
    let (mut s, c) = opened(fast());
    s.send_text("a");
    s.send_text("b");
    s.server(c, Frame::Ack { seq: 1 });
    // The server ends the session for good before acknowledging "b": it may never have seen it.
    s.server(
        c,
        Frame::Close(holdfast::protocol::CloseFrame {
            code: 4001,
            reason: "bye".into(),
        }),
    );
    assert_eq!(s.close_events().len(), 1);
    assert!(s
        .events
        .contains(&Event::Error(ClientError::QueueDiscarded { count: 1 })));
}

#[test]
fn an_app_close_while_open_does_not_report_what_went_out_before_its_close() {
    let (mut s, _) = opened(fast());
    s.send_text("a");
    s.input(Input::Close {
        code: 1000,
        reason: String::new(),
    });
    assert!(!s
        .events
        .iter()
        .any(|e| matches!(e, Event::Error(ClientError::QueueDiscarded { .. }))));
}
