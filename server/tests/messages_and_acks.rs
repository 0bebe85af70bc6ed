//! Data frames: echo with sequence numbers, duplicates, acks, broadcast and app-initiated close.

mod common;

use common::*;
use holdfast::protocol::Frame;
use holdfast_server::ServerConfig;
use std::time::{Duration, Instant};

#[tokio::test]
async fn text_and_binary_are_echoed_numbered_from_1() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut ws, _) = server.client().await;
    send(&mut ws, &text(1, "hello")).await;
    send(
        &mut ws,
        &Frame::Binary {
            seq: 2,
            data: vec![0, 1, 2, 255],
        },
    )
    .await;
    send(&mut ws, &text(3, "ünïcödé")).await;
    assert_eq!(next_data(&mut ws).await, text(1, "hello"));
    assert_eq!(
        next_data(&mut ws).await,
        Frame::Binary {
            seq: 2,
            data: vec![0, 1, 2, 255]
        }
    );
    assert_eq!(next_data(&mut ws).await, text(3, "ünïcödé"));
}

#[tokio::test]
async fn duplicates_are_dropped_and_gaps_delivered() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut ws, _) = server.client().await;
    send(&mut ws, &text(1, "a")).await;
    send(&mut ws, &text(1, "a again")).await;
    send(&mut ws, &text(0, "zero")).await;
    send(&mut ws, &text(2, "b")).await;
    send(&mut ws, &text(5, "after a gap")).await;
    send(&mut ws, &text(4, "late")).await;
    send(&mut ws, &text(6, "c")).await;
    assert_eq!(next_data(&mut ws).await, text(1, "a"));
    assert_eq!(next_data(&mut ws).await, text(2, "b"));
    assert_eq!(next_data(&mut ws).await, text(3, "after a gap"));
    assert_eq!(next_data(&mut ws).await, text(4, "c"));
}

#[tokio::test]
async fn data_is_acknowledged_within_200_ms() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut ws, _) = server.client().await;
    let sent = Instant::now();
    send(&mut ws, &text(1, "x")).await;
    loop {
        match next(&mut ws, PROMPT).await {
            Seen::Frame(Frame::Ack { seq }) => {
                assert_eq!(seq, 1);
                break;
            }
            Seen::Frame(_) => {}
            other => panic!("expected ACK, saw {other:?}"),
        }
    }
    let elapsed = sent.elapsed();
    assert!(
        elapsed >= Duration::from_millis(150),
        "acked too early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(800),
        "acked too late: {elapsed:?}"
    );
}

#[tokio::test]
async fn thirty_two_unacknowledged_frames_are_acked_at_once() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut ws, _) = server.client().await;
    let sent = Instant::now();
    for seq in 1..=32 {
        send(&mut ws, &text(seq, "burst")).await;
    }
    let mut acks = Vec::new();
    while acks.last() != Some(&32) {
        match next(&mut ws, PROMPT).await {
            Seen::Frame(Frame::Ack { seq }) => acks.push(seq),
            Seen::Frame(_) => {}
            other => panic!("expected ACK 32, saw {other:?} after acks {acks:?}"),
        }
    }
    // Unless the machine stalled for 200 ms mid-burst, the count triggered the ACK, not the timer.
    if sent.elapsed() < Duration::from_millis(150) {
        assert_eq!(acks, vec![32]);
    }
}

#[tokio::test]
async fn broadcast_reaches_every_session() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut a, _) = server.client().await;
    let (mut b, _) = server.client().await;
    send(&mut a, &text(1, "broadcast:to all")).await;
    assert_eq!(next_data(&mut a).await, text(1, "to all"));
    assert_eq!(next_data(&mut b).await, text(1, "to all"));
    // Each session numbers its own outbound frames.
    send(&mut b, &text(1, "echo")).await;
    assert_eq!(next_data(&mut b).await, text(2, "echo"));
}

#[tokio::test]
async fn the_app_can_close_a_session_with_a_final_code() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut ws, _) = server.client().await;
    send(&mut ws, &text(1, "close:4001:bye")).await;
    let reason = expect_close(&mut ws, 4001).await;
    assert_eq!(reason, "bye");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.handle.hub().session_count(), 0);
}

#[tokio::test]
async fn the_app_can_close_a_session_with_try_again_later() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut ws, _) = server.client().await;
    send(&mut ws, &text(1, "close:1013:busy")).await;
    assert_eq!(expect_close(&mut ws, 1013).await, "busy");
}

#[tokio::test]
async fn a_client_close_ends_the_session() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut ws, _) = server.client().await;
    send(
        &mut ws,
        &Frame::Close(holdfast::protocol::CloseFrame {
            code: 1000,
            reason: "done".into(),
        }),
    )
    .await;
    match next_significant(&mut ws, PROMPT).await {
        Seen::WsClose(code, _) => assert_eq!(code, 1000),
        other => panic!("expected the WebSocket to close, saw {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.handle.hub().session_count(), 0);
}
