//! Fault-matrix rows that had no browser test (TESTING.md, "Fault matrix (generated)").

use crate::sessions::{numbered, server_tally};
use crate::util::*;
use holdfast::config::{Config, Protocol, RawHeartbeat, TransportKind};
use holdfast::core::{Event, Payload};
use holdfast::web::{live_counts, Client, UrlSource};
use wasm_bindgen_test::wasm_bindgen_test;

fn attempts(rec: &Recorder) -> Vec<u32> {
    rec.0
        .borrow()
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Reconnecting { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .collect()
}

/// F25, flapping server (opens then closes): every connection is dropped right after it opens,
/// well inside `min_uptime_ms` (1000 ms), so the backoff keeps counting up instead of starting
/// over at each open; a connection that stays up past the minimum uptime resets it.
#[wasm_bindgen_test]
async fn a_flapping_server_does_not_reset_the_backoff_until_the_minimum_uptime() {
    fault("recover").await;
    let (c, rec) = client();
    for flap in 1..=4 {
        assert!(
            rec.wait(6_000.0, |r| r.opens() == flap).await,
            "open {flap}: {}",
            rec.dump()
        );
        fault("drop").await;
        assert!(
            rec.wait(3_000.0, |r| attempts(r).len() == flap).await,
            "flap {flap}: {}",
            rec.dump()
        );
    }
    assert_eq!(attempts(&rec), [1, 2, 3, 4], "{}", rec.dump());
    assert!(
        rec.wait(6_000.0, |r| r.opens() == 5).await,
        "{}",
        rec.dump()
    );
    sleep(1_600).await;
    assert_eq!(rec.opens(), 5, "the link stayed up");
    fault("drop").await;
    assert!(
        rec.wait(3_000.0, |r| attempts(r).len() == 5).await,
        "{}",
        rec.dump()
    );
    assert_eq!(
        attempts(&rec).last(),
        Some(&1),
        "reset after the minimum uptime: {}",
        rec.dump()
    );
    c.close(1000, "done").unwrap();
}

fn on(kind: TransportKind) -> Config {
    Config {
        transports: vec![kind],
        ..test_config()
    }
}

/// The server's raw WebSocket echo (`{base}/raw`) through the fault proxy: it sends nothing by
/// itself, so a raw client without a heartbeat leaves its connection byte-idle.
fn proxied_raw() -> UrlSource {
    UrlSource::Fixed(format!("{}/raw", proxied_base()).replacen("http", "ws", 1))
}

fn raw(heartbeat: Option<RawHeartbeat>) -> Config {
    Config {
        protocol: Protocol::Raw(heartbeat),
        ..test_config()
    }
}

fn reconnects(rec: &Recorder) -> usize {
    rec.count(|e| matches!(e, Event::Reconnecting { .. } | Event::Transport { .. }))
}

/// The proxy's idle-timeout middlebox: a connection that carries no byte either way for 3 s is
/// reset at both ends.
const IDLE_CUT: &str = "idle-cut?ms=3000";

/// F7, the proof that the proxy's idle cut works: a raw WebSocket without heartbeat, to an echo
/// endpoint that sends nothing by itself, is cut about 3 s after its last byte (the close is a
/// transport close, reported as such: raw mode without a heartbeat has no dead-link detection).
#[wasm_bindgen_test]
async fn an_idle_cut_middlebox_closes_a_raw_link_without_heartbeats_after_3_s() {
    fault("recover").await;
    proxy(IDLE_CUT).await;
    let cuts = proxy_stat("idle_cuts").await;
    let (c, rec) = opened_client(proxied_raw(), raw(None)).await;
    c.send(text("before the quiet"));
    assert!(
        rec.wait(3_000.0, |r| r.messages() == [text("before the quiet")])
            .await,
        "{}",
        rec.dump()
    );
    let last_byte = rec.time_of(0, |e| matches!(e, Event::Message(_))).unwrap();
    assert!(
        rec.wait(8_000.0, |r| reconnects(r) > 0).await,
        "never cut: {}",
        rec.dump()
    );
    let cut = rec
        .time_of(0, |e| matches!(e, Event::Reconnecting { .. }))
        .unwrap()
        - last_byte;
    report(
        "raw websocket without heartbeat: cut by the idle proxy after",
        cut,
    );
    assert!(
        (2_700.0..4_500.0).contains(&cut),
        "cut {cut} ms after the last byte: {}",
        rec.dump()
    );
    assert!(
        !rec.0.borrow().iter().any(|(_, e)| is_dead_link(e)),
        "a transport close, not a dead-link verdict: {}",
        rec.dump()
    );
    assert!(proxy_stat("idle_cuts").await > cuts, "the proxy cut it");
    // It reconnects as usual (and would be cut again).
    assert!(
        rec.wait(3_000.0, |r| r.opens() == 2).await,
        "{}",
        rec.dump()
    );
    c.close(1000, "done").unwrap();
    proxy("pass").await;
}

/// How long the F7 keep-open test keeps the links idle (no app message). The row says 60 s; 15 s
/// (five 3 s idle windows) keeps `make test` affordable, as every client runs at once.
const KEPT_IDLE_MS: i32 = 15_000;

/// F7: through the idle-cut middlebox (3 s), the heartbeat keeps every link open for
/// [`KEPT_IDLE_MS`] with no app traffic: WebSocket, SSE, long polling, short polling, and a raw
/// WebSocket kept alive by its client heartbeat alone (its echo endpoint sends nothing by
/// itself). "Kept open": no reconnect, no transport change, no dead-link verdict, and a message
/// sent after the quiet is echoed once. For the HTTP transports it is the session's link that is
/// kept, not one TCP connection: a pooled keep-alive connection the browser leaves idle may be
/// cut, and the browser opens another (the count of cuts is reported).
#[wasm_bindgen_test]
async fn heartbeats_keep_every_transport_open_through_an_idle_cut_middlebox() {
    fault("recover").await;
    proxy(IDLE_CUT).await;
    let cuts = proxy_stat("idle_cuts").await;
    let mut clients: Vec<(String, Client, Recorder)> = Vec::new();
    for kind in TransportKind::ALL {
        let (c, rec) = opened_client(UrlSource::Fixed(proxied_base()), on(kind)).await;
        clients.push((kind.name().to_owned(), c, rec));
    }
    let hb = RawHeartbeat {
        ping: Some("__hb__".into()),
        pong: Some("__hb__".into()),
    };
    let (c, rec) = opened_client(proxied_raw(), raw(Some(hb))).await;
    clients.push(("raw websocket, client heartbeat only".into(), c, rec));
    let quiet_from = now();
    sleep(KEPT_IDLE_MS).await;
    for (name, c, _) in &clients {
        c.send(text(&format!("after the quiet: {name}")));
    }
    for (name, c, rec) in &clients {
        let want = text(&format!("after the quiet: {name}"));
        assert!(
            rec.wait(3_000.0, |r| r.messages().contains(&want)).await,
            "{name}: no echo after the quiet: {}",
            rec.dump()
        );
        assert_eq!(rec.messages(), [want], "{name}: once, nothing else");
        assert_eq!(rec.opens(), 1, "{name}: {}", rec.dump());
        assert_eq!(reconnects(rec), 0, "{name}: {}", rec.dump());
        report(
            &format!("{name}: open through the 3 s idle-cut proxy, idle for"),
            now() - quiet_from,
        );
        if name.starts_with("raw") {
            assert!(c.stats().rtt_ms.is_some(), "the raw heartbeat was answered");
        }
    }
    let cut = proxy_stat("idle_cuts").await - cuts;
    report(
        "idle-cut proxy: idle connections cut during the quiet (count)",
        cut as f64,
    );
    for (_, c, _) in &clients {
        c.close(1000, "done").unwrap();
    }
    proxy("pass").await;
}

/// F19: every chunk through the proxy delayed 400 ± 200 ms each way (round trips of 0.8–1.2 s,
/// up to 2.4 s for the four one-way trips of a WebSocket handshake, hence the default 5 s connect
/// deadline instead of the test's 2 s: the row is about dead detection on an open link). For
/// 10 s, numbered messages flow (one per 100 ms for 2 s) then stop (3 s, longer than both idle
/// windows, server 2.5 s and client 2.5 s), twice: no dead-link verdict, no reconnect, every
/// message echoed once, in order, and counted once at the server.
async fn latency(kind: TransportKind) {
    fault("recover").await;
    proxy("latency?ms=400&jitter=200").await;
    let config = Config {
        connect_timeout_ms: 5_000,
        ..roomy(on(kind), 100)
    };
    let t0 = now();
    let (c, rec) = client_with(UrlSource::Fixed(proxied_base()), config);
    assert!(
        rec.wait(10_000.0, |r| r.opens() == 1).await,
        "{kind}: never opened: {}",
        rec.dump()
    );
    report(
        &format!("{kind} under 400±200 ms latency: open after"),
        now() - t0,
    );
    let started = now();
    let mut sent_at = Vec::new();
    for _ in 0..2 {
        for _ in 0..20 {
            c.send(text(&format!("n:{}", sent_at.len())));
            sent_at.push(now());
            sleep(100).await;
        }
        sleep(3_000).await;
    }
    let n = sent_at.len();
    assert!(
        rec.wait(5_000.0, |r| numbered(r, "n:").len() >= n).await,
        "{kind}: {:?}",
        numbered(&rec, "n:")
    );
    let ran = now() - started;
    assert_eq!(numbered(&rec, "n:"), (0..n).collect::<Vec<_>>(), "{kind}");
    assert!(
        !rec.0.borrow().iter().any(|(_, e)| is_dead_link(e)),
        "{kind}: false dead link under latency: {}",
        rec.dump()
    );
    assert_eq!(reconnects(&rec), 0, "{kind}: {}", rec.dump());
    assert_eq!(rec.opens(), 1, "{kind}");
    assert_eq!(
        server_tally(&c, &rec).await,
        (n, 0, 0),
        "{kind}: at the server"
    );
    let mut echo: Vec<f64> = rec
        .0
        .borrow()
        .iter()
        .filter_map(|(t, e)| match e {
            Event::Message(Payload::Text(m)) => {
                let i: usize = m.strip_prefix("n:")?.parse().ok()?;
                Some(t - sent_at[i])
            }
            _ => None,
        })
        .collect();
    echo.sort_by(f64::total_cmp);
    report(&format!("{kind} under latency: ran"), ran);
    report(&format!("{kind} under latency: echo median"), echo[n / 2]);
    report(&format!("{kind} under latency: echo max"), echo[n - 1]);
    if let Some(rtt) = c.stats().rtt_ms {
        report(&format!("{kind} under latency: heartbeat rtt"), rtt as f64);
    }
    c.close(1000, "done").unwrap();
    proxy("pass").await;
}

#[wasm_bindgen_test]
async fn websocket_under_400_200_ms_latency_has_no_false_dead_link() {
    latency(TransportKind::WebSocket).await;
}

#[wasm_bindgen_test]
async fn sse_under_400_200_ms_latency_has_no_false_dead_link() {
    latency(TransportKind::Sse).await;
}

#[wasm_bindgen_test]
async fn long_polling_under_400_200_ms_latency_has_no_false_dead_link() {
    latency(TransportKind::LongPolling).await;
}

#[wasm_bindgen_test]
async fn short_polling_under_400_200_ms_latency_has_no_false_dead_link() {
    latency(TransportKind::Polling).await;
}

/// Ranks of `xs` (0 = smallest).
fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|a, b| xs[*a].total_cmp(&xs[*b]));
    let mut r = vec![0.0; xs.len()];
    for (rank, i) in order.into_iter().enumerate() {
        r[i] = rank as f64;
    }
    r
}

