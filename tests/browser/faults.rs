//! Recovery from server faults: dropped connections, a silent (half-open) server, downtime.

use crate::util::*;
use holdfast::core::{Event, SendOutcome};
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
async fn dropped_connections_reconnect_and_deliver_what_was_sent_meanwhile() {
    fault("recover").await;
    let (c, rec) = client();
    assert!(rec.wait(5_000.0, |r| r.opens() == 1).await);
    fault("drop").await;
    assert!(
        rec.wait(3_000.0, |r| r
            .count(|e| matches!(e, Event::Reconnecting { .. }))
            >= 1)
            .await,
        "{}",
        rec.dump()
    );
    assert_eq!(c.send(text("during-1")), SendOutcome::Queued);
    assert_eq!(c.send(text("during-2")), SendOutcome::Queued);
    assert!(
        rec.wait(5_000.0, |r| r.opens() == 2).await,
        "{}",
        rec.dump()
    );
    assert!(
        rec.wait(3_000.0, |r| r.messages().len() == 2).await,
        "{}",
        rec.dump()
    );
    assert_eq!(rec.messages(), vec![text("during-1"), text("during-2")]);
    c.close(1000, "done").unwrap();
}

#[wasm_bindgen_test]
async fn silent_server_is_declared_dead_within_the_window_and_reconnected_after_recovery() {
    fault("recover").await;
    let (c, rec) = client();
    assert!(rec.wait(5_000.0, |r| r.opens() == 1).await);
    sleep(300).await;
    let from = rec.len();
    let t0 = now();
    fault("silent").await;
    assert!(
        rec.wait(6_000.0, |r| r.count(is_dead_link) >= 1).await,
        "{}",
        rec.dump()
    );
    let detected = rec.time_of(from, is_dead_link).unwrap() - t0;
    report("dead-link detection after server went silent", detected);
    // The client's dead window is heartbeatTimeoutMs = 2500 ms after the last inbound byte,
    // which was at or before t0; allow 300 ms for timer and event-loop latency.
    assert!(
        detected <= 2_800.0,
        "dead link detected after {detected} ms"
    );
    assert_eq!(rec.opens(), 1, "reopened while the server is silent");
    let t1 = now();
    fault("recover").await;
    assert!(
        rec.wait(6_000.0, |r| r.opens() == 2).await,
        "{}",
        rec.dump()
    );
    let reopened = rec
        .time_of(from, |e| matches!(e, Event::Open { .. }))
        .unwrap()
        - t1;
    report("reconnect after silent server recovered", reopened);
    // Attempts made while silent hang until their 2 s connect deadline; then ≤ 1 s backoff.
    assert!(
        reopened <= 3_500.0,
        "reconnected {reopened} ms after recovery"
    );
    c.close(1000, "done").unwrap();
}

#[wasm_bindgen_test]
async fn server_down_for_two_seconds_reconnects_within_max_backoff_after_it_is_back() {
    fault("recover").await;
    let (c, rec) = client();
    assert!(rec.wait(5_000.0, |r| r.opens() == 1).await);
    let from = rec.len();
    let t0 = now();
    fault("down?ms=2000").await;
    assert!(
        rec.wait(5_000.0, |r| r.opens() == 2).await,
        "{}",
        rec.dump()
    );
    let back = t0 + 2_000.0;
    let reopened = rec
        .time_of(from, |e| matches!(e, Event::Open { .. }))
        .unwrap();
    let attempts_while_down = rec.count(|e| matches!(e, Event::Reconnecting { .. }));
    report(
        "reconnect after server was back (down 2 s)",
        reopened - back,
    );
    assert!(reopened >= back - 50.0, "opened while the server was down");
    // Max backoff is 1000 ms; allow 300 ms for the handshake and scheduling.
    assert!(
        reopened - back <= 1_300.0,
        "reopened {} ms after the server was back",
        reopened - back
    );
    assert!(
        attempts_while_down <= 12,
        "{attempts_while_down} attempts in 2 s: not backing off"
    );
    c.close(1000, "done").unwrap();
}
