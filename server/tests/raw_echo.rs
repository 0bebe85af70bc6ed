//! The raw WebSocket echo endpoint: no envelope, messages come back unchanged.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use holdfast_server::ServerConfig;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

async fn next_data(ws: &mut Ws) -> Message {
    loop {
        let msg = timeout(PROMPT, ws.next()).await.unwrap().unwrap().unwrap();
        if !matches!(msg, Message::Ping(_) | Message::Pong(_)) {
            return msg;
        }
    }
}

#[tokio::test]
async fn raw_text_and_binary_are_echoed_unchanged() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(server.raw_url())
        .await
        .unwrap();
    ws.send(Message::text("plain text, no frame"))
        .await
        .unwrap();
    ws.send(Message::binary(vec![0x03, 0x01, b'h', b'i']))
        .await
        .unwrap();
    assert_eq!(
        next_data(&mut ws).await,
        Message::text("plain text, no frame")
    );
    assert_eq!(
        next_data(&mut ws).await,
        Message::binary(vec![0x03, 0x01, b'h', b'i'])
    );
    // Raw connections are not protocol sessions.
    let s = stats(&server).await;
    assert_eq!((s.sessions, s.connections, s.handshakes), (0, 1, 0));
}

#[tokio::test]
async fn raw_connections_close_normally() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(server.raw_url())
        .await
        .unwrap();
    ws.close(None).await.unwrap();
    while let Ok(Some(Ok(_))) = timeout(PROMPT, ws.next()).await {}
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(stats(&server).await.connections, 0);
}
