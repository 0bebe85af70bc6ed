//! The send queue: gated on OPEN, bounded by count and bytes, overflow policies, explicit
//! outcomes, flushed in order before `Open`.
#![cfg(not(target_arch = "wasm32"))]

mod sim;

use holdfast::config::{Config, OverflowPolicy};
use holdfast::core::{Action, ClientError, Event, Input, Payload, RejectReason, SendOutcome};
use holdfast::protocol::Frame;
use sim::{fast, opened, Sim};

fn cfg(max_messages: usize, max_bytes: usize, overflow: OverflowPolicy) -> Config {
    Config {
        queue_max_messages: max_messages,
        queue_max_bytes: max_bytes,
        overflow,
        ..fast()
    }
}

#[test]
fn sends_before_open_are_queued_and_flushed_in_order_before_the_open_event() {
    let mut s = Sim::new(fast());
    assert_eq!(
        s.send_text("early"),
        SendOutcome::Queued,
        "idle: not open yet"
    );
    s.input(Input::Connect);
    for i in 0..5 {
        assert_eq!(s.send_text(&format!("m{i}")), SendOutcome::Queued);
    }
    assert_eq!(s.m.buffered_amount(), 5 + 5 * 2);
    let c = s.last_conn();
    s.input(Input::Opened { conn: c });
    // Transport open but handshake not done: still not OPEN, still queued.
    assert_eq!(s.send_text("m5"), SendOutcome::Queued);
    s.take_actions();
    s.take_events();
    s.server(c, sim::welcome());
    let actions = s.take_actions();
    let events = s.take_events();
    // All flushed in this very call, before the app hears `open`.
    let sent: Vec<_> = s.data_sent();
    let texts: Vec<&str> = sent.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(texts, ["early", "m0", "m1", "m2", "m3", "m4", "m5"]);
    let seqs: Vec<u64> = sent.iter().map(|(q, _)| *q).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(
        actions
            .iter()
            .filter(|a| matches!(a, Action::Send { .. }))
            .count(),
        7
    );
    assert!(matches!(events.as_slice(), [Event::Open { .. }]));
    // bufferedAmount counts bytes accepted and not yet acknowledged: sent is not enough.
    assert_eq!(s.m.buffered_amount(), 5 + 6 * 2);
    s.server(c, Frame::Ack { seq: 5 });
    assert_eq!(s.m.buffered_amount(), 2 * 2, "the ACK frees seqs 1..=5");
    s.server(c, Frame::Ack { seq: 7 });
    assert_eq!(s.m.buffered_amount(), 0);
    assert_eq!(s.send_text("now"), SendOutcome::Sent);
}

#[test]
fn sends_during_an_outage_are_queued_and_delivered_after_reconnect() {
    let (mut s, _) = opened(fast());
    assert_eq!(s.send_text("a"), SendOutcome::Sent);
    s.drop_conn();
    assert_eq!(s.send_text("b"), SendOutcome::Queued);
    s.advance(2_000);
    assert_eq!(s.send_text("c"), SendOutcome::Queued);
    s.open();
    let texts: Vec<String> = s.data_sent().into_iter().map(|(_, t)| t).collect();
    assert_eq!(texts, ["a", "b", "c"]);
}

#[test]
fn reject_policy_refuses_over_the_count_and_reports_it() {
    let mut s = Sim::new(cfg(3, 1_000, OverflowPolicy::Reject));
    for _ in 0..3 {
        assert_eq!(s.send_text("x"), SendOutcome::Queued);
    }
    assert_eq!(
        s.send_text("y"),
        SendOutcome::Rejected(RejectReason::QueueFull)
    );
    assert!(s.events.contains(&Event::Error(ClientError::QueueFull)));
    assert_eq!(s.m.stats().queued, 3);
}

#[test]
fn reject_policy_refuses_over_the_byte_budget() {
    let mut s = Sim::new(cfg(100, 10, OverflowPolicy::Reject));
    assert_eq!(s.send_text("123456"), SendOutcome::Queued);
    assert_eq!(
        s.send_text("12345"),
        SendOutcome::Rejected(RejectReason::QueueFull)
    );
    assert_eq!(s.send_text("1234"), SendOutcome::Queued);
    assert_eq!(s.m.buffered_amount(), 10);
    // Larger than the whole budget: rejected under either policy.
    let mut d = Sim::new(cfg(100, 10, OverflowPolicy::DropOldest));
    assert_eq!(
        d.send_text("0123456789A"),
        SendOutcome::Rejected(RejectReason::QueueFull)
    );
}

