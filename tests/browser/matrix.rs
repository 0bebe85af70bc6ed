//! Fault-matrix rows that had no browser test (TESTING.md, "Fault matrix (generated)").

use crate::util::*;
use holdfast::core::Event;
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
