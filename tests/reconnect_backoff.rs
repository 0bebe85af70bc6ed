//! Reconnect timing: full jitter after the cap, overflow safety, min-uptime reset, flapping
//! servers, max attempts, the retry-policy hook and server hints.
#![cfg(not(target_arch = "wasm32"))]

mod sim;

use holdfast::config::Config;
use holdfast::core::{
    ceiling_ms, full_jitter, Action, Event, Input, Instant, Jitter, Machine, RetryContext,
    StateKind, TransportError, XorShift,
};
use holdfast::protocol::{CloseFrame, ErrorCode, ErrorFrame, Frame};
use sim::{fast, opened, Sim};

#[test]
fn ceiling_grows_exponentially_then_caps() {
    let c: Vec<u64> = (1..=7).map(|a| ceiling_ms(100, 1_600, 2.0, a)).collect();
    assert_eq!(c, vec![100, 200, 400, 800, 1_600, 1_600, 1_600]);
}

#[test]
fn ceiling_is_overflow_safe_at_any_attempt() {
    for attempt in [64, 65, 1_000, 1_000_000, u32::MAX] {
        assert_eq!(
            ceiling_ms(500, 30_000, 2.0, attempt),
            30_000,
            "attempt {attempt}"
        );
        assert_eq!(ceiling_ms(u64::MAX / 2, u64::MAX, 10.0, attempt), u64::MAX);
    }
    let d = full_jitter(ceiling_ms(500, 30_000, 2.0, 1_000_000), 0.999_999);
    assert!(d > 29_000 && d <= 30_000, "{d}");
}

#[test]
fn machine_backoff_at_attempt_one_million_is_capped_not_zero() {
    // Drive the machine itself (no Sim bookkeeping) through a million failed attempts.
    let mut m = Machine::new(fast(), 1).unwrap().with_jitter(|| 0.999);
    let mut now = 0u64;
    m.handle_input(Instant::from_millis(now), Input::Connect);
    let mut conn = None;
    let mut last_delays = vec![];
    for i in 0..1_000_000u32 {
        while let Some(a) = m.poll_action() {
            if let Action::Connect { conn: c, .. } = a {
                conn = Some(c);
            }
        }
        let error = TransportError::Network("refused".into());
        m.handle_input(
            Instant::from_millis(now),
            Input::Failed {
                conn: conn.unwrap(),
                error,
            },
        );
        let mut delay = None;
        while let Some(e) = m.poll_event() {
            if let Event::Reconnecting {
                delay_ms, attempt, ..
            } = e
            {
                assert_eq!(attempt, i + 1);
                delay = Some(delay_ms);
            }
        }
        let delay = delay.expect("no Reconnecting event");
        assert!((1..=1_600).contains(&delay), "attempt {i}: delay {delay}");
        if i >= 999_990 {
            last_delays.push(delay);
        }
        now += delay;
        m.handle_timeout(Instant::from_millis(now));
    }
    assert!(last_delays.iter().all(|&d| d == 1_598), "{last_delays:?}");
    assert_eq!(m.stats().attempt, 1_000_000);
}

#[test]
fn full_jitter_spreads_uniformly_within_bounds_over_10k_draws() {
    let mut rng = XorShift::new(0xDEC0DE);
    let ceiling = ceiling_ms(500, 30_000, 2.0, 20);
    assert_eq!(ceiling, 30_000);
    let draws: Vec<u64> = (0..10_000)
        .map(|_| full_jitter(ceiling, rng.sample()))
        .collect();
    assert!(draws.iter().all(|&d| (1..=30_000).contains(&d)));
    // Uniform on [0, 30000): each tenth holds ~1000 draws; allow ±20 %.
    let mut buckets = [0u32; 10];
    for d in &draws {
        buckets[(*d as usize * 10 / 30_000).min(9)] += 1;
    }
    for (i, b) in buckets.iter().enumerate() {
        assert!((800..=1_200).contains(b), "bucket {i} has {b}: {buckets:?}");
    }
    let mean = draws.iter().sum::<u64>() as f64 / draws.len() as f64;
    assert!((14_000.0..16_000.0).contains(&mean), "mean {mean}");
    // Not synchronised: many distinct values, unlike jitter-before-cap.
    let distinct: std::collections::BTreeSet<_> = draws.iter().collect();
    assert!(distinct.len() > 5_000);
}

#[test]
fn first_connect_is_retried_with_the_same_policy() {
    let mut s = Sim::with_jitter(fast(), 0.999);
    s.input(Input::Connect);
    let mut delays = vec![];
    for _ in 0..6 {
        s.fail();
        let d = *s.reconnecting_delays().last().unwrap();
        delays.push(d);
        assert_eq!(s.m.state_kind(), StateKind::Reconnecting);
        s.advance(d - 1);
        assert_eq!(s.connects(), delays.len(), "attempt started early");
        s.advance(1);
        assert_eq!(
            s.connects(),
            delays.len() + 1,
            "attempt not started at the deadline"
        );
    }
    assert_eq!(delays, vec![99, 199, 399, 799, 1_598, 1_598]);
}

