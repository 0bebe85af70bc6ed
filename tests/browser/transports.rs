//! The HTTP transports and the fallback chain in the real browser against the real server
//! (PROTOCOL.md §8–§9): each transport alone (open, echo text and binary, queued-before-open in
//! order, dead link, reconnect, churn), and the chain behind the server's fault controls.

use crate::sessions::{churn, numbered, server_tally, user_agent};
use crate::util::*;
use holdfast::config::{Config, TransportKind};
use holdfast::core::{Event, Payload, SendOutcome};
use holdfast::web::{live_counts, Client, UrlSource};
use wasm_bindgen_test::wasm_bindgen_test;
use TransportKind::*;

fn chain(kinds: &[TransportKind]) -> Config {
    Config {
        transports: kinds.to_vec(),
        ..test_config()
    }
}

fn opened_on(rec: &Recorder) -> Vec<TransportKind> {
    rec.0
        .borrow()
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Open { transport } => Some(*transport),
            _ => None,
        })
        .collect()
}

fn moves(rec: &Recorder) -> Vec<(TransportKind, TransportKind)> {
    rec.0
        .borrow()
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Transport { from, to, .. } => Some((*from, *to)),
            _ => None,
        })
        .collect()
}

/// Sends `probe` and returns how long after `t0` its echo arrived.
async fn first_echo(c: &Client, rec: &Recorder, t0: f64, probe: &str, timeout_ms: f64) -> f64 {
    c.send(text(probe));
    let want = Payload::Text(probe.to_owned());
    assert!(
        rec.wait(timeout_ms, |r| r.messages().contains(&want)).await,
        "no echo of {probe}: {}",
        rec.dump()
    );
    rec.time_of(0, |e| matches!(e, Event::Message(p) if *p == want))
        .unwrap()
        - t0
}

/// One transport alone: queued-before-open delivered in order, text and binary echo, a silent
/// server declared dead within the window, and the reconnect on the same transport.
async fn alone(kind: TransportKind) {
    close_leftovers(); // it counts live resources
    fault("recover").await;
    // POSTs of earlier tests may still be finishing (each is bounded by its own timeout).
    for _ in 0..500 {
        if live_counts().requests == 0 {
            break;
        }
        sleep(10).await;
    }
    let before = live_counts();
    let t0 = now();
    let (c, rec) = client_with(UrlSource::Fixed(base()), chain(&[kind]));
    for i in 0..5 {
        assert_eq!(c.send(text(&format!("q:{i}"))), SendOutcome::Queued);
    }
    assert!(
        rec.wait(5_000.0, |r| r.opens() == 1).await,
        "{}",
        rec.dump()
    );
    assert_eq!(opened_on(&rec), [kind]);
    assert_eq!(c.transport(), Some(kind));
    assert!(rec.wait(3_000.0, |r| numbered(r, "q:").len() == 5).await);
    assert_eq!(numbered(&rec, "q:"), [0, 1, 2, 3, 4], "queued order kept");
    let echo_ms = first_echo(&c, &rec, t0, "hello", 3_000.0).await;
    report(&format!("{kind}: construction to first echo"), echo_ms);
    let bytes = vec![0u8, 1, 2, 254, 255, b'\n', b'\r', 0];
    c.send(Payload::Binary(bytes.clone()));
    assert!(
        rec.wait(3_000.0, |r| r
            .messages()
            .contains(&Payload::Binary(bytes.clone())))
            .await,
        "binary echo over {kind}"
    );
    // A silent server (half-open link): declared dead within the heartbeat timeout + slack.
    let from = rec.len();
    fault("silent").await;
    let silent_at = now();
    assert!(
        rec.wait(6_000.0, |r| r
            .0
            .borrow()
            .iter()
            .skip(from)
            .any(|(_, e)| is_dead_link(e)))
            .await,
        "{kind}: silence not detected: {}",
        rec.dump()
    );
    let detected = rec.time_of(from, is_dead_link).unwrap() - silent_at;
    report(&format!("{kind}: dead link declared after"), detected);
    assert!(detected < 4_500.0, "{kind}: took {detected} ms");
    fault("recover").await;
    assert!(
        rec.wait(8_000.0, |r| r.opens() == 2).await,
        "{}",
        rec.dump()
    );
    assert_eq!(
        opened_on(&rec),
        [kind, kind],
        "reconnects on the same transport"
    );
    first_echo(&c, &rec, t0, "after", 3_000.0).await;
    c.close(1000, "done").unwrap();
    drop(c);
    // Everything the transport owned is released: the stream, its listeners, every fetch (the
    // last POST, carrying CLOSE, finishes on its own first).
    let after = counts_back_to(before, 3000).await;
    assert_eq!(after, before, "{kind} left resources behind");
}

