//! The Origin allow-list on both WebSocket endpoints: 403 before the upgrade.

mod common;

use common::*;
use holdfast_server::{OriginPolicy, ServerConfig};
use tokio_tungstenite::tungstenite::Error;

fn assert_forbidden(result: Result<Ws, Error>) {
    match result {
        Err(Error::Http(response)) => assert_eq!(response.status(), 403),
        Err(other) => panic!("expected HTTP 403, got {other}"),
        Ok(_) => panic!("expected HTTP 403, the upgrade succeeded"),
    }
}

#[tokio::test]
async fn loopback_policy_refuses_foreign_pages_on_both_endpoints() {
    let server = start(ServerConfig::test_profile()).await;
    assert_forbidden(connect_with_origin(&server.ws_url(), "http://evil.example").await);
    assert_forbidden(connect_with_origin(&server.raw_url(), "http://evil.example").await);
    assert_forbidden(connect_with_origin(&server.ws_url(), "http://127.0.0.1.evil.example").await);
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
    connect_with_origin(&server.ws_url(), "https://app.example")
        .await
        .unwrap();
    assert_forbidden(connect_with_origin(&server.ws_url(), "http://127.0.0.1:8080").await);
}

#[tokio::test]
async fn any_policy_accepts_everyone() {
    let config = ServerConfig {
        allowed_origins: OriginPolicy::Any,
        ..ServerConfig::test_profile()
    };
    let server = start(config).await;
    connect_with_origin(&server.ws_url(), "http://evil.example")
        .await
        .unwrap();
}
