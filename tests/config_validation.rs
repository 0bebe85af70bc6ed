//! Option validation: every error names the option; defaults are documented and valid.
#![cfg(not(target_arch = "wasm32"))]

use holdfast::config::{Config, Protocol, RawHeartbeat, TransportKind};
use holdfast::core::Machine;

fn invalid(c: Config) -> &'static str {
    c.validate().unwrap_err().option
}

#[test]
fn defaults_are_valid_and_detect_a_dead_link_within_ten_seconds() {
    let c = Config::default();
    assert_eq!(c.validate(), Ok(()));
    assert!(c.heartbeat_timeout_ms <= 10_000);
    // The full chain (product spec §3), each rung with the shared connect deadline.
    assert_eq!(c.transports, TransportKind::ALL.to_vec());
    for kind in TransportKind::ALL {
        assert_eq!(c.connect_timeout_for(kind), c.connect_timeout_ms);
    }
    assert!(c.poll_interval_ms < c.heartbeat_timeout_ms);
}

#[test]
fn per_transport_deadlines_override_the_shared_one() {
    let mut timeouts = [None; 4];
    timeouts[TransportKind::Sse.index()] = Some(1_500);
    let c = Config {
        connect_timeouts: timeouts,
        ..Config::default()
    };
    assert_eq!(c.validate(), Ok(()));
    assert_eq!(c.connect_timeout_for(TransportKind::Sse), 1_500);
    assert_eq!(c.connect_timeout_for(TransportKind::WebSocket), 5_000);
}

#[test]
fn each_bad_option_is_named() {
    let d = Config::default;
    assert_eq!(
        invalid(Config {
            transports: vec![],
            ..d()
        }),
        "transports"
    );
    assert_eq!(
        invalid(Config {
            transports: vec![TransportKind::Sse, TransportKind::Sse],
            ..d()
        }),
        "transports"
    );
    assert_eq!(
        invalid(Config {
            heartbeat_interval_ms: 0,
            ..d()
        }),
        "heartbeatIntervalMs"
    );
    assert_eq!(
        invalid(Config {
            heartbeat_interval_ms: 9_000,
            heartbeat_timeout_ms: 9_000,
            ..d()
        }),
        "heartbeatTimeoutMs"
    );
    assert_eq!(
        invalid(Config {
            connect_timeout_ms: 1 << 40,
            ..d()
        }),
        "connectTimeoutMs"
    );
    assert_eq!(
        invalid(Config {
            reconnect_delay_ms: 0,
            ..d()
        }),
        "reconnectDelayMs"
    );
    assert_eq!(
        invalid(Config {
            reconnect_delay_ms: 1_000,
            reconnect_max_delay_ms: 999,
            ..d()
        }),
        "reconnectMaxDelayMs"
    );
    assert_eq!(
        invalid(Config {
            reconnect_factor: f64::NAN,
            ..d()
        }),
        "reconnectFactor"
    );
    assert_eq!(
        invalid(Config {
            reconnect_factor: 0.5,
            ..d()
        }),
        "reconnectFactor"
    );
    assert_eq!(
        invalid(Config {
            queue_max_messages: 0,
            ..d()
        }),
        "queueMaxMessages"
    );
    assert_eq!(
        invalid(Config {
            queue_max_bytes: 0,
            ..d()
        }),
        "queueMaxBytes"
    );
    assert_eq!(
        invalid(Config {
            max_message_bytes: 0,
            ..d()
        }),
        "maxMessageBytes"
    );
    assert_eq!(
        invalid(Config {
            protocol: Protocol::Raw(Some(RawHeartbeat {
                ping: Some(String::new()),
                pong: None
            })),
            transports: vec![TransportKind::WebSocket],
            ..d()
        }),
        "rawHeartbeat.ping"
    );
    assert_eq!(
        invalid(Config {
            protocol: Protocol::Raw(None),
            transports: vec![TransportKind::Sse],
            ..d()
        }),
        "transports"
    );
    let mut timeouts = [None; 4];
    timeouts[TransportKind::Polling.index()] = Some(5);
    assert_eq!(
        invalid(Config {
            connect_timeouts: timeouts,
            ..d()
        }),
        "connectTimeouts.polling"
    );
    assert_eq!(
        invalid(Config {
            fallback_after_failures: 0,
            ..d()
        }),
        "fallbackAfterFailures"
    );
    assert_eq!(
        invalid(Config {
            poll_interval_ms: 8_000,
            ..d()
        }),
        "pollIntervalMs"
    );
}

#[test]
fn machine_refuses_an_invalid_config_and_the_message_names_the_option() {
    let err = Machine::new(
        Config {
            heartbeat_interval_ms: 5,
            ..Config::default()
        },
        1,
    )
    .unwrap_err();
    assert!(err.to_string().contains("heartbeatIntervalMs"), "{err}");
}

#[test]
fn transport_names_parse_and_print() {
    for t in [
        TransportKind::WebSocket,
        TransportKind::Sse,
        TransportKind::LongPolling,
        TransportKind::Polling,
    ] {
        assert_eq!(TransportKind::parse(t.name()), Some(t));
    }
    assert_eq!(TransportKind::parse("carrier-pigeon"), None);
}
