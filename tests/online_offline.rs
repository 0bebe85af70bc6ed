//! Page lifecycle: offline pauses attempts, online attempts at once and probes open links.
#![cfg(not(target_arch = "wasm32"))]

mod sim;

use holdfast::core::{Input, State};
use sim::{fast, opened, Sim};

#[test]
fn offline_pauses_attempts_and_online_attempts_at_once() {
    let mut s = Sim::new(fast());
    s.input(Input::Connect);
    s.fail();
    s.input(Input::Offline);
    assert!(matches!(s.m.state(), State::Paused { .. }));
    s.advance(600_000);
    assert_eq!(s.connects(), 1, "attempted while offline");
    assert!(s.m.poll_timeout().is_none());
    s.input(Input::Online);
    assert_eq!(s.connects(), 2, "no attempt on online");
}

#[test]
fn a_failure_while_offline_waits_for_online() {
    let mut s = Sim::new(fast());
    s.input(Input::Connect);
    s.input(Input::Offline);
    s.fail();
    assert!(matches!(s.m.state(), State::Paused { .. }));
    s.advance(100_000);
    assert_eq!(s.connects(), 1);
    s.input(Input::Online);
    assert_eq!(s.connects(), 2);
}

#[test]
fn online_during_backoff_skips_the_wait() {
    let mut s = Sim::with_jitter(fast(), 0.999);
    s.input(Input::Connect);
    for _ in 0..4 {
        s.fail();
        s.advance(2_000);
    }
    s.fail();
    s.advance(10);
    s.input(Input::Online);
    assert_eq!(s.connects(), 6);
}

#[test]
fn offline_while_open_probes_the_link() {
    let (mut s, c) = opened(fast());
    s.advance(300);
    s.input(Input::Offline);
    assert_eq!(s.pings_sent(c).len(), 1);
    s.advance(500);
    assert!(
        matches!(s.m.state(), State::Paused { .. }),
        "{:?}",
        s.m.state()
    );
    s.advance(60_000);
    assert_eq!(s.connects(), 1);
    s.input(Input::Online);
    assert_eq!(s.connects(), 2);
}

#[test]
fn online_while_open_probes_and_a_live_link_survives() {
    let (mut s, c) = opened(fast());
    s.advance(300);
    s.input(Input::Online);
    let ping = *s.pings_sent(c).last().unwrap();
    s.advance(50);
    s.server(c, holdfast::protocol::Frame::Pong { id: ping });
    s.advance(1_000);
    assert!(matches!(s.m.state(), State::Open { .. }));
}
