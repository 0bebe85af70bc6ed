//! HELLO → WELCOME, version negotiation, and what happens when the handshake goes wrong.

mod common;

use common::*;
use holdfast::protocol::{is_valid_session_id, ErrorCode, Frame, Hello, ResumeOutcome};
use holdfast_server::ServerConfig;
use std::time::Duration;

#[tokio::test]
async fn welcome_carries_a_fresh_session_and_the_servers_timers_and_limits() {
    let server = start(ServerConfig::test_profile()).await;
    let (_ws, welcome) = server.client().await;
    assert_eq!(welcome.version, 1);
    assert!(is_valid_session_id(&welcome.session));
    assert_eq!(welcome.session.len(), 22);
    assert_eq!(welcome.resume, ResumeOutcome::New);
    assert_eq!(welcome.ack, 0);
    assert_eq!(welcome.ping_interval_ms, 1_000);
    assert_eq!(welcome.idle_timeout_ms, 2_500);
    assert_eq!(welcome.max_message_bytes, 1024 * 1024);
    let s = stats(&server).await;
    assert_eq!(
        (s.sessions, s.attached, s.connections, s.handshakes),
        (1, 1, 1, 1)
    );
}

#[tokio::test]
async fn every_connection_gets_its_own_session_id() {
    let server = start(ServerConfig::test_profile()).await;
    let (_a, first) = server.client().await;
    let (_b, second) = server.client().await;
    assert_ne!(first.session, second.session);
    assert_eq!(server.handle.hub().session_count(), 2);
}

#[tokio::test]
async fn asking_to_resume_an_unknown_session_gets_a_new_one_marked_failed() {
    let server = start(ServerConfig::test_profile()).await;
    let mut ws = server.connect().await;
    send(&mut ws, &hello(Some("old-session_42"))).await;
    match expect_frame(&mut ws).await {
        Frame::Welcome(welcome) => {
            assert_eq!(welcome.resume, ResumeOutcome::Failed);
            assert_ne!(welcome.session, "old-session_42");
            assert_eq!(welcome.ack, 0);
        }
        other => panic!("expected WELCOME, got {other:?}"),
    }
}

#[tokio::test]
async fn a_version_range_without_1_gets_error_2_and_close_1002() {
    let server = start(ServerConfig::test_profile()).await;
    let mut ws = server.connect().await;
    let hello = Frame::Hello(Hello {
        min_version: 2,
        max_version: 5,
        session: None,
        last_seq: 0,
        probe: false,
    });
    send(&mut ws, &hello).await;
    match expect_frame(&mut ws).await {
        Frame::Error(e) => assert_eq!(e.code, ErrorCode::VersionUnsupported),
        other => panic!("expected ERROR 2, got {other:?}"),
    }
    expect_close(&mut ws, 1002).await;
    assert_eq!(stats(&server).await.handshakes, 0, "no WELCOME was sent");
}

#[tokio::test]
async fn a_range_that_includes_1_is_accepted() {
    let server = start(ServerConfig::test_profile()).await;
    let mut ws = server.connect().await;
    let hello = Frame::Hello(Hello {
        min_version: 0,
        max_version: 9,
        session: None,
        last_seq: 0,
        probe: false,
    });
    send(&mut ws, &hello).await;
    match expect_frame(&mut ws).await {
        Frame::Welcome(welcome) => assert_eq!(welcome.version, 1),
        other => panic!("expected WELCOME, got {other:?}"),
    }
}

#[tokio::test]
async fn a_first_frame_other_than_hello_gets_error_1_and_close() {
    let server = start(ServerConfig::test_profile()).await;
    let mut ws = server.connect().await;
    send(&mut ws, &Frame::Ping { id: 1 }).await;
    match expect_frame(&mut ws).await {
        Frame::Error(e) => assert_eq!(e.code, ErrorCode::BadFrame),
        other => panic!("expected ERROR 1, got {other:?}"),
    }
    expect_close(&mut ws, 1002).await;
}

#[tokio::test]
async fn a_malformed_first_frame_gets_error_1_and_close() {
    let server = start(ServerConfig::test_profile()).await;
    let mut ws = server.connect().await;
    send_bytes(&mut ws, vec![0x01, 0x01]).await; // HELLO cut short
    match expect_frame(&mut ws).await {
        Frame::Error(e) => assert_eq!(e.code, ErrorCode::BadFrame),
        other => panic!("expected ERROR 1, got {other:?}"),
    }
    expect_close(&mut ws, 1002).await;
}

#[tokio::test]
async fn no_hello_within_the_handshake_timeout_closes_the_connection() {
    let config = ServerConfig {
        handshake_timeout_ms: 300,
        ..ServerConfig::test_profile()
    };
    let server = start(config).await;
    let mut ws = server.connect().await;
    let started = std::time::Instant::now();
    let reason = expect_close(&mut ws, 1002).await;
    assert_eq!(reason, "handshake timeout");
    assert!(started.elapsed() < Duration::from_secs(2));
}