#[wasm_bindgen_test]
async fn sse_alone() {
    alone(Sse).await;
}

#[wasm_bindgen_test]
async fn long_polling_alone() {
    alone(LongPolling).await;
}

#[wasm_bindgen_test]
async fn short_polling_alone() {
    alone(Polling).await;
}

#[wasm_bindgen_test]
async fn sse_churn() {
    churn(Sse).await;
}

#[wasm_bindgen_test]
async fn long_polling_churn() {
    churn(LongPolling).await;
}

#[wasm_bindgen_test]
async fn short_polling_churn() {
    churn(Polling).await;
}

/// The full chain with the given faults on: where it opens, and the time from construction to
/// the first echo (logged for the resolve note).
async fn chain_case(name: &str, faults: &[&str], expect: TransportKind) -> (Client, Recorder) {
    fault("recover").await;
    for f in faults {
        fault(f).await;
    }
    let t0 = now();
    let (c, rec) = client_with(UrlSource::Fixed(base()), chain(&TransportKind::ALL));
    assert!(
        rec.wait(15_000.0, |r| r.opens() == 1).await,
        "{name}: {}",
        rec.dump()
    );
    assert_eq!(opened_on(&rec), [expect], "{name}: {}", rec.dump());
    let ms = first_echo(&c, &rec, t0, "probe", 5_000.0).await;
    report(
        &format!("chain {name} → {expect}: construction to first echo"),
        ms,
    );
    (c, rec)
}

#[wasm_bindgen_test]
async fn websocket_refused_falls_back_to_sse() {
    let (c, rec) = chain_case("websocket refused (403)", &["refuse-ws"], Sse).await;
    assert_eq!(moves(&rec), [(WebSocket, Sse)]);
    c.close(1000, "done").unwrap();
    fault("recover").await;
}

#[wasm_bindgen_test]
async fn websocket_and_sse_refused_fall_back_to_long_polling() {
    let (c, rec) = chain_case(
        "websocket and sse refused",
        &["refuse-ws", "refuse-sse"],
        LongPolling,
    )
    .await;
    assert_eq!(moves(&rec), [(WebSocket, Sse), (Sse, LongPolling)]);
    c.close(1000, "done").unwrap();
    fault("recover").await;
}

#[wasm_bindgen_test]
async fn buffered_sse_is_not_trusted_and_long_polling_takes_over() {
    let (c, rec) = chain_case(
        "websocket refused, sse buffered",
        &["refuse-ws", "buffer-sse"],
        LongPolling,
    )
    .await;
    assert_eq!(moves(&rec), [(WebSocket, Sse), (Sse, LongPolling)]);
    c.close(1000, "done").unwrap();
    fault("recover").await;
}

#[wasm_bindgen_test]
async fn killed_held_polls_end_on_short_polling_without_overlaps() {
    close_leftovers(); // it counts the server's polls
    let overlaps_before = server_stat("poll_overlaps").await;
    fault("recover").await;
    fault("refuse-ws").await;
    fault("refuse-sse").await;
    // The test profile holds a poll 1 s; every poll still held after 300 ms is cut off
    // mid-answer, as by a proxy that kills held responses.
    fault("kill-polls?ms=300").await;
    let t0 = now();
    let config = Config {
        poll_interval_ms: 250,
        ..chain(&TransportKind::ALL)
    };
    let (c, rec) = client_with(UrlSource::Fixed(base()), config);
    assert!(
        rec.wait(20_000.0, |r| opened_on(r).last() == Some(&Polling))
            .await,
        "{}",
        rec.dump()
    );
    assert!(
        moves(&rec).contains(&(LongPolling, Polling)),
        "{:?}",
        moves(&rec)
    );
    let ms = first_echo(&c, &rec, t0, "probe", 5_000.0).await;
    report(
        "chain held polls killed → polling: construction to first echo",
        ms,
    );
    // It stays on short polling: 3 s at its interval without a reconnect.
    let opens = rec.opens();
    let polls_before = server_stat("polls").await;
    for i in 0..30 {
        c.send(text(&format!("p:{i}")));
        sleep(100).await;
    }
    // About one poll per 250 ms interval plus its round trip (3 s → ~10), not a tight loop.
    let polls = server_stat("polls").await - polls_before;
    assert!((4..=16).contains(&polls), "{polls} polls in 3 s");
    assert!(rec.wait(3_000.0, |r| numbered(r, "p:").len() == 30).await);
    assert_eq!(numbered(&rec, "p:"), (0..30).collect::<Vec<_>>());
    assert_eq!(
        rec.opens(),
        opens,
        "short polling is stable: {}",
        rec.dump()
    );
    assert_eq!(
        server_stat("poll_overlaps").await,
        overlaps_before,
        "two polls of one session overlapped"
    );
    c.close(1000, "done").unwrap();
    fault("recover").await;
}

