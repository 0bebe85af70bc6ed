//! Malformed, unknown, oversized and out-of-place input after the handshake.

mod common;

use common::*;
use futures_util::SinkExt;
use holdfast::protocol::{ErrorCode, Frame};
use holdfast_server::ServerConfig;
use tokio_tungstenite::tungstenite::Message;

async fn expect_bad_frame_error(ws: &mut Ws) {
    match expect_frame(ws).await {
        Frame::Error(e) => assert_eq!(e.code, ErrorCode::BadFrame),
        other => panic!("expected ERROR 1, got {other:?}"),
    }
}

/// The connection still works: a PING gets its PONG.
async fn still_alive(ws: &mut Ws, id: u64) {
    send(ws, &Frame::Ping { id }).await;
    assert_eq!(expect_frame(ws).await, Frame::Pong { id });
}

#[tokio::test]
async fn unknown_frame_types_are_ignored() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut ws, _) = server.client().await;
    send_bytes(&mut ws, vec![0x7f, 1, 2, 3]).await;
    send_bytes(&mut ws, vec![0x00]).await;
    still_alive(&mut ws, 5).await;
}

#[tokio::test]
async fn malformed_frames_get_error_1_and_the_connection_continues() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut ws, _) = server.client().await;
    for bad in [
        vec![0x05], // PING without its id
        vec![
            0x05, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ], // varint overflow
        vec![0x03, 0x01, 0xff, 0xfe], // TEXT that is not UTF-8
        vec![0x08, 0xe8, 0x07, 0x05, b'a'], // CLOSE reason longer than the frame
        vec![],     // empty message
    ] {
        send_bytes(&mut ws, bad).await;
        expect_bad_frame_error(&mut ws).await;
    }
    still_alive(&mut ws, 6).await;
}

#[tokio::test]
async fn text_websocket_messages_get_error_1_and_are_ignored() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut ws, _) = server.client().await;
    ws.send(Message::text("not a frame")).await.unwrap();
    expect_bad_frame_error(&mut ws).await;
    still_alive(&mut ws, 7).await;
}

#[tokio::test]
async fn a_second_hello_gets_error_1() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut ws, _) = server.client().await;
    send(&mut ws, &hello(None)).await;
    expect_bad_frame_error(&mut ws).await;
    still_alive(&mut ws, 8).await;
}

#[tokio::test]
async fn a_payload_over_the_limit_closes_with_1009() {
    let config = ServerConfig {
        max_message_bytes: 1024,
        ..ServerConfig::test_profile()
    };
    let server = start(config).await;
    let (mut ws, welcome) = server.client().await;
    assert_eq!(welcome.max_message_bytes, 1024);
    // Exactly at the limit is fine.
    send(
        &mut ws,
        &Frame::Binary {
            seq: 1,
            data: vec![7; 1024],
        },
    )
    .await;
    assert_eq!(
        expect_frame(&mut ws).await,
        Frame::Binary {
            seq: 1,
            data: vec![7; 1024]
        }
    );
    send(
        &mut ws,
        &Frame::Binary {
            seq: 2,
            data: vec![7; 1025],
        },
    )
    .await;
    expect_close(&mut ws, 1009).await;
}

#[tokio::test]
async fn a_default_sized_server_refuses_one_byte_over_1_mib() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut ws, _) = server.client().await;
    send(
        &mut ws,
        &Frame::Text {
            seq: 1,
            text: "x".repeat(1024 * 1024 + 1),
        },
    )
    .await;
    expect_close(&mut ws, 1009).await;
}
