//! PING/PONG both ways and the idle timeout (test profile: ping 1 s, idle timeout 2.5 s).
//! An idle connection is a dead link, not an ended session: it is dropped with a WebSocket close
//! 1001 and no protocol CLOSE, and its session waits for a resume.

mod common;

use common::*;
use holdfast::protocol::{Frame, ResumeOutcome};
use holdfast_server::ServerConfig;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_ping_is_answered_with_a_pong_carrying_its_id() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut ws, _) = server.client().await;
    send(&mut ws, &Frame::Ping { id: 77 }).await;
    assert_eq!(expect_frame(&mut ws).await, Frame::Pong { id: 77 });
    send(&mut ws, &Frame::Ping { id: u64::MAX }).await;
    assert_eq!(expect_frame(&mut ws).await, Frame::Pong { id: u64::MAX });
}

#[tokio::test]
async fn the_server_pings_when_it_has_sent_nothing_for_the_interval() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut ws, _) = server.client().await;
    let started = Instant::now();
    let mut ids = Vec::new();
    while ids.len() < 2 {
        match next(&mut ws, PROMPT).await {
            Seen::Frame(Frame::Ping { id }) => {
                ids.push(id);
                // Answering keeps the connection alive.
                send(&mut ws, &Frame::Pong { id }).await;
            }
            other => panic!("expected PING, saw {other:?}"),
        }
    }
    assert_eq!(ids[1], ids[0] + 1, "ping ids increment");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1_800),
        "pinged too often: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(3_000),
        "pinged too late: {elapsed:?}"
    );
}

#[tokio::test]
async fn a_silent_client_is_disconnected_after_the_idle_timeout_and_may_resume() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut ws, welcome) = server.client().await;
    let started = Instant::now();
    let reason = loop {
        match next(&mut ws, Duration::from_secs(5)).await {
            Seen::Frame(Frame::Ping { .. }) => {} // deliberately unanswered
            Seen::WsClose(code, reason) => {
                assert_eq!(code, 1001);
                break reason;
            }
            other => panic!("expected a WebSocket close 1001 (no CLOSE frame), saw {other:?}"),
        }
    };
    assert_eq!(reason, "idle timeout");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(2_400),
        "closed too early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(3_500),
        "closed too late: {elapsed:?}"
    );
    let s = stats(&server).await;
    assert_eq!((s.sessions, s.attached), (1, 0), "the session lives on");
    let (_ws, again) = connect_with_hello(&server, &resume_hello(Some(&welcome.session), 0)).await;
    assert_eq!(again.resume, ResumeOutcome::Resumed);
    assert_eq!(again.session, welcome.session);
}

#[tokio::test]
async fn a_client_that_answers_pings_stays_open_past_the_idle_timeout() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut ws, _) = server.client().await;
    let until = Instant::now() + Duration::from_millis(3_500);
    while Instant::now() < until {
        let left = until.saturating_duration_since(Instant::now());
        match next(&mut ws, left).await {
            Seen::Frame(Frame::Ping { id }) => send(&mut ws, &Frame::Pong { id }).await,
            Seen::Nothing => break,
            other => panic!("connection should stay open, saw {other:?}"),
        }
    }
    send(&mut ws, &Frame::Ping { id: 9 }).await;
    assert_eq!(expect_frame(&mut ws).await, Frame::Pong { id: 9 });
}