/// Spearman's rank correlation of `a` and `b`.
fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let d2: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - y) * (x - y)).sum();
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}

/// F16: 100 WebSocket clients, then the server restarts (`/_fault/restart`: every session
/// forgotten, every connection dropped). Each client's first retry is drawn with full jitter in
/// [1, 100] ms (attempt 1: `reconnect_delay_ms` 100), so: the 100 delays cover at least 8 of the
/// ten 10 ms slices of the window and span ≥ 60 ms (both fail if jitter were removed: 100 equal
/// delays); every client reopens no earlier than its delay; the reopen times span ≥ 50 ms (not a
/// single instant) and follow the drawn delays (rank correlation ≥ 0.5, not an order imposed by
/// something else). All 100 close at the end and every resource is released.
#[wasm_bindgen_test]
async fn a_restart_with_100_clients_spreads_their_reconnects_over_the_jitter_window() {
    const N: usize = 100;
    fault("recover").await;
    for _ in 0..500 {
        if live_counts().requests == 0 {
            break;
        }
        sleep(10).await;
    }
    let before = live_counts();
    let clients: Vec<(Client, Recorder)> = (0..N)
        .map(|_| client_with(UrlSource::Fixed(base()), test_config()))
        .collect();
    for (i, (_, rec)) in clients.iter().enumerate() {
        assert!(
            rec.wait(15_000.0, |r| r.opens() == 1).await,
            "client {i} never opened: {}",
            rec.dump()
        );
    }
    // Past the minimum uptime, so every retry counter starts over at 1.
    sleep(1_100).await;
    let restart_at = now();
    fault("restart").await;
    for (i, (_, rec)) in clients.iter().enumerate() {
        assert!(
            rec.wait(10_000.0, |r| r.opens() == 2).await,
            "client {i} never reopened: {}",
            rec.dump()
        );
    }
    // Per client: its first retry's delay, when that retry was due, when it reopened (all from
    // the restart).
    let mut delays = Vec::new();
    let mut due = Vec::new();
    let mut reopened = Vec::new();
    let mut retries = 0;
    for (i, (_, rec)) in clients.iter().enumerate() {
        let events = rec.0.borrow();
        let first_open = events
            .iter()
            .position(|(_, e)| matches!(e, Event::Open { .. }))
            .unwrap();
        let (dropped, delay) = events
            .iter()
            .skip(first_open)
            .find_map(|(t, e)| match e {
                Event::Reconnecting {
                    attempt, delay_ms, ..
                } => {
                    assert_eq!(*attempt, 1, "client {i}: {events:#?}");
                    Some((*t, *delay_ms as f64))
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("client {i}: no reconnecting: {events:#?}"));
        let open = events
            .iter()
            .skip(first_open + 1)
            .find(|(_, e)| matches!(e, Event::Open { .. }))
            .unwrap()
            .0;
        retries += events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Reconnecting { .. }))
            .count()
            - 1;
        assert!(
            open >= dropped + delay - 5.0,
            "client {i} reopened before its delay: {events:#?}"
        );
        delays.push(delay);
        due.push(dropped + delay - restart_at);
        reopened.push(open - restart_at);
    }
    let span = |xs: &[f64]| {
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        (
            v[0],
            v[v.len() / 10],
            v[v.len() / 2],
            v[v.len() * 9 / 10],
            v[v.len() - 1],
        )
    };
    let (dmin, _, dmed, _, dmax) = span(&delays);
    let mut slices = [0usize; 10];
    for d in &delays {
        slices[((*d as usize).saturating_sub(1) / 10).min(9)] += 1;
    }
    let (rmin, r10, rmed, r90, rmax) = span(&reopened);
    let rho = spearman(&due, &reopened);
    web_sys::console::log_1(
        &format!(
            "MEASURED restart with {N} clients: first delays {dmin:.0}–{dmax:.0} ms (median \
             {dmed:.0}) per 10 ms slice {slices:?}; reopened after the restart min {rmin:.0} \
             p10 {r10:.0} median {rmed:.0} p90 {r90:.0} max {rmax:.0} ms; rank correlation of \
             reopen time with due time {rho:.2}; extra retries {retries}"
        )
        .into(),
    );
    assert!(
        delays.iter().all(|d| (1.0..=100.0).contains(d)),
        "{delays:?}"
    );
    assert!(
        slices.iter().filter(|n| **n > 0).count() >= 8,
        "jitter does not cover the window: {slices:?}"
    );
    assert!(dmax - dmin >= 60.0, "delays {dmin}–{dmax}");
    assert!(rmax - rmin >= 50.0, "reopened within {} ms", rmax - rmin);
    assert!(rho >= 0.5, "reopen order does not follow the jitter: {rho}");
    for (c, _) in &clients {
        c.close(1000, "done").unwrap();
    }
    drop(clients);
    let mut after = live_counts();
    for _ in 0..500 {
        if after == before {
            break;
        }
        sleep(10).await;
        after = live_counts();
    }
    assert_eq!(after, before, "the 100 clients left resources behind");
}
