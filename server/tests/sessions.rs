//! Sessions that outlive their connections: resume, dedupe, TTL expiry, bounded logs, takeover,
//! restart, the session bound, and `on_open` / `on_close` exactly once per session.

mod common;

use common::*;
use holdfast::protocol::{CloseFrame, ErrorCode, Frame, ResumeOutcome};
use holdfast_server::{Message, SendError, ServerConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn start_recorded(config: ServerConfig) -> (Server, Arc<Recorder>) {
    let app = Arc::new(Recorder::default());
    let server = start_with(config, app.clone()).await;
    (server, app)
}

fn msg(text: &str) -> Message {
    Message::Text(text.to_owned())
}

#[tokio::test]
async fn a_resume_resends_unacked_frames_and_drops_resent_duplicates() {
    let (server, app) = start_recorded(ServerConfig::test_profile()).await;
    let (mut ws, welcome) = server.client().await;
    let id = welcome.session;
    for (seq, t) in [(1, "a"), (2, "b"), (3, "c")] {
        send(&mut ws, &text(seq, t)).await;
    }
    // The echoes arrive as server seqs 1–3; the client acknowledges none of them.
    for (seq, t) in [(1, "a"), (2, "b"), (3, "c")] {
        assert_eq!(next_data(&mut ws).await, text(seq, t));
    }
    // The link dies without a close, and the client comes back having processed seq 1 only.
    drop(ws);
    let (mut ws, again) = connect_with_hello(&server, &resume_hello(Some(&id), 1)).await;
    assert_eq!(again.resume, ResumeOutcome::Resumed);
    assert_eq!(again.session, id);
    assert_eq!(again.ack, 3, "the server delivered client seqs 1–3");
    // Exactly the unacknowledged server frames after last_seq, in order.
    assert_eq!(next_data(&mut ws).await, text(2, "b"));
    assert_eq!(next_data(&mut ws).await, text(3, "c"));
    // A client unsure what arrived resends with the old seqs: the app sees each message once.
    send(&mut ws, &text(2, "b")).await;
    send(&mut ws, &text(3, "c")).await;
    send(&mut ws, &text(4, "d")).await;
    assert_eq!(next_data(&mut ws).await, text(4, "d"));
    assert_eq!(app.texts(&id), ["a", "b", "c", "d"]);
    assert_eq!((app.opens(&id), app.closes(&id)), (1, 0));
}

#[tokio::test]
async fn a_message_sent_while_the_client_is_away_arrives_after_its_resume() {
    let server = start(ServerConfig::test_profile()).await;
    let (ws, welcome) = server.client().await;
    drop(ws);
    let hub = server.handle.hub().clone();
    eventually("the session to detach", || hub.attached_count() == 0).await;
    assert_eq!(hub.send(&welcome.session, msg("while away")), Ok(()));
    assert_eq!(hub.broadcast(msg("to everyone")), 1);
    let (mut ws, again) =
        connect_with_hello(&server, &resume_hello(Some(&welcome.session), 0)).await;
    assert_eq!(again.resume, ResumeOutcome::Resumed);
    assert_eq!(next_data(&mut ws).await, text(1, "while away"));
    assert_eq!(next_data(&mut ws).await, text(2, "to everyone"));
}

#[tokio::test]
async fn a_session_expires_after_its_ttl_and_a_late_resume_fails() {
    let config = ServerConfig {
        session_ttl_ms: 400,
        ..ServerConfig::test_profile()
    };
    let (server, app) = start_recorded(config).await;
    let (ws, welcome) = server.client().await;
    let id = welcome.session;
    let dropped = Instant::now();
    drop(ws);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        server.handle.hub().session_count(),
        1,
        "alive within the TTL"
    );
    assert_eq!(app.closes(&id), 0, "a dropped socket is not an end");
    eventually("the session to expire", || app.closes(&id) == 1).await;
    assert!(dropped.elapsed() >= Duration::from_millis(400));
    assert_eq!(server.handle.hub().session_count(), 0);
    let (_ws, late) = connect_with_hello(&server, &resume_hello(Some(&id), 0)).await;
    assert_eq!(late.resume, ResumeOutcome::Failed);
    assert_ne!(late.session, id);
    assert_eq!(late.ack, 0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!((app.opens(&id), app.closes(&id)), (1, 1));
}

#[tokio::test]
async fn a_client_that_never_acks_fills_the_log_and_is_closed_with_1013() {
    let config = ServerConfig {
        max_log_messages: 8,
        ..ServerConfig::test_profile()
    };
    let (server, app) = start_recorded(config).await;
    let (mut ws, welcome) = server.client().await;
    let id = welcome.session;
    let hub = server.handle.hub();
    for i in 1..=8 {
        assert_eq!(hub.send(&id, msg(&format!("m{i}"))), Ok(()));
    }
    assert_eq!(
        hub.send(&id, msg("one too many")),
        Err(SendError::BufferFull)
    );
    // What was accepted is delivered, then the session ends.
    for seq in 1..=8 {
        assert_eq!(next_data(&mut ws).await, text(seq, &format!("m{seq}")));
    }
    assert_eq!(expect_close(&mut ws, 1013).await, "session buffer full");
    eventually("the session to be gone", || hub.session_count() == 0).await;
    assert_eq!(hub.send(&id, msg("later")), Err(SendError::UnknownSession));
    assert_eq!(app.closes(&id), 1);
}

#[tokio::test]
async fn acknowledged_frames_leave_the_log_so_a_live_client_never_overflows_it() {
    let config = ServerConfig {
        max_log_messages: 4,
        ..ServerConfig::test_profile()
    };
    let server = start(config).await;
    let (mut ws, welcome) = server.client().await;
    let hub = server.handle.hub();
    for seq in 1..=20 {
        assert_eq!(hub.send(&welcome.session, msg("x")), Ok(()));
        assert_eq!(next_data(&mut ws).await, text(seq, "x"));
        send(&mut ws, &Frame::Ack { seq }).await;
        // The ACK must be processed before the next send for the bound to hold at 4.
        send(&mut ws, &Frame::Ping { id: seq }).await;
        assert_eq!(expect_frame(&mut ws).await, Frame::Pong { id: seq });
    }
}

#[tokio::test]
async fn on_open_and_on_close_fire_once_per_session_across_reconnects() {
    let (server, app) = start_recorded(ServerConfig::test_profile()).await;
    let (mut ws, welcome) = server.client().await;
    let id = welcome.session;
    for round in 0..3 {
        if round == 1 {
            // A dropped link (fault) is no end either.
            server.http("POST", "/_fault/drop").await;
            expect_dropped(&mut ws).await;
        } else {
            drop(ws);
        }
        let (again, w) = connect_with_hello(&server, &resume_hello(Some(&id), 0)).await;
        assert_eq!(w.resume, ResumeOutcome::Resumed);
        ws = again;
    }
    eventually("on_open", || app.opens(&id) == 1).await;
    assert_eq!(app.closes(&id), 0);
    send(
        &mut ws,
        &Frame::Close(CloseFrame {
            code: 1000,
            reason: "done".into(),
        }),
    )
    .await;
    match next_significant(&mut ws, PROMPT).await {
        Seen::WsClose(code, _) => assert_eq!(code, 1000),
        other => panic!("expected the WebSocket to close, saw {other:?}"),
    }
    eventually("on_close", || app.closes(&id) == 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!((app.opens(&id), app.closes(&id)), (1, 1));
    assert_eq!(server.handle.hub().session_count(), 0);
    // The callbacks came in order: open, then the close, nothing after.
    assert_eq!(app.events().first(), Some(&AppEvent::Open(id.clone())));
    assert_eq!(app.events().last(), Some(&AppEvent::Close(id)));
}

#[tokio::test]
async fn the_app_closing_a_detached_session_ends_it_at_once() {
    let (server, app) = start_recorded(ServerConfig::test_profile()).await;
    let (ws, welcome) = server.client().await;
    let id = welcome.session;
    drop(ws);
    let hub = server.handle.hub();
    eventually("the session to detach", || hub.attached_count() == 0).await;
    assert!(hub.close(&id, 4001, "bye"));
    eventually("on_close", || app.closes(&id) == 1).await;
    assert_eq!(hub.session_count(), 0);
    assert!(!hub.close(&id, 4001, "bye"));
    let (_ws, late) = connect_with_hello(&server, &resume_hello(Some(&id), 0)).await;
    assert_eq!(late.resume, ResumeOutcome::Failed);
}

#[tokio::test]
async fn a_resume_on_a_second_socket_takes_over_from_the_first() {
    let (server, app) = start_recorded(ServerConfig::test_profile()).await;
    let (mut first, welcome) = server.client().await;
    let id = welcome.session;
    // The first socket is still open (half-open, as far as the client knows) when it resumes.
    let (mut second, again) = connect_with_hello(&server, &resume_hello(Some(&id), 0)).await;
    assert_eq!(again.resume, ResumeOutcome::Resumed);
    expect_dropped(&mut first).await;
    let hub = server.handle.hub();
    assert_eq!(hub.send(&id, msg("after")), Ok(()));
    assert_eq!(next_data(&mut second).await, text(1, "after"));
    send(&mut second, &text(1, "hi")).await;
    assert_eq!(next_data(&mut second).await, text(2, "hi"));
    let s = stats(&server).await;
    assert_eq!((s.sessions, s.attached, s.connections), (1, 1, 1));
    assert_eq!((app.opens(&id), app.closes(&id)), (1, 0));
}

#[tokio::test]
async fn restart_forgets_every_session() {
    let (server, app) = start_recorded(ServerConfig::test_profile()).await;
    let (mut attached, a) = server.client().await;
    let (detached, b) = server.client().await;
    drop(detached);
    let hub = server.handle.hub().clone();
    eventually("one session to detach", || hub.attached_count() == 1).await;
    let (status, _, body) = server.http("POST", "/_fault/restart").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    expect_dropped(&mut attached).await;
    assert_eq!(hub.session_count(), 0);
    assert_eq!((app.closes(&a.session), app.closes(&b.session)), (1, 1));
    let (_ws, late) = connect_with_hello(&server, &resume_hello(Some(&a.session), 3)).await;
    assert_eq!(late.resume, ResumeOutcome::Failed);
    assert_ne!(late.session, a.session);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(app.closes(&a.session), 1, "on_close ran once");
}

#[tokio::test]
async fn at_the_session_bound_a_new_handshake_gets_try_later_but_a_resume_works() {
    let config = ServerConfig {
        max_sessions: 1,
        ..ServerConfig::test_profile()
    };
    let server = start(config).await;
    let (first, welcome) = server.client().await;
    let mut ws = server.connect().await;
    send(&mut ws, &hello(None)).await;
    match expect_frame(&mut ws).await {
        Frame::Error(e) => {
            assert_eq!(e.code, ErrorCode::TryLater);
            assert_eq!(e.retry_after_ms, 1_000);
        }
        other => panic!("expected ERROR 5, got {other:?}"),
    }
    assert_eq!(expect_close(&mut ws, 1013).await, "too many sessions");
    // Resuming an existing session creates nothing, so it works at the bound.
    drop(first);
    let (_ws, again) = connect_with_hello(&server, &resume_hello(Some(&welcome.session), 0)).await;
    assert_eq!(again.resume, ResumeOutcome::Resumed);
    let s = stats(&server).await;
    assert_eq!((s.sessions, s.handshakes), (1, 2));
}

/// A probe HELLO (upgrade back, PROTOCOL.md §4) on a second connection is answered without
/// taking delivery over; a plain HELLO on that connection then takes the session over, and
/// what the old connection had not acknowledged is resent on the new one.
#[tokio::test]
async fn a_probe_is_welcomed_without_a_takeover_and_a_plain_hello_then_takes_over() {
    let (server, app) = start_recorded(ServerConfig::test_profile()).await;
    let (mut old, welcome) = server.client().await;
    let id = welcome.session;
    let mut probe = server.connect().await;
    let probe_hello = match resume_hello(Some(&id), 0) {
        Frame::Hello(h) => Frame::Hello(holdfast::protocol::Hello { probe: true, ..h }),
        other => other,
    };
    send(&mut probe, &probe_hello).await;
    let Frame::Welcome(w) = expect_frame(&mut probe).await else {
        panic!("expected WELCOME")
    };
    assert_eq!(
        (w.resume, w.session.as_str()),
        (ResumeOutcome::Resumed, id.as_str())
    );
    // Delivery stayed on the old connection.
    send(&mut old, &text(1, "still old")).await;
    assert_eq!(next_data(&mut old).await, text(1, "still old"));
    let seen = next(&mut probe, Duration::from_millis(300)).await;
    assert!(matches!(seen, Seen::Nothing), "the probe got {seen:?}");
    // The takeover: a plain HELLO on the probing connection, having seen nothing yet.
    send(&mut probe, &resume_hello(Some(&id), 0)).await;
    let Frame::Welcome(w) = expect_frame(&mut probe).await else {
        panic!("expected WELCOME")
    };
    assert_eq!((w.resume, w.ack), (ResumeOutcome::Resumed, 1));
    assert_eq!(next_data(&mut probe).await, text(1, "still old"), "resent");
    send(&mut probe, &text(2, "new")).await;
    assert_eq!(next_data(&mut probe).await, text(2, "new"));
    eventually("one session, both messages once", || {
        app.texts(&id) == ["still old", "new"] && app.opens(&id) == 1
    })
    .await;
}

#[tokio::test]
async fn a_probe_for_no_live_session_is_refused_and_creates_nothing() {
    let server = start(ServerConfig::test_profile()).await;
    let mut probe = server.connect().await;
    let hello = match resume_hello(Some("nosuchsession"), 0) {
        Frame::Hello(h) => Frame::Hello(holdfast::protocol::Hello { probe: true, ..h }),
        other => other,
    };
    send(&mut probe, &hello).await;
    match expect_frame(&mut probe).await {
        Frame::Error(e) => assert_eq!(e.code, ErrorCode::SessionUnknown),
        other => panic!("expected ERROR 3, got {other:?}"),
    }
    assert_eq!(stats(&server).await.sessions, 0);
}
