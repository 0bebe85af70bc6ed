//! 200 forced reconnects leave no growth in live sockets, listeners or timers.

use crate::util::*;
use holdfast::config::Config;
use holdfast::web::{live_counts, UrlSource};
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
async fn two_hundred_forced_reconnects_leak_nothing() {
    fault("recover").await;
    let before = live_counts();
    let config = Config {
        reconnect_delay_ms: 1,
        reconnect_max_delay_ms: 20,
        ..test_config()
    };
    let (c, rec) = client_with(UrlSource::Fixed(base()), config);
    assert!(rec.wait(5_000.0, |r| r.opens() == 1).await);
    let open_counts = live_counts();
    assert_eq!(open_counts.sockets - before.sockets, 1);
    assert_eq!(open_counts.clients - before.clients, 1);
    for i in 2..=201 {
        fault("drop").await;
        // Firefox delays WebSocket reconnects to a host after abnormal closes; a delayed attempt
        // hits the 2 s connect deadline and is retried, so allow several deadlines.
        assert!(
            rec.wait(15_000.0, |r| r.opens() == i).await,
            "reconnect {i}: {}",
            rec.dump()
        );
        let now_counts = live_counts();
        assert_eq!(
            now_counts.sockets, open_counts.sockets,
            "sockets grew at {i}"
        );
        assert_eq!(
            now_counts.listeners, open_counts.listeners,
            "listeners grew at {i}"
        );
        assert!(
            now_counts.timers <= before.timers + 1,
            "timers grew at {i}: {now_counts:?}"
        );
    }
    assert_eq!(c.stats().reconnects, 200);
    c.close(1000, "done").unwrap();
    let closed = live_counts();
    assert_eq!(closed.sockets, before.sockets, "socket left after close");
    assert_eq!(
        closed.listeners, before.listeners,
        "listener left after close"
    );
    assert_eq!(closed.timers, before.timers, "timer left after close");
    drop(c);
    assert_eq!(live_counts().clients, before.clients, "client state leaked");
}