#[wasm_bindgen_test]
async fn a_gateway_timeout_shorter_than_the_hold_is_an_empty_poll_and_loses_nothing() {
    fault("recover").await;
    fault("gateway-timeout?ms=400").await;
    let (c, rec) = opened_client(UrlSource::Fixed(base()), chain(&[LongPolling])).await;
    // Quiet stretches (every held poll ends in a 504), then numbered bursts.
    for burst in 0..5 {
        sleep(700).await;
        for i in 0..40 {
            c.send(text(&format!("n:{}", burst * 40 + i)));
        }
    }
    assert!(rec.wait(5_000.0, |r| numbered(r, "n:").len() >= 200).await);
    assert_eq!(numbered(&rec, "n:"), (0..200).collect::<Vec<_>>());
    assert_eq!(server_tally(&c, &rec).await, (200, 0, 0));
    assert_eq!(rec.opens(), 1, "504s are not failures: {}", rec.dump());
    c.close(1000, "done").unwrap();
    fault("recover").await;
}

fn clear_remembered() {
    if let Some(s) = web_sys::window().and_then(|w| w.session_storage().ok().flatten()) {
        let _ = s.clear();
    }
}

#[wasm_bindgen_test]
async fn the_transport_that_worked_is_where_the_next_client_in_the_tab_starts() {
    clear_remembered();
    fault("recover").await;
    fault("refuse-ws").await;
    let config = || Config {
        remember_transport_ms: 60_000,
        ..chain(&TransportKind::ALL)
    };
    let (first, rec1) = client_with(UrlSource::Fixed(base()), config());
    assert!(rec1.wait(10_000.0, |r| r.opens() == 1).await);
    assert_eq!(opened_on(&rec1), [Sse]);
    first.close(1000, "done").unwrap();
    let t0 = now();
    let (second, rec2) = client_with(UrlSource::Fixed(base()), config());
    assert!(rec2.wait(10_000.0, |r| r.opens() == 1).await);
    assert_eq!(opened_on(&rec2), [Sse]);
    assert!(
        moves(&rec2).is_empty(),
        "started on SSE without trying WebSocket: {}",
        rec2.dump()
    );
    let ms = first_echo(&second, &rec2, t0, "probe", 3_000.0).await;
    report("remembered sse: construction to first echo", ms);
    second.close(1000, "done").unwrap();
    clear_remembered();
    fault("recover").await;
}

#[wasm_bindgen_test]
async fn a_forced_switch_mid_stream_continues_on_sse_with_nothing_lost() {
    const N: usize = 1_000;
    fault("recover").await;
    let config = roomy(chain(&TransportKind::ALL), N);
    let (c, rec) = opened_client(UrlSource::Fixed(base()), config).await;
    assert_eq!(opened_on(&rec), [WebSocket]);
    for i in 0..N {
        c.send(text(&format!("n:{i}")));
        if i % 10 == 9 {
            sleep(20).await;
        }
        if i == N / 2 {
            // WebSocket killed, then refused: the client must move the session to SSE.
            fault("refuse-ws").await;
            fault("drop").await;
        }
    }
    assert!(
        rec.wait(20_000.0, |r| numbered(r, "n:").len() >= N).await,
        "{}",
        rec.dump()
    );
    let echoed = numbered(&rec, "n:");
    assert_eq!(
        echoed,
        (0..N).collect::<Vec<_>>(),
        "every echo once, in order"
    );
    assert_eq!(server_tally(&c, &rec).await, (N, 0, 0), "at the server");
    assert_eq!(opened_on(&rec), [WebSocket, Sse], "{}", rec.dump());
    web_sys::console::log_1(
        &format!(
            "SWITCH {}: websocket → sse mid-stream, {N} each way, 0 lost, 0 duplicated",
            user_agent()
        )
        .into(),
    );
    c.close(1000, "done").unwrap();
    fault("recover").await;
}

