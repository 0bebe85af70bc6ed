//! The `/_fault/*` controls: what open connections and new connections see under each fault.

mod common;

use common::*;
use holdfast::protocol::Frame;
use holdfast_server::ServerConfig;
use std::time::Duration;
use tokio::time::timeout;

async fn fault(server: &Server, route: &str) {
    let (status, head, body) = server.http("POST", route).await;
    assert_eq!(status, 200, "{route}: {head}");
    assert_eq!(body, "ok");
}

/// A connect attempt that never completes (the upgrade is never answered).
async fn assert_connect_hangs(server: &Server) {
    let attempt = tokio_tungstenite::connect_async(server.ws_url());
    assert!(
        timeout(Duration::from_millis(500), attempt).await.is_err(),
        "the upgrade should hang"
    );
}

#[tokio::test]
async fn fault_routes_answer_with_permissive_cors() {
    let server = start(ServerConfig::test_profile()).await;
    let (status, head, body) = server.http("POST", "/_fault/recover").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    let (status, _, body) = server.http("GET", "/_fault/recover").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    let (status, head, body) = server.http("GET", "/_fault/stats").await;
    assert_eq!(status, 200);
    assert!(head.contains("application/json"), "{head}");
    assert_eq!(
        body,
        r#"{"sessions":0,"connections":0,"handshakes":0,"attached":0,"streams":0,"polls":0,"posts":0,"poll_overlaps":0}"#
    );
}

#[tokio::test]
async fn fault_routes_are_absent_unless_enabled() {
    let server = start(ServerConfig::default()).await;
    let (status, _, _) = server.http("POST", "/_fault/drop").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn drop_closes_every_open_connection_without_a_close_frame_and_sessions_wait() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut a, _) = server.client().await;
    let (mut b, _) = server.client().await;
    let (mut raw, _) = tokio_tungstenite::connect_async(server.raw_url())
        .await
        .unwrap();
    fault(&server, "/_fault/drop").await;
    expect_dropped(&mut a).await;
    expect_dropped(&mut b).await;
    expect_dropped(&mut raw).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The sessions outlive their connections: detached, waiting for a resume.
    let s = stats(&server).await;
    assert_eq!(
        (s.sessions, s.attached, s.connections, s.handshakes),
        (2, 0, 0, 2)
    );
    // New connections work at once.
    server.client().await;
    assert_eq!(stats(&server).await.handshakes, 3);
}

#[tokio::test]
async fn refuse_ws_answers_403_on_both_endpoints_until_recover() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut open, _) = server.client().await;
    fault(&server, "/_fault/refuse-ws").await;
    for url in [server.ws_url(), server.raw_url()] {
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
            Err(other) => panic!("expected 403, got {other}"),
            Ok(_) => panic!("expected 403, the upgrade succeeded"),
        }
    }
    // Open connections are not affected.
    send(&mut open, &Frame::Ping { id: 1 }).await;
    assert_eq!(expect_frame(&mut open).await, Frame::Pong { id: 1 });
    fault(&server, "/_fault/accept-ws").await;
    server.client().await;
    fault(&server, "/_fault/refuse-ws").await;
    fault(&server, "/_fault/recover").await;
    server.client().await;
}

#[tokio::test]
async fn down_drops_open_connections_and_refuses_new_ones_for_n_ms() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut open, _) = server.client().await;
    fault(&server, "/_fault/down?ms=700").await;
    let started = std::time::Instant::now();
    expect_dropped(&mut open).await;
    let attempt = timeout(PROMPT, tokio_tungstenite::connect_async(server.ws_url()))
        .await
        .expect("a refused connection fails fast, it does not hang");
    match attempt {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            panic!("expected no HTTP answer, got {}", r.status())
        }
        Err(_) => {}
        Ok(_) => panic!("the upgrade should fail while down"),
    }
    assert!(started.elapsed() < Duration::from_millis(600));
    // The fault routes keep working while down; the dropped connection's session waits.
    let s = stats(&server).await;
    assert_eq!((s.sessions, s.attached), (1, 0));
    tokio::time::sleep(Duration::from_millis(800).saturating_sub(started.elapsed())).await;
    server.client().await;
}

#[tokio::test]
async fn recover_ends_down_early() {
    let server = start(ServerConfig::test_profile()).await;
    fault(&server, "/_fault/down?ms=60000").await;
    assert!(tokio_tungstenite::connect_async(server.ws_url())
        .await
        .is_err());
    fault(&server, "/_fault/recover").await;
    server.client().await;
}

#[tokio::test]
async fn down_with_a_bad_duration_is_a_bad_request() {
    let server = start(ServerConfig::test_profile()).await;
    let (status, _, _) = server.http("POST", "/_fault/down?ms=soon").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn silent_stops_traffic_both_ways_and_recover_drops_the_parked_connections() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut open, _) = server.client().await;
    fault(&server, "/_fault/silent").await;
    send(&mut open, &Frame::Ping { id: 3 }).await;
    // No PONG, no server PING, no idle close: nothing at all, and the socket stays open.
    match next(&mut open, Duration::from_millis(1_500)).await {
        Seen::Nothing => {}
        other => panic!("expected silence, saw {other:?}"),
    }
    assert_connect_hangs(&server).await;
    let s = stats(&server).await;
    assert_eq!(
        (s.sessions, s.attached),
        (1, 1),
        "the fault routes keep working; a parked connection still counts as attached"
    );
    fault(&server, "/_fault/recover").await;
    expect_dropped(&mut open).await;
    server.client().await;
}

#[tokio::test]
async fn hold_leaves_new_connections_unanswered_until_recover() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut open, _) = server.client().await;
    fault(&server, "/_fault/hold").await;
    let url = server.ws_url();
    let pending = tokio::spawn(async move { tokio_tungstenite::connect_async(url).await.is_ok() });
    assert_connect_hangs(&server).await;
    // Open connections are not affected.
    send(&mut open, &Frame::Ping { id: 4 }).await;
    assert_eq!(expect_frame(&mut open).await, Frame::Pong { id: 4 });
    fault(&server, "/_fault/recover").await;
    let completed = timeout(PROMPT, pending).await.unwrap().unwrap();
    assert!(
        !completed,
        "a held upgrade is dropped on recover, never completed"
    );
    server.client().await;
}

#[tokio::test]
async fn unhold_releases_hold_only() {
    let server = start(ServerConfig::test_profile()).await;
    fault(&server, "/_fault/hold").await;
    assert_connect_hangs(&server).await;
    fault(&server, "/_fault/unhold").await;
    server.client().await;
}

#[tokio::test]
async fn stats_count_handshakes_as_connection_attempts() {
    let server = start(ServerConfig::test_profile()).await;
    for _ in 0..3 {
        let (mut ws, _) = server.client().await;
        send(&mut ws, &Frame::Ping { id: 1 }).await;
        expect_frame(&mut ws).await;
    }
    assert_eq!(stats(&server).await.handshakes, 3);
    assert_eq!(server.handle.stats().handshakes, 3);
}