#[test]
fn attempts_reset_only_after_min_uptime() {
    let mut s = Sim::with_jitter(fast(), 0.999);
    s.input(Input::Connect);
    for _ in 0..4 {
        s.fail();
        s.advance(2_000);
    }
    let c = s.open();
    assert_eq!(s.m.stats().attempt, 4);
    // Keep the link alive with server traffic while waiting.
    for id in 0..4 {
        s.advance(1_000);
        s.server(c, Frame::Ping { id });
    }
    s.advance(999);
    assert_eq!(s.m.stats().attempt, 4, "reset before min uptime");
    s.advance(1);
    assert_eq!(s.m.stats().attempt, 0, "not reset at min uptime");
    s.drop_conn();
    assert_eq!(
        *s.reconnecting_delays().last().unwrap(),
        99,
        "backoff did not restart"
    );
}

#[test]
fn flapping_server_keeps_backing_off() {
    // The server accepts and completes the handshake, then closes at once, again and again.
    let mut s = Sim::with_jitter(fast(), 0.999);
    s.input(Input::Connect);
    for _ in 0..6 {
        s.open();
        s.advance(10);
        s.drop_conn();
        let d = *s.reconnecting_delays().last().unwrap();
        s.advance(d);
    }
    assert_eq!(
        s.reconnecting_delays(),
        vec![99, 199, 399, 799, 1_598, 1_598]
    );
    assert_eq!(s.opens(), 6);
}

#[test]
fn max_attempts_closes_for_good_with_a_reason() {
    let cfg = Config {
        max_attempts: Some(3),
        ..fast()
    };
    let mut s = Sim::new(cfg);
    s.input(Input::Connect);
    for _ in 0..3 {
        s.fail();
        s.advance(2_000);
    }
    assert_eq!(s.connects(), 4);
    s.fail();
    let closes = s.close_events();
    assert_eq!(closes.len(), 1);
    match closes[0] {
        Event::Close {
            reason, was_clean, ..
        } => {
            assert!(reason.contains("gave up after 3"), "{reason}");
            assert!(!was_clean);
        }
        _ => unreachable!(),
    }
    s.advance(100_000);
    assert_eq!(s.connects(), 4, "attempted after giving up");
}

#[test]
fn retry_policy_hook_chooses_delays_and_can_stop() {
    let seen = std::rc::Rc::new(std::cell::RefCell::new(vec![]));
    let seen2 = seen.clone();
    let m = Machine::new(fast(), 7)
        .unwrap()
        .with_retry_policy(move |ctx: &RetryContext<'_>| {
            seen2.borrow_mut().push((ctx.attempt, ctx.elapsed_ms));
            if ctx.attempt >= 3 {
                None
            } else {
                Some(1_000 * u64::from(ctx.attempt))
            }
        });
    let mut s = Sim::from_machine(m);
    s.input(Input::Connect);
    s.fail();
    s.advance(1_000);
    s.fail();
    s.advance(2_000);
    s.fail();
    assert_eq!(s.reconnecting_delays(), vec![1_000, 2_000]);
    assert_eq!(*seen.borrow(), vec![(1, 0), (2, 1_000), (3, 3_000)]);
    assert_eq!(s.close_events().len(), 1);
    assert_eq!(s.m.state_kind(), StateKind::Closed);
}

#[test]
fn retry_after_hint_is_honoured_and_clamped() {
    let cfg = Config {
        max_retry_after_ms: 10_000,
        ..fast()
    };
    let mut s = Sim::with_jitter(cfg, 0.0);
    s.input(Input::Connect);
    let c = s.last_conn();
    s.input(Input::Failed {
        conn: c,
        error: TransportError::Http {
            status: 503,
            retry_after_ms: Some(3_000),
        },
    });
    assert_eq!(*s.reconnecting_delays().last().unwrap(), 3_000);
    s.advance(3_000);
    let c = s.last_conn();
    s.input(Input::Failed {
        conn: c,
        error: TransportError::Http {
            status: 503,
            retry_after_ms: Some(86_400_000),
        },
    });
    assert_eq!(
        *s.reconnecting_delays().last().unwrap(),
        10_000,
        "not clamped"
    );
}

#[test]
fn try_later_close_and_error_frame_delay_the_retry() {
    let (mut s, c) = opened(Config {
        reconnect_max_delay_ms: 1_600,
        ..fast()
    });
    s.server(
        c,
        Frame::Close(CloseFrame {
            code: 1013,
            reason: "busy".into(),
        }),
    );
    let d = *s.reconnecting_delays().last().unwrap();
    assert!(
        (800..=1_600).contains(&d),
        "try-later delay {d} not in the upper half of the cap"
    );

    s.advance(d);
    let c = s.open();
    s.server(
        c,
        Frame::Error(ErrorFrame {
            code: ErrorCode::TryLater,
            message: "overloaded".into(),
            retry_after_ms: 4_321,
        }),
    );
    assert_eq!(*s.reconnecting_delays().last().unwrap(), 4_321);
}
