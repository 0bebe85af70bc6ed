//! Feature `serde`: a Rust app reads its `Config` from a file. Missing fields take their
//! defaults, unknown ones are refused, and what is read round-trips. Run by `make test` with
//! `cargo test -p holdfast --features serde --test config_serde`.
#![cfg(feature = "serde")]

use holdfast::config::{Config, OverflowPolicy, Protocol, RawHeartbeat, TransportKind};

#[test]
fn a_partial_config_takes_the_defaults_for_the_rest() {
    let c: Config = serde_json::from_str(
        r#"{ "transports": ["sse", "long-polling"], "heartbeat_interval_ms": 5000,
             "overflow": "drop-oldest", "connect_timeouts": [null, 3000, null, null] }"#,
    )
    .unwrap();
    assert_eq!(
        c.transports,
        [TransportKind::Sse, TransportKind::LongPolling]
    );
    assert_eq!(c.heartbeat_interval_ms, 5000);
    assert_eq!(c.overflow, OverflowPolicy::DropOldest);
    assert_eq!(c.connect_timeout_for(TransportKind::Sse), 3000);
    let d = Config::default();
    assert_eq!(c.heartbeat_timeout_ms, d.heartbeat_timeout_ms);
    assert_eq!(c.queue_max_messages, d.queue_max_messages);
    c.validate().unwrap();
}

#[test]
fn unknown_fields_and_bad_values_are_refused() {
    let typo = serde_json::from_str::<Config>(r#"{ "heartbeat_interval": 5000 }"#);
    assert!(typo.unwrap_err().to_string().contains("heartbeat_interval"));
    assert!(serde_json::from_str::<Config>(r#"{ "transports": ["carrier-pigeon"] }"#).is_err());
    assert!(serde_json::from_str::<Config>(r#"{ "overflow": "sometimes" }"#).is_err());
}

#[test]
fn a_config_round_trips() {
    let c = Config {
        protocol: Protocol::Raw(Some(RawHeartbeat {
            ping: Some("ping".into()),
            pong: None,
        })),
        transports: vec![TransportKind::WebSocket],
        max_attempts: Some(7),
        ..Config::default()
    };
    let text = serde_json::to_string(&c).unwrap();
    assert!(text.contains(r#""transports":["websocket"]"#), "{text}");
    let back: Config = serde_json::from_str(&text).unwrap();
    assert_eq!(back, c);
}
