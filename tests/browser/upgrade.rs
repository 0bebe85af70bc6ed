//! Upgrade back in the real browser (PROTOCOL.md §4 "Probes", §9): a session that had to fall
//! back moves up to WebSocket once it works again, while numbered messages flow both ways, with
//! nothing lost or duplicated; a probe into a WebSocket that is still broken leaves the session
//! alone.

use crate::sessions::{numbered, server_tally, user_agent};
use crate::util::*;
use holdfast::config::{Config, TransportKind};
use holdfast::core::{DisconnectReason, Event};
use holdfast::web::UrlSource;
use wasm_bindgen_test::wasm_bindgen_test;
use TransportKind::*;

const N: usize = 1_000;

fn upgrading() -> Config {
    roomy(
        Config {
            transports: TransportKind::ALL.to_vec(),
            upgrade_probe_ms: 500,
            upgrade_probe_max_ms: 2_000,
            ..test_config()
        },
        N,
    )
}

fn upgraded_at(rec: &Recorder) -> Option<f64> {
    rec.time_of(0, |e| {
        matches!(
            e,
            Event::Transport {
                to: WebSocket,
                reason: DisconnectReason::Upgrade,
                ..
            }
        )
    })
}

/// Opens with `blocks` on (so on `expect`), streams N numbered messages each way, lifts the
/// blocks half-way, and checks the session moved up to WebSocket with every message once.
async fn upgrade_from(blocks: &[&str], expect: TransportKind) {
    fault("recover").await;
    for b in blocks {
        fault(b).await;
    }
    let (c, rec) = opened_client(UrlSource::Fixed(base()), upgrading()).await;
    assert_eq!(c.transport(), Some(expect), "{}", rec.dump());
    let mut lifted_at = None;
    for i in 0..N {
        c.send(text(&format!("n:{i}")));
        if i % 10 == 9 {
            sleep(20).await;
        }
        if i == N / 4 {
            fault("recover").await; // WebSocket (and SSE) work again
            lifted_at = Some(now());
        }
    }
    assert!(
        rec.wait(20_000.0, |r| numbered(r, "n:").len() >= N).await,
        "{}",
        rec.dump()
    );
    assert!(
        rec.wait(10_000.0, |r| upgraded_at(r).is_some()).await,
        "never upgraded: {}",
        rec.dump()
    );
    let took = upgraded_at(&rec).unwrap() - lifted_at.unwrap();
    assert_eq!(
        numbered(&rec, "n:"),
        (0..N).collect::<Vec<_>>(),
        "once, in order"
    );
    assert_eq!(server_tally(&c, &rec).await, (N, 0, 0), "at the server");
    assert_eq!(c.transport(), Some(WebSocket));
    assert_eq!(
        rec.opens(),
        1,
        "an upgrade is not a reconnect: {}",
        rec.dump()
    );
    // Within the probe schedule: the wait had backed off to at most 2 s, plus the probe's own
    // round trip.
    assert!(
        took < 3_500.0,
        "upgrade took {took} ms after the block was lifted"
    );
    report(
        &format!("upgrade {expect} → websocket after the block was lifted"),
        took,
    );
    web_sys::console::log_1(
        &format!(
            "UPGRADE {expect} → websocket {}: {N} each way, 0 lost, 0 duplicated, {} probes",
            user_agent(),
            c.stats().probes
        )
        .into(),
    );
    c.close(1000, "done").unwrap();
}

#[wasm_bindgen_test]
async fn a_session_on_sse_moves_up_to_websocket_when_it_works_again() {
    upgrade_from(&["refuse-ws"], Sse).await;
}

#[wasm_bindgen_test]
async fn a_session_on_long_polling_moves_up_to_websocket_when_it_works_again() {
    upgrade_from(&["refuse-ws", "refuse-sse"], LongPolling).await;
}

#[wasm_bindgen_test]
async fn a_probe_into_a_still_broken_websocket_leaves_the_session_untouched() {
    fault("recover").await;
    // Through the proxy, upgrades go through and then every frame is dropped: the nastiest
    // broken WebSocket, which only the probe's round trip can tell from a working one.
    proxy("drop-after-upgrade").await;
    let (c, rec) = opened_client(UrlSource::Fixed(proxied_base()), upgrading()).await;
    assert_eq!(c.transport(), Some(Sse), "{}", rec.dump());
    for i in 0..100 {
        c.send(text(&format!("n:{i}")));
        sleep(50).await;
    }
    assert!(rec.wait(5_000.0, |r| numbered(r, "n:").len() >= 100).await);
    assert_eq!(numbered(&rec, "n:"), (0..100).collect::<Vec<_>>());
    let probes = c.stats().probes;
    assert!(probes >= 2, "only {probes} probes in 5 s");
    assert_eq!(c.transport(), Some(Sse));
    assert_eq!(rec.opens(), 1, "{}", rec.dump());
    assert_eq!(
        rec.count(|e| matches!(e, Event::Reconnecting { .. } | Event::Gap { .. })),
        0,
        "the session was disturbed: {}",
        rec.dump()
    );
    assert!(upgraded_at(&rec).is_none());
    c.close(1000, "done").unwrap();
    proxy("pass").await;
}
