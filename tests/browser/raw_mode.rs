//! Raw mode against a plain WebSocket echo endpoint: no envelope, optional heartbeat.

use crate::util::*;
use holdfast::config::{Config, Protocol, RawHeartbeat};
use holdfast::core::Payload;
use holdfast::web::UrlSource;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
async fn raw_mode_echoes_and_swallows_heartbeat_replies() {
    fault("recover").await;
    let url = format!("{}/raw", base()).replacen("http", "ws", 1);
    let config = Config {
        protocol: Protocol::Raw(Some(RawHeartbeat {
            // The echo server answers the ping with itself.
            ping: Some("__hb__".into()),
            pong: Some("__hb__".into()),
        })),
        ..test_config()
    };
    let (c, rec) = client_with(UrlSource::Fixed(url), config);
    assert!(
        rec.wait(5_000.0, |r| r.opens() == 1).await,
        "{}",
        rec.dump()
    );
    c.send(text("plain"));
    c.send(Payload::Binary(vec![7, 8]));
    // Let a few heartbeats go by (interval 500 ms).
    sleep(1_500).await;
    assert_eq!(
        rec.messages(),
        vec![text("plain"), Payload::Binary(vec![7, 8])]
    );
    assert!(c.stats().rtt_ms.is_some(), "heartbeat reply not matched");
    assert_eq!(rec.opens(), 1);
    c.close(1000, "done").unwrap();
}
