//! Page lifecycle: `pagehide` (Input::Suspend) closes the connection cleanly and makes no attempt
//! until the page is restored (`pageshow` with `persisted`, Input::Resumed); then the session
//! resumes at once, nothing counted as a failure. tests/e2e/lifecycle.mjs produces the real
//! thing (bfcache) in Chromium.
#![cfg(not(target_arch = "wasm32"))]

mod sim;

use holdfast::config::{Config, TransportKind};
use holdfast::core::{Action, DisconnectReason, Event, Input, SendOutcome, State};
use holdfast::protocol::Frame;
use sim::{fast, opened, Sim};

fn disconnects(actions: &[Action]) -> Vec<(holdfast::core::ConnId, u16)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Disconnect { conn, code, .. } => Some((*conn, *code)),
            _ => None,
        })
        .collect()
}

#[test]
fn pagehide_while_open_closes_cleanly_and_waits_for_pageshow() {
    let (mut s, c) = opened(fast());
    s.advance(300);
    s.take_actions();
    s.take_events();
    s.input(Input::Suspend);
    assert_eq!(
        disconnects(&s.take_actions()),
        vec![(c, 1000)],
        "a clean close"
    );
    assert!(
        matches!(s.m.state(), State::Paused { .. }),
        "{:?}",
        s.m.state()
    );
    let events = s.take_events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::Reconnecting {
                attempt: 0,
                delay_ms: 0,
                reason: DisconnectReason::PageHidden
            }]
        ),
        "{events:?}"
    );
    // In the back/forward cache nothing runs; whatever time passed, no attempt, no timer.
    assert!(s.m.poll_timeout().is_none(), "a timer while suspended");
    s.jump(600_000);
    s.input(Input::Visible);
    s.input(Input::Online);
    assert_eq!(s.connects(), 1, "attempted before pageshow");
    s.input(Input::Resumed);
    assert_eq!(s.connects(), 2, "no attempt on pageshow");
    let c2 = s.open();
    let hello = s.frames_sent(c2).into_iter().find_map(|f| match f {
        Frame::Hello(h) => Some(h),
        _ => None,
    });
    assert_eq!(
        hello.and_then(|h| h.session).as_deref(),
        Some("s1"),
        "the session is resumed"
    );
    assert_eq!(s.m.stats().attempt, 0, "a pagehide is not a failure");
    assert!(matches!(s.m.state(), State::Open { .. }));
}

#[test]
fn sends_while_suspended_are_queued_and_flushed_after_pageshow() {
    let (mut s, _) = opened(fast());
    s.input(Input::Suspend);
    assert_eq!(s.send_text("a"), SendOutcome::Queued);
    assert_eq!(s.send_text("b"), SendOutcome::Queued);
    s.input(Input::Resumed);
    s.open();
    let texts: Vec<String> = s.data_sent().into_iter().map(|(_, t)| t).collect();
    assert_eq!(texts, ["a", "b"]);
}

#[test]
fn pagehide_while_connecting_or_in_backoff_stops_the_attempt() {
    let mut s = Sim::new(fast());
    s.input(Input::Connect);
    let c = s.last_conn();
    s.input(Input::Suspend);
    assert_eq!(disconnects(&s.take_actions()), vec![(c, 1000)]);
    assert!(matches!(s.m.state(), State::Paused { .. }));
    assert!(
        s.m.poll_timeout().is_none(),
        "the connect deadline is still armed"
    );
    s.input(Input::Resumed);
    assert_eq!(s.connects(), 2);

    s.fail();
    assert!(matches!(s.m.state(), State::Backoff { .. }));
    s.input(Input::Suspend);
    assert!(matches!(s.m.state(), State::Paused { .. }));
    s.advance(100_000);
    assert_eq!(s.connects(), 2, "the backoff fired while suspended");
    s.input(Input::Resumed);
    assert_eq!(s.connects(), 3);
}

#[test]
fn pageshow_while_offline_waits_for_online() {
    let (mut s, _) = opened(fast());
    s.input(Input::Offline);
    s.input(Input::Suspend);
    s.input(Input::Resumed);
    assert_eq!(s.connects(), 1, "attempted while offline");
    s.input(Input::Online);
    assert_eq!(s.connects(), 2);
}

#[test]
fn repeated_pagehides_never_walk_the_chain_down() {
    let config = Config {
        transports: vec![TransportKind::WebSocket, TransportKind::Sse],
        fallback_after_failures: 1,
        ..fast()
    };
    let (mut s, _) = opened(config);
    for _ in 0..5 {
        s.advance(100);
        s.input(Input::Suspend);
        s.input(Input::Resumed);
        s.open();
    }
    assert_eq!(s.m.stats().transport, Some(TransportKind::WebSocket));
    assert!(!s
        .events
        .iter()
        .any(|e| matches!(e, Event::Transport { .. })));
}

#[test]
fn a_plain_resume_after_a_freeze_does_not_reconnect_an_open_link() {
    // `resume` without a pagehide (a frozen tab thawed) keeps probing, not reconnecting.
    let (mut s, _) = opened(fast());
    s.jump(30_000);
    s.input(Input::Resumed);
    assert_eq!(s.connects(), 1);
    assert!(matches!(s.m.state(), State::Open { .. }));
}
