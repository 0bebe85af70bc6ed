//! The Origin allow-list. The protocol endpoint accepts the upgrade and refuses over the socket
//! (ERROR 6, CLOSE 1008: browsers hide an upgrade's HTTP status, and the client must learn the
//! refusal is final); the raw echo endpoint answers 403 before the upgrade.

mod common;

use common::*;
use holdfast::protocol::{ErrorCode, Frame};
use holdfast_server::{OriginPolicy, ServerConfig};
use tokio_tungstenite::tungstenite::Error;

fn assert_http_forbidden(result: Result<Ws, Error>) {
    match result {
        Err(Error::Http(response)) => assert_eq!(response.status(), 403),
        Err(other) => panic!("expected HTTP 403, got {other}"),
        Ok(_) => panic!("expected HTTP 403, the upgrade succeeded"),
    }
}

/// ERROR 6 then CLOSE 1008 over an accepted upgrade, then the WebSocket close 1008.
async fn assert_refused_over_the_socket(result: Result<Ws, Error>) {
    let mut ws = result.expect("the upgrade is accepted so the refusal can be read");
    match next(&mut ws, PROMPT).await {
        Seen::Frame(Frame::Error(e)) => {
            assert_eq!(e.code, ErrorCode::Forbidden);
            assert_eq!(e.message, "origin not allowed");
        }
        other => panic!("expected ERROR 6, saw {other:?}"),
    }
    assert_eq!(expect_close(&mut ws, 1008).await, "origin not allowed");
}

#[tokio::test]
async fn a_foreign_page_gets_error_6_and_close_1008_over_an_accepted_upgrade() {
    let server = start(ServerConfig::test_profile()).await;
    assert_refused_over_the_socket(
        connect_with_origin(&server.ws_url(), "http://evil.example").await,
    )
    .await;
    // Even a page that sends HELLO at once gets nothing but the refusal and no session.
    let mut ws = connect_with_origin(&server.ws_url(), "http://127.0.0.1.evil.example")
        .await
        .unwrap();
    send(&mut ws, &hello(None)).await;
    assert_refused_over_the_socket(Ok(ws)).await;
    let s = stats(&server).await;
    assert_eq!((s.sessions, s.handshakes), (0, 0), "no session was created");
}

#[tokio::test]
async fn the_raw_endpoint_answers_403_to_a_foreign_page() {
    let server = start(ServerConfig::test_profile()).await;
    assert_http_forbidden(connect_with_origin(&server.raw_url(), "http://evil.example").await);
}

#[tokio::test]
async fn loopback_policy_accepts_local_pages_and_clients_without_origin() {
    let server = start(ServerConfig::test_profile()).await;
    let mut ws = connect_with_origin(&server.ws_url(), "http://127.0.0.1:9999")
        .await
        .unwrap();
    handshake(&mut ws).await;
    connect_with_origin(&server.raw_url(), "http://localhost:3000")
        .await
        .unwrap();
    server.client().await; // no Origin header at all
}

#[tokio::test]
async fn list_policy_accepts_exactly_the_listed_origins() {
    let config = ServerConfig {
        allowed_origins: OriginPolicy::List(vec!["https://app.example".into()]),
        ..ServerConfig::test_profile()
    };
    let server = start(config).await;
    let mut ws = connect_with_origin(&server.ws_url(), "https://app.example")
        .await
        .unwrap();
    handshake(&mut ws).await;
    assert_refused_over_the_socket(
        connect_with_origin(&server.ws_url(), "http://127.0.0.1:8080").await,
    )
    .await;
}

#[tokio::test]
async fn any_policy_accepts_everyone() {
    let config = ServerConfig {
        allowed_origins: OriginPolicy::Any,
        ..ServerConfig::test_profile()
    };
    let server = start(config).await;
    let mut ws = connect_with_origin(&server.ws_url(), "http://evil.example")
        .await
        .unwrap();
    handshake(&mut ws).await;
}