#[test]
fn drop_oldest_policy_makes_room_and_says_how_many_were_dropped() {
    let mut s = Sim::new(cfg(3, 1_000, OverflowPolicy::DropOldest));
    s.input(Input::Connect);
    for t in ["a", "b", "c", "d", "e"] {
        assert_eq!(s.send_text(t), SendOutcome::Queued);
    }
    let drops: Vec<_> = s
        .events
        .iter()
        .filter(|e| matches!(e, Event::Error(ClientError::QueueOverflow { .. })))
        .collect();
    assert_eq!(drops.len(), 2);
    s.open();
    let texts: Vec<String> = s.data_sent().into_iter().map(|(_, t)| t).collect();
    assert_eq!(texts, ["c", "d", "e"]);
}

#[test]
fn drop_oldest_drops_enough_bytes() {
    let mut s = Sim::new(cfg(100, 10, OverflowPolicy::DropOldest));
    s.send_text("aaaa");
    s.send_text("bbbb");
    assert_eq!(s.send_text("cccccc"), SendOutcome::Queued);
    assert!(s
        .events
        .contains(&Event::Error(ClientError::QueueOverflow { dropped: 1 })));
    assert_eq!(s.m.buffered_amount(), 10);
}

#[test]
fn messages_over_max_message_bytes_are_rejected_with_an_error() {
    let (mut s, _) = opened(Config {
        max_message_bytes: 8,
        ..fast()
    });
    assert_eq!(
        s.send_text("123456789"),
        SendOutcome::Rejected(RejectReason::TooBig)
    );
    assert!(s.events.contains(&Event::Error(ClientError::MessageTooBig {
        size: 9,
        limit: 8
    })));
    assert_eq!(s.send(Payload::Binary(vec![0; 8])), SendOutcome::Sent);
}

#[test]
fn binary_and_text_keep_their_kind_on_the_wire() {
    let (mut s, c) = opened(fast());
    s.send(Payload::Binary(vec![1, 2, 3]));
    s.send_text("t");
    let data: Vec<Frame> = s
        .frames_sent(c)
        .into_iter()
        .filter(|f| matches!(f, Frame::Text { .. } | Frame::Binary { .. }))
        .collect();
    assert_eq!(
        data,
        vec![
            Frame::Binary {
                seq: 1,
                data: vec![1, 2, 3]
            },
            Frame::Text {
                seq: 2,
                text: "t".into()
            }
        ]
    );
    assert_eq!(s.m.stats().messages_sent, 2);
    assert_eq!(s.m.stats().bytes_sent, 4);
}

#[test]
fn send_after_close_is_rejected() {
    let (mut s, _) = opened(fast());
    s.input(Input::Close {
        code: 1000,
        reason: "bye".into(),
    });
    assert_eq!(
        s.send_text("late"),
        SendOutcome::Rejected(RejectReason::Closed)
    );
}

#[test]
fn closing_with_queued_messages_reports_them() {
    let mut s = Sim::new(fast());
    s.input(Input::Connect);
    s.send_text("a");
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
fn send_checks_deadlines_first_and_queues_on_a_dead_link() {
    let (mut s, _) = opened(fast());
    s.advance(1_000); // a ping goes out; nothing ever comes back
    s.jump(1_600); // the liveness timer (2500) never fired; the link is dead
    assert_eq!(
        s.send_text("x"),
        SendOutcome::Queued,
        "sent on a link known dead"
    );
}

#[test]
fn inbound_data_is_delivered_in_order_duplicates_dropped_gaps_reported_and_acked() {
    let (mut s, c) = opened(fast());
    s.server(
        c,
        Frame::Text {
            seq: 1,
            text: "a".into(),
        },
    );
    s.server(
        c,
        Frame::Text {
            seq: 1,
            text: "a".into(),
        },
    );
    s.server(
        c,
        Frame::Binary {
            seq: 2,
            data: vec![9],
        },
    );
    s.server(
        c,
        Frame::Text {
            seq: 5,
            text: "e".into(),
        },
    );
    assert_eq!(
        s.messages(),
        vec![
            Payload::Text("a".into()),
            Payload::Binary(vec![9]),
            Payload::Text("e".into())
        ]
    );
    assert!(s.events.contains(&Event::Error(ClientError::SequenceGap {
        expected: 3,
        got: 5
    })));
    assert!(!s
        .frames_sent(c)
        .iter()
        .any(|f| matches!(f, Frame::Ack { .. })));
    s.advance(200);
    assert!(
        s.frames_sent(c).contains(&Frame::Ack { seq: 5 }),
        "no delayed ack"
    );
    for i in 6..=37 {
        s.server(
            c,
            Frame::Text {
                seq: i,
                text: "x".into(),
            },
        );
    }
    assert!(
        s.frames_sent(c).contains(&Frame::Ack { seq: 37 }),
        "no ack after 32 frames"
    );
}
