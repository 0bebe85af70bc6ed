//! The fallback chain: an untrusted failure hands over to the next transport; a trusted drop
//! retries the same one; an exhausted chain backs off and starts from the top.
#![cfg(not(target_arch = "wasm32"))]

mod sim;

use holdfast::config::{Config, TransportKind::*};
use holdfast::core::{Action, DisconnectReason, Event, Input, State};
use sim::{fast, Sim};

fn chain() -> Config {
    Config {
        transports: vec![WebSocket, Sse, LongPolling, Polling],
        ..fast()
    }
}

fn transports_tried(s: &Sim) -> Vec<holdfast::config::TransportKind> {
    s.actions
        .iter()
        .filter_map(|a| match a {
            Action::Connect { transport, .. } => Some(*transport),
            _ => None,
        })
        .collect()
}

#[test]
fn untrusted_failures_walk_down_the_chain_without_waiting() {
    let mut s = Sim::new(chain());
    s.input(Input::Connect);
    s.fail(); // websocket refused
              // websocket opens but the handshake never comes back (a proxy swallowing frames)
    let c = s.last_conn();
    s.input(Input::Opened { conn: c });
    s.advance(2_000);
    assert_eq!(transports_tried(&s), vec![WebSocket, Sse, LongPolling]);
    let hops: Vec<_> = s
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Transport { from, to, reason } => Some((*from, *to, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(hops.len(), 2);
    assert_eq!((hops[1].0, hops[1].1), (Sse, LongPolling));
    assert_eq!(hops[1].2, DisconnectReason::ConnectTimeout);
    assert!(s.reconnecting_delays().is_empty());
    s.open();
    assert!(matches!(
        s.events.last(),
        Some(Event::Open {
            transport: LongPolling
        })
    ));
}

#[test]
fn exhausted_chain_backs_off_then_restarts_from_the_top() {
    let mut s = Sim::new(chain());
    s.input(Input::Connect);
    for _ in 0..4 {
        s.fail();
    }
    assert_eq!(s.reconnecting_delays().len(), 1);
    assert!(matches!(
        s.m.state(),
        State::Backoff {
            transport: 0,
            attempt: 1
        }
    ));
    s.advance(2_000);
    assert_eq!(
        transports_tried(&s),
        vec![WebSocket, Sse, LongPolling, Polling, WebSocket]
    );
}

#[test]
fn drop_after_trust_retries_the_same_transport() {
    let mut s = Sim::new(chain());
    s.input(Input::Connect);
    s.fail();
    s.open(); // trusted on sse
    s.drop_conn();
    assert_eq!(s.reconnecting_delays().len(), 1);
    s.advance(2_000);
    assert_eq!(transports_tried(&s), vec![WebSocket, Sse, Sse]);
    // Repeated failure there walks down the chain again.
    s.fail();
    assert_eq!(transports_tried(&s), vec![WebSocket, Sse, Sse, LongPolling]);
}

#[test]
fn connect_deadline_covers_a_transport_that_never_opens() {
    let mut s = Sim::new(fast());
    s.input(Input::Connect);
    s.advance(1_999);
    assert_eq!(s.connects(), 1);
    s.advance(1);
    assert!(s.events.iter().any(|e| matches!(
        e,
        Event::Reconnecting {
            reason: DisconnectReason::ConnectTimeout,
            ..
        }
    )));
    assert!(s.live.is_empty(), "timed-out attempt not disconnected");
}
