//! Heartbeat and dead-link detection on a simulated clock: exact deadlines, late timers,
//! frozen pages, probes, ping/pong and RTT.
#![cfg(not(target_arch = "wasm32"))]

mod sim;

use holdfast::config::{Config, Protocol, RawHeartbeat};
use holdfast::core::{Action, DisconnectReason, Event, Input, Payload, State};
use holdfast::protocol::Frame;
use sim::{fast, opened, Sim};

fn dead_declared(s: &Sim) -> bool {
    s.events.iter().any(|e| {
        matches!(
            e,
            Event::Reconnecting {
                reason: DisconnectReason::DeadLink,
                ..
            }
        )
    })
}

fn silent_server(s: &mut Sim, ms: u64) {
    // The server never answers: pings go out, nothing comes back.
    s.advance(ms);
}

#[test]
fn silent_link_is_declared_dead_exactly_at_the_deadline() {
    let (mut s, c) = opened(fast());
    silent_server(&mut s, 2_499);
    assert!(!dead_declared(&s), "declared dead before the timeout");
    assert!(matches!(s.m.state(), State::Open { .. }));
    s.advance(1);
    assert!(dead_declared(&s), "not declared dead at the timeout");
    // The transport is closed by us, without waiting for its own close event.
    assert!(s
        .actions
        .iter()
        .any(|a| matches!(a, Action::Disconnect { conn, .. } if *conn == c)));
}

#[test]
fn default_config_detects_a_silent_link_within_ten_seconds() {
    let (mut s, _) = opened(Config::default());
    s.advance(9_999);
    assert!(dead_declared(&s));
}

#[test]
fn any_inbound_frame_pushes_the_deadline() {
    let (mut s, c) = opened(fast());
    for _ in 0..10 {
        s.advance(2_000);
        // Even an unknown frame type is proof of life.
        s.input(Input::Received {
            conn: c,
            payload: Payload::Binary(vec![0x7f, 1, 2]),
        });
    }
    assert!(!dead_declared(&s));
    s.advance(2_500);
    assert!(dead_declared(&s));
}

#[test]
fn pings_go_out_when_idle_and_the_reply_gives_rtt() {
    let (mut s, c) = opened(fast());
    s.advance(999);
    assert!(s.pings_sent(c).is_empty());
    s.advance(1);
    let pings = s.pings_sent(c);
    assert_eq!(pings.len(), 1, "no ping after one idle interval");
    s.advance(40);
    s.server(c, Frame::Pong { id: pings[0] });
    assert_eq!(s.m.stats().rtt_ms, Some(40));
    // The next ping is due an interval after the last send (the ping at 1000 ms).
    s.advance(959);
    assert_eq!(s.pings_sent(c).len(), 1, "pinged early");
    s.advance(1);
    assert_eq!(s.pings_sent(c).len(), 2);
}

#[test]
fn no_ping_while_data_flows_both_ways() {
    let (mut s, c) = opened(fast());
    for i in 0..20u64 {
        s.advance(500);
        s.send_text("x");
        s.server(
            c,
            Frame::Text {
                seq: i + 1,
                text: "y".into(),
            },
        );
    }
    assert!(s.pings_sent(c).is_empty());
}

