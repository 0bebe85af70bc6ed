//! Inputs the fuzz targets (`fuzz/`, `make fuzz`) found crashing or breaking an invariant, fed
//! through the same functions on the host, so `make test` keeps them fixed.
#![cfg(not(target_arch = "wasm32"))]

mod sim;

use holdfast::config::Config;
use holdfast::core::{ClientError, Event, Input, Payload, RejectReason, SendOutcome, StateKind};
use sim::{fast, Sim};

/// fuzz target `machine`: a send whose own deadline check gave up reconnecting (the connect
/// timeout expired with `max_attempts: 0`) was accepted as `Queued` into the outbox of a client
/// that had just emitted its terminal `Close`: never sent, never reported. It must be rejected
/// as closed, like any send after `Close`.
#[test]
fn a_send_that_finds_the_client_giving_up_is_rejected_as_closed() {
    let mut s = Sim::new(Config {
        max_attempts: Some(0),
        ..fast()
    });
    s.input(Input::Connect);
    // The connect deadline (2 s) passes with no call at all; the send is the first to see it.
    // 2.2 s: past the deadline, within the heartbeat timeout (2.5 s). A longer silence would be
    // taken for a frozen page, and an expired connect deadline then gets the probe window.
    s.jump(2_200);
    let outcome = s.send(Payload::Binary(vec![7; 481]));
    assert_eq!(outcome, SendOutcome::Rejected(RejectReason::Closed));
    assert_eq!(s.m.state_kind(), StateKind::Closed);
    assert_eq!(s.close_events().len(), 1);
    assert_eq!(s.m.stats().queued, 0, "a message held after Close");
    assert!(!s
        .events
        .iter()
        .any(|e| matches!(e, Event::Error(ClientError::QueueDiscarded { .. }))));
}