/// The chain through the fault proxy with `mode` on: where it opens and how long it took.
async fn proxied_case(name: &str, mode: &str, expect: TransportKind) {
    fault("recover").await;
    proxy(mode).await;
    let t0 = now();
    let (c, rec) = client_with(UrlSource::Fixed(proxied_base()), chain(&TransportKind::ALL));
    let queued = c.send(text("queued:0"));
    assert_eq!(queued, SendOutcome::Queued);
    assert!(
        rec.wait(15_000.0, |r| r.opens() == 1).await,
        "{name}: {}",
        rec.dump()
    );
    assert_eq!(opened_on(&rec), [expect], "{name}: {}", rec.dump());
    assert_eq!(moves(&rec).first(), Some(&(WebSocket, Sse)), "{name}");
    let ms = first_echo(&c, &rec, t0, "probe", 5_000.0).await;
    report(
        &format!("chain {name} → {expect}: construction to first echo"),
        ms,
    );
    // The message queued before the WebSocket attempt went out once, on the transport that
    // was trusted.
    let queued = Payload::Text("queued:0".into());
    assert_eq!(rec.messages().iter().filter(|p| **p == queued).count(), 1);
    c.close(1000, "done").unwrap();
    proxy("pass").await;
}

#[wasm_bindgen_test]
async fn a_hanging_websocket_upgrade_is_abandoned_at_its_deadline() {
    proxied_case("websocket upgrade hangs", "hang-upgrade", Sse).await;
}

#[wasm_bindgen_test]
async fn an_upgrade_that_then_drops_every_frame_is_never_trusted() {
    proxied_case(
        "upgrade accepted, frames dropped",
        "drop-after-upgrade",
        Sse,
    )
    .await;
}

#[wasm_bindgen_test]
async fn a_proxy_that_refuses_the_upgrade_is_left_at_once() {
    proxied_case("proxy refuses the upgrade", "refuse-upgrade", Sse).await;
}

/// A black hole in the network path (no FIN, no RST) on each HTTP transport: declared dead
/// within the window, then the session resumes once the path heals.
async fn black_hole(kind: TransportKind) {
    fault("recover").await;
    proxy("pass").await;
    let (c, rec) = opened_client(UrlSource::Fixed(proxied_base()), chain(&[kind])).await;
    let from = rec.len();
    proxy("blackhole").await;
    let at = now();
    assert!(
        rec.wait(6_000.0, |r| r
            .0
            .borrow()
            .iter()
            .skip(from)
            .any(|(_, e)| is_dead_link(e)))
            .await,
        "{kind}: black hole not detected: {}",
        rec.dump()
    );
    let detected = rec.time_of(from, is_dead_link).unwrap() - at;
    report(&format!("{kind}: black hole declared dead after"), detected);
    proxy("pass").await;
    assert!(
        rec.wait(8_000.0, |r| r.opens() == 2).await,
        "{}",
        rec.dump()
    );
    first_echo(&c, &rec, at, "healed", 3_000.0).await;
    c.close(1000, "done").unwrap();
}

#[wasm_bindgen_test]
async fn sse_black_hole_is_detected() {
    black_hole(Sse).await;
}

#[wasm_bindgen_test]
async fn long_polling_black_hole_is_detected() {
    black_hole(LongPolling).await;
}