#[test]
fn ping_from_server_is_answered_synchronously() {
    let (mut s, c) = opened(fast());
    s.take_actions();
    s.m.handle_input(
        s.at(),
        Input::Received {
            conn: c,
            payload: Payload::Binary(holdfast::protocol::encode(&Frame::Ping { id: 77 })),
        },
    );
    // The pong is an action of this very call: no timer involved.
    let a = s.m.poll_action().expect("no pong");
    match a {
        Action::Send {
            payload: Payload::Binary(b),
            ..
        } => assert_eq!(
            holdfast::protocol::decode(&b, &Default::default()),
            Ok(holdfast::protocol::Decoded::Frame(Frame::Pong { id: 77 }))
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn late_timer_in_hidden_tab_detects_dead_link_at_once() {
    let (mut s, _) = opened(fast());
    s.input(Input::Hidden);
    // Throttled: the next timer fires a minute late; nothing arrived meanwhile.
    s.jump(60_000);
    s.fire();
    assert!(dead_declared(&s), "a throttled late timer hid a dead link");
}

#[test]
fn slightly_late_timer_in_visible_tab_detects_dead_link_at_once() {
    let (mut s, _) = opened(fast());
    s.advance(1_000); // ping sent on time
    s.jump(2_000); // next timer 500 ms late, past the 2.5 s deadline
    s.fire();
    assert!(dead_declared(&s));
}

#[test]
fn frozen_gap_probes_before_declaring_death() {
    let (mut s, c) = opened(fast());
    s.jump(30_000); // page frozen: no calls at all
    s.fire();
    assert!(
        !dead_declared(&s),
        "declared dead without probing after a freeze"
    );
    let pings = s.pings_sent(c);
    assert_eq!(pings.len(), 1, "no probe ping");
    // The probe is answered: the link lives.
    s.advance(100);
    s.server(c, Frame::Pong { id: pings[0] });
    s.advance(1_000);
    assert!(!dead_declared(&s));
    assert!(matches!(s.m.state(), State::Open { .. }));
}

#[test]
fn frozen_gap_unanswered_probe_declares_death_after_the_probe_window() {
    let (mut s, _) = opened(fast());
    s.jump(30_000);
    s.fire();
    s.advance(499);
    assert!(!dead_declared(&s));
    s.advance(1);
    assert!(dead_declared(&s), "probe window (500 ms) not enforced");
}

#[test]
fn resumed_input_probes_instead_of_declaring_death() {
    let (mut s, c) = opened(fast());
    s.input(Input::Hidden);
    s.jump(20_000);
    s.input(Input::Resumed);
    assert!(!dead_declared(&s));
    assert_eq!(s.pings_sent(c).len(), 1);
}

#[test]
fn visible_after_quiet_period_probes() {
    let (mut s, c) = opened(Config {
        heartbeat_interval_ms: 1_000,
        heartbeat_timeout_ms: 10_000,
        ..fast()
    });
    s.input(Input::Hidden);
    s.advance(1_500); // one ping sent at 1000
    let before = s.pings_sent(c).len();
    s.input(Input::Visible);
    assert_eq!(s.pings_sent(c).len(), before + 1, "no probe on visible");
    s.advance(499);
    assert!(!dead_declared(&s));
    s.advance(1);
    assert!(dead_declared(&s), "probe window not applied");
}

#[test]
fn dead_link_reconnects_on_the_same_transport() {
    let (mut s, _) = opened(fast());
    s.advance(2_500);
    let d = *s.reconnecting_delays().last().unwrap();
    s.advance(d);
    assert_eq!(s.connects(), 2);
    assert!(matches!(
        s.actions.last(),
        Some(Action::Connect {
            transport: holdfast::config::TransportKind::WebSocket,
            ..
        })
    ));
}

#[test]
fn raw_heartbeat_sends_ping_text_and_swallows_the_reply() {
    let cfg = Config {
        protocol: Protocol::Raw(Some(RawHeartbeat {
            ping: Some("ping".into()),
            pong: Some("pong".into()),
        })),
        ..fast()
    };
    let mut s = Sim::new(cfg);
    s.input(Input::Connect);
    let c = s.last_conn();
    s.input(Input::Opened { conn: c });
    assert_eq!(s.opens(), 1);
    s.advance(1_000);
    assert!(s.actions.iter().any(|a| matches!(a,
        Action::Send { payload: Payload::Text(t), .. } if t == "ping")));
    s.advance(20);
    s.input(Input::Received {
        conn: c,
        payload: Payload::Text("pong".into()),
    });
    s.input(Input::Received {
        conn: c,
        payload: Payload::Text("hello".into()),
    });
    assert_eq!(s.messages(), vec![Payload::Text("hello".into())]);
    assert_eq!(s.m.stats().rtt_ms, Some(20));
    s.advance(2_500);
    assert!(dead_declared(&s));
}

#[test]
fn raw_without_heartbeat_never_declares_death() {
    let cfg = Config {
        protocol: Protocol::Raw(None),
        ..fast()
    };
    let mut s = Sim::new(cfg);
    s.input(Input::Connect);
    let c = s.last_conn();
    s.input(Input::Opened { conn: c });
    s.advance(600_000);
    assert!(!dead_declared(&s));
    assert!(s.actions.iter().all(|a| !matches!(a, Action::Send { .. })));
}

#[test]
fn server_announced_idle_timeout_shortens_the_ping_interval_and_is_clamped() {
    // hostile: clamped to 1000 → interval 500
    let (mut s, c) = sim::opened_with_welcome(fast(), |w| w.idle_timeout_ms = 0);
    s.advance(499);
    assert!(s.pings_sent(c).is_empty());
    s.advance(1);
    assert_eq!(s.pings_sent(c).len(), 1);
}

#[test]
fn a_rarely_pinging_server_stretches_the_timeout_to_twice_its_interval_capped() {
    let open_with_server_ping =
        |ping: u64| sim::opened_with_welcome(fast(), |w| w.ping_interval_ms = ping).0;
    // Server pings every 2 s: the client waits 4 s (not its own 2.5 s) for proof of life.
    let mut s = open_with_server_ping(2_000);
    s.advance(3_999);
    assert!(!dead_declared(&s));
    s.advance(1);
    assert!(dead_declared(&s));
    // A hostile hour-long interval is capped at 30 s.
    let mut s = open_with_server_ping(3_600_000);
    s.advance(29_999);
    assert!(!dead_declared(&s));
    s.advance(1);
    assert!(dead_declared(&s));
}