#[wasm_bindgen_test]
async fn the_seventh_connection_to_one_origin_ends_in_a_deadline_not_a_hang() {
    fault("recover").await;
    // Six event streams take the browser's six HTTP/1.1 connections to the server's origin.
    let holders: Vec<(Client, Recorder)> = (0..6)
        .map(|_| client_with(UrlSource::Fixed(base()), chain(&[Sse])))
        .collect();
    for (_, rec) in &holders {
        assert!(
            rec.wait(5_000.0, |r| r.opens() >= 1).await,
            "{}",
            rec.dump()
        );
    }
    let t0 = now();
    let (c, rec) = client_with(UrlSource::Fixed(base()), chain(&[Sse, LongPolling]));
    let left = rec
        .wait(6_000.0, |r| {
            r.count(|e| matches!(e, Event::Transport { .. } | Event::Reconnecting { .. })) > 0
        })
        .await;
    let waited = now() - t0;
    // Free the connections (no fault-control call before this: it would queue behind them).
    for (h, _) in holders {
        let _ = h.close(1000, "done");
    }
    assert!(left, "the seventh attempt hung: {}", rec.dump());
    report(
        "seventh connection to one origin: left the stuck attempt after",
        waited,
    );
    assert!(waited < 4_500.0, "took {waited} ms");
    assert!(
        rec.wait(15_000.0, |r| r.opens() == 1).await,
        "{}",
        rec.dump()
    );
    first_echo(&c, &rec, t0, "probe", 5_000.0).await;
    c.close(1000, "done").unwrap();
}

/// A first figure per transport (the benchmark issue formalises it): 2000 echoes as fast as the
/// transport carries them, all delivered in order.
#[wasm_bindgen_test]
async fn throughput_per_transport() {
    const N: usize = 2_000;
    for kind in TransportKind::ALL {
        fault("recover").await;
        let config = roomy(chain(&[kind]), N);
        let (c, rec) = opened_client(UrlSource::Fixed(base()), config).await;
        let t0 = now();
        // At most 500 messages outstanding: the server ends a session that leaves more than
        // 1024 of its messages unacknowledged (short polling acknowledges once per interval).
        let mut i = 0;
        while i < N {
            let echoed = rec.count(|e| matches!(e, Event::Message(_)));
            while i < N && i < echoed + 500 {
                c.send(text(&format!("n:{i}")));
                i += 1;
            }
            sleep(1).await;
        }
        assert!(
            rec.wait(30_000.0, |r| numbered(r, "n:").len() >= N).await,
            "{kind}: {} of {N}",
            numbered(&rec, "n:").len()
        );
        let secs = (now() - t0) / 1000.0;
        assert_eq!(numbered(&rec, "n:"), (0..N).collect::<Vec<_>>(), "{kind}");
        web_sys::console::log_1(
            &format!(
                "THROUGHPUT {kind} {}: {N} echoes in {:.0} ms = {:.0} msg/s each way",
                user_agent(),
                secs * 1000.0,
                N as f64 / secs
            )
            .into(),
        );
        c.close(1000, "done").unwrap();
    }
}

/// A message over the client's limit is refused by the transport before it is copied into wasm
/// (reported as `message-too-big`, not as an undecodable frame), on WebSocket and on SSE; the
/// next message still arrives.
#[wasm_bindgen_test]
async fn an_oversized_message_is_refused_unread_and_the_next_one_arrives() {
    fault("recover").await;
    for kind in [WebSocket, Sse] {
        let small = Config {
            max_message_bytes: 2_048,
            ..chain(&[kind])
        };
        let (a, rec) = opened_client(UrlSource::Fixed(base()), small).await;
        let (b, _) = opened_client(UrlSource::Fixed(base()), chain(&[WebSocket])).await;
        let big = "x".repeat(64 * 1024);
        b.send(text(&format!("broadcast:{big}")));
        b.send(text("broadcast:after the big one"));
        let after = Payload::Text("after the big one".into());
        assert!(
            rec.wait(5_000.0, |r| r.messages().contains(&after)).await,
            "{kind}: {}",
            rec.dump()
        );
        let refused = rec.count(|e| {
            matches!(
                e,
                Event::Error(holdfast::core::ClientError::MessageTooBig { size, .. })
                    if *size > 64 * 1024
            )
        });
        assert_eq!(refused, 1, "{kind}: {}", rec.dump());
        assert!(
            !rec.messages().iter().any(|m| m.len() > 2_048),
            "{kind}: an oversized message was delivered"
        );
        assert_eq!(rec.opens(), 1, "{kind}: the link went on");
        a.close(1000, "done").unwrap();
        b.close(1000, "done").unwrap();
    }
}
