//! The HTTP transports (PROTOCOL.md §8.2–8.7): SSE with sends, long and short polling, their
//! shared rules (Origin, CORS, caching, 410, 413) and the fault controls that imitate proxies.

mod common;

use common::http_client::*;
use common::*;
use holdfast::protocol::{
    encode_base64url, encode_batch, CloseFrame, ErrorCode, ErrorFrame, Frame, Hello, ResumeOutcome,
    Welcome,
};
use holdfast_server::{OriginPolicy, ServerConfig};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

const FOREIGN: &str = "http://evil.example";
const LOCAL: &str = "http://127.0.0.1:5173";

fn welcome(frame: Option<&Frame>) -> Welcome {
    match frame {
        Some(Frame::Welcome(w)) => w.clone(),
        other => panic!("expected WELCOME, got {other:?}"),
    }
}

/// The test profile, tuned by `tune`.
async fn start_tuned(tune: impl FnOnce(&mut ServerConfig)) -> Server {
    let mut config = ServerConfig::test_profile();
    tune(&mut config);
    start(config).await
}

/// Asserts that `head` has header `name` with value `want` (`None`: absent).
fn expect_header(head: &str, name: &str, want: Option<&str>) {
    assert_eq!(header(head, name).as_deref(), want, "{name} in {head}");
}

/// The status of a short poll of `session` from cursor 0.
async fn poll_status(addr: SocketAddr, session: &str) -> u16 {
    poll(addr, session, 0, false).await.unwrap().status
}

/// A long poll of `session` from cursor 0 in its own task, held by the time this returns.
async fn held_poll(addr: SocketAddr, session: &str) -> tokio::task::JoinHandle<Option<Reply>> {
    let session = session.to_owned();
    let held = tokio::spawn(async move { poll(addr, &session, 0, true).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!held.is_finished(), "the poll is held");
    held
}

/// A polling session that posted `first` as its message 1.
async fn polling_session_that_sent(addr: SocketAddr, first: &str) -> Welcome {
    let w = poll_client(addr).await;
    assert_eq!(post_send(addr, &w.session, &[text(1, first)]).await, 204);
    w
}

/// The stats once `cond` holds (checked every 10 ms), panicking after [`PROMPT`].
async fn stats_until(server: &Server, cond: impl Fn(&Stats) -> bool) -> Stats {
    let deadline = Instant::now() + PROMPT;
    loop {
        let s = stats(server).await;
        if cond(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "stats never got there: {s:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn fault(server: &Server, route: &str) {
    let (status, head, body) = server.http("POST", route).await;
    assert_eq!((status, body.as_str()), (200, "ok"), "{route}: {head}");
}

/// An SSE stream after its `:ok` comment and WELCOME.
async fn sse_client(server: &Server, hello: &Frame) -> (Sse, Welcome) {
    let mut sse = Sse::open(server.addr, &sse_path(hello), &[]).await;
    assert_eq!(sse.status, 200, "{}", sse.head);
    match sse.next(PROMPT).await {
        SseSeen::Comment(c) => assert_eq!(c, "ok"),
        other => panic!("expected the :ok comment, saw {other:?}"),
    }
    let w = match sse.next(PROMPT).await {
        SseSeen::Frame(Frame::Welcome(w)) => w,
        other => panic!("expected WELCOME, saw {other:?}"),
    };
    (sse, w)
}

/// A polling session: its WELCOME.
async fn poll_client(addr: SocketAddr) -> Welcome {
    let reply = poll_open(addr, &hello(None)).await;
    assert_eq!(reply.status, 200);
    welcome(reply.frames().first())
}

/// Polls (short) from `cursor` until the answers carried `n` data frames; returns them.
async fn poll_texts(addr: SocketAddr, session: &str, cursor: u64, n: usize) -> Vec<(u64, String)> {
    let deadline = Instant::now() + PROMPT;
    let mut got = Vec::new();
    let mut cursor = cursor;
    while got.len() < n {
        assert!(Instant::now() < deadline, "only {got:?} arrived");
        let reply = poll(addr, session, cursor, false).await.unwrap();
        assert_eq!(reply.status, 200);
        for (seq, text) in reply.texts() {
            cursor = seq;
            got.push((seq, text));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    got
}

#[tokio::test]
async fn sse_streams_welcome_and_echoes_what_is_posted() {
    let server = start(ServerConfig::test_profile()).await;
    let mut sse = Sse::open(server.addr, &sse_path(&hello(None)), &[]).await;
    assert_eq!(sse.status, 200);
    expect_header(&sse.head, "content-type", Some("text/event-stream"));
    expect_header(&sse.head, "cache-control", Some("no-cache, no-transform"));
    expect_header(&sse.head, "x-accel-buffering", Some("no"));
    expect_header(&sse.head, "content-encoding", None);
    // The comment comes first, before the session says anything.
    assert!(matches!(sse.next(PROMPT).await, SseSeen::Comment(c) if c == "ok"));
    let w = match sse.next(PROMPT).await {
        SseSeen::Frame(Frame::Welcome(w)) => w,
        other => panic!("expected WELCOME, saw {other:?}"),
    };
    assert_eq!((w.version, w.resume), (1, ResumeOutcome::New));
    assert_eq!(w.ping_interval_ms, 1_000);
    let s = stats(&server).await;
    assert_eq!((s.streams, s.attached, s.handshakes), (1, 1, 1));

    assert_eq!(
        post_send(server.addr, &w.session, &[text(1, "hi")]).await,
        204
    );
    assert_eq!(sse.frame().await, text(1, "hi"));
    // Pings travel as events: a quiet stream still shows life at the ping interval.
    let started = Instant::now();
    loop {
        match sse.next(PROMPT).await {
            SseSeen::Frame(Frame::Ping { .. }) => break,
            SseSeen::Frame(Frame::Ack { seq: 1 }) => {}
            other => panic!("expected ACK or PING, saw {other:?}"),
        }
    }
    assert!(started.elapsed() < Duration::from_millis(1_500));
    assert_eq!(stats(&server).await.posts, 1);
}

#[tokio::test]
async fn an_sse_session_resumes_on_a_second_stream_and_the_first_stream_ends() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut first, w) = sse_client(&server, &hello(None)).await;
    assert_eq!(
        post_send(server.addr, &w.session, &[text(1, "one")]).await,
        204
    );
    assert_eq!(first.frame().await, text(1, "one"));

    // A second stream resuming the session (having missed the echo) takes over.
    let (mut second, resumed) = sse_client(&server, &resume_hello(Some(&w.session), 0)).await;
    assert_eq!(
        (resumed.resume, resumed.session.as_str(), resumed.ack),
        (ResumeOutcome::Resumed, w.session.as_str(), 1)
    );
    assert_eq!(second.frame().await, text(1, "one"), "resent after WELCOME");
    let end = first.end(PROMPT).await;
    assert!(
        matches!(end, SseSeen::Ended),
        "the older stream ends: {end:?}"
    );
    // Sends go to the session through its current stream; a duplicate is dropped.
    let frames = [text(1, "one"), text(2, "two")];
    assert_eq!(post_send(server.addr, &w.session, &frames).await, 204);
    assert_eq!(second.frame().await, text(2, "two"));
    let s = stats_until(&server, |s| s.streams == 1).await;
    assert_eq!((s.sessions, s.attached, s.handshakes), (1, 1, 2));
}

#[tokio::test]
async fn a_stream_the_client_leaves_detaches_its_session() {
    let server = start(ServerConfig::test_profile()).await;
    let (sse, w) = sse_client(&server, &hello(None)).await;
    drop(sse);
    // Noticed at once, or at the latest when the next ping cannot be written.
    let s = stats_until(&server, |s| s.streams == 0 && s.attached == 0).await;
    assert_eq!(s.sessions, 1, "the session waits for a resume");
    assert_eq!(post_send(server.addr, &w.session, &[]).await, 410);
    let (_, resumed) = sse_client(&server, &resume_hello(Some(&w.session), 0)).await;
    assert_eq!(resumed.resume, ResumeOutcome::Resumed);
}

#[tokio::test]
async fn a_refused_sse_handshake_is_error_and_close_events_then_the_end() {
    let server = start(ServerConfig::test_profile()).await;
    let v2 = Frame::Hello(Hello {
        min_version: 2,
        max_version: 3,
        session: None,
        last_seq: 0,
        probe: false,
    });
    let mut sse = Sse::open(server.addr, &sse_path(&v2), &[]).await;
    assert_eq!(sse.status, 200);
    assert!(matches!(sse.next(PROMPT).await, SseSeen::Comment(_)));
    assert!(matches!(
        sse.next(PROMPT).await,
        SseSeen::Frame(Frame::Error(ErrorFrame {
            code: ErrorCode::VersionUnsupported,
            ..
        }))
    ));
    assert!(matches!(
        sse.next(PROMPT).await,
        SseSeen::Frame(Frame::Close(CloseFrame { code: 1002, .. }))
    ));
    assert!(matches!(sse.next(PROMPT).await, SseSeen::Ended));
    assert_eq!(stats(&server).await.sessions, 0);
    // The same refusal over polling is a batch.
    let reply = poll_open(server.addr, &v2).await;
    assert_eq!(reply.status, 200);
    assert!(matches!(
        reply.frames().as_slice(),
        [Frame::Error(_), Frame::Close(CloseFrame { code: 1002, .. })]
    ));
}

#[tokio::test]
async fn a_missing_or_bad_hello_is_400() {
    let server = start(ServerConfig::test_profile()).await;
    let ping = encode_base64url(&holdfast::protocol::encode(&Frame::Ping { id: 1 }));
    for path in [
        "/holdfast/sse".to_owned(),
        "/holdfast/sse?hello=!!".to_owned(),
        format!("/holdfast/sse?hello={ping}"),
    ] {
        let reply = request(server.addr, "GET", &path, &[], &[]).await.unwrap();
        assert_eq!(reply.status, 400, "{path}");
    }
    for body in [
        Vec::new(),
        vec![0x05],
        encode_batch(&[Frame::Ping { id: 1 }]),
    ] {
        let reply = request(server.addr, "POST", "/holdfast/poll/open", &[], &body)
            .await
            .unwrap();
        assert_eq!(reply.status, 400, "{body:?}");
    }
    assert_eq!(stats(&server).await.sessions, 0);
}

#[tokio::test]
async fn a_long_poll_is_held_until_an_echo_answers_it() {
    let server = start(ServerConfig::test_profile()).await;
    let w = poll_client(server.addr).await;
    assert_eq!(w.resume, ResumeOutcome::New);
    let started = Instant::now();
    let held = held_poll(server.addr, &w.session).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!held.is_finished(), "the poll is still held");
    assert_eq!(
        post_send(server.addr, &w.session, &[text(1, "ping-pong")]).await,
        204
    );
    let reply = held.await.unwrap().unwrap();
    let waited = started.elapsed();
    assert_eq!(reply.status, 200);
    expect_header(
        &reply.head,
        "content-type",
        Some("application/octet-stream"),
    );
    expect_header(
        &reply.head,
        "cache-control",
        Some("no-cache, no-store, no-transform"),
    );
    assert_eq!(reply.texts(), vec![(1, "ping-pong".to_owned())]);
    assert!(waited >= Duration::from_millis(200), "{waited:?}");
    let s = stats(&server).await;
    assert_eq!((s.polls, s.posts, s.attached), (1, 1, 1));
}

#[tokio::test]
async fn a_quiet_long_poll_is_answered_empty_after_the_hold() {
    let server = start_tuned(|c| {
        c.poll_hold_ms = 300;
        c.ping_interval_ms = 5_000;
    })
    .await;
    let w = poll_client(server.addr).await;
    let started = Instant::now();
    let reply = poll(server.addr, &w.session, 0, true).await.unwrap();
    let waited = started.elapsed();
    assert_eq!((reply.status, reply.body.len()), (200, 0));
    assert!(
        waited >= Duration::from_millis(280) && waited < Duration::from_millis(1_500),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_short_poll_answers_at_once() {
    let server = start(ServerConfig::test_profile()).await;
    let w = poll_client(server.addr).await;
    let started = Instant::now();
    let reply = poll(server.addr, &w.session, 0, false).await.unwrap();
    assert_eq!((reply.status, reply.body.len()), (200, 0));
    assert!(started.elapsed() < Duration::from_millis(300));
    // What arrived meanwhile is in the next one.
    assert_eq!(
        post_send(server.addr, &w.session, &[text(1, "a")]).await,
        204
    );
    assert_eq!(
        poll_texts(server.addr, &w.session, 0, 1).await,
        vec![(1, "a".to_owned())]
    );
}

#[tokio::test]
async fn a_second_poll_ends_the_held_one_with_an_empty_batch() {
    let server = start(ServerConfig::test_profile()).await;
    let w = poll_client(server.addr).await;
    let first = held_poll(server.addr, &w.session).await;
    let second = poll(server.addr, &w.session, 0, false).await.unwrap();
    assert_eq!(second.status, 200);
    let first = tokio::time::timeout(Duration::from_millis(300), first)
        .await
        .expect("the held poll ended at once")
        .unwrap()
        .unwrap();
    assert_eq!((first.status, first.body.len()), (200, 0));
    let s = stats(&server).await;
    assert_eq!((s.poll_overlaps, s.polls), (1, 2));
}

#[tokio::test]
async fn a_poll_cursor_resends_what_a_lost_answer_carried() {
    let server = start(ServerConfig::test_profile()).await;
    let w = poll_client(server.addr).await;
    let frames = [text(1, "a"), text(2, "b")];
    assert_eq!(post_send(server.addr, &w.session, &frames).await, 204);
    let echoes = vec![(1, "a".to_owned()), (2, "b".to_owned())];
    assert_eq!(poll_texts(server.addr, &w.session, 0, 2).await, echoes);
    // That answer was "lost": polling again from the old cursor brings the same frames back.
    let again = poll(server.addr, &w.session, 0, false).await.unwrap();
    assert_eq!(again.texts(), echoes);
    let from_one = poll(server.addr, &w.session, 1, false).await.unwrap();
    assert_eq!(from_one.texts(), vec![(2, "b".to_owned())]);
    // The cursor is an ACK: nothing after 2, and nothing comes back once acknowledged.
    let none = poll(server.addr, &w.session, 2, false).await.unwrap();
    assert!(none.texts().is_empty());
    let still_none = poll(server.addr, &w.session, 0, false).await.unwrap();
    assert!(still_none.texts().is_empty());
}

#[tokio::test]
async fn a_polling_session_resumes_through_a_new_open() {
    let server = start(ServerConfig::test_profile()).await;
    let w = polling_session_that_sent(server.addr, "kept").await;
    // Wait for the echo to exist without receiving it (a poll that is never made).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let reply = poll_open(server.addr, &resume_hello(Some(&w.session), 0)).await;
    let frames = reply.frames();
    let resumed = welcome(frames.first());
    assert_eq!((resumed.resume, resumed.ack), (ResumeOutcome::Resumed, 1));
    assert_eq!(data_texts(&frames), vec![(1, "kept".to_owned())]);
}

#[tokio::test]
async fn an_app_close_reaches_a_polling_client_then_the_session_is_gone() {
    let server = start(ServerConfig::test_profile()).await;
    let w = polling_session_that_sent(server.addr, "close:4001:bye").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let reply = poll(server.addr, &w.session, 0, false).await.unwrap();
    assert!(
        reply.frames().contains(&Frame::Close(CloseFrame {
            code: 4001,
            reason: "bye".into()
        })),
        "{:?}",
        reply.frames()
    );
    // Once the lingering link is gone (2 s after it carried the CLOSE), so is the session.
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let after = poll(server.addr, &w.session, 0, false).await.unwrap();
    assert_eq!(after.status, 410);
    assert_eq!(stats(&server).await.sessions, 0);
}

/// A short-polling client POSTs between polls (an ACK, a PING): a POST that arrives after the app
/// closed the session, before or just after the poll carrying the CLOSE, is accepted, not `410`,
/// and a poll in that time gets the CLOSE again, so the client's link lasts until it reads why
/// (seen in the browser: a 410 answered to a request in flight beside the poll was read first,
/// and the client reconnected and reported a gap instead of stopping with 4001). The link
/// lingers 2 s after carrying the CLOSE, then everything is 410.
#[tokio::test]
async fn requests_after_an_app_close_get_the_close_until_the_link_has_lingered() {
    let server = start(ServerConfig::test_profile()).await;
    let w = polling_session_that_sent(server.addr, "close:4001:bye").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ping = |id| [Frame::Ping { id }];
    assert_eq!(post_send(server.addr, &w.session, &ping(1)).await, 204);
    let close = Frame::Close(CloseFrame {
        code: 4001,
        reason: "bye".into(),
    });
    for id in 2..4 {
        let reply = poll(server.addr, &w.session, 0, false).await.unwrap();
        assert!(reply.frames().contains(&close), "{:?}", reply.frames());
        assert_eq!(post_send(server.addr, &w.session, &ping(id)).await, 204);
    }
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    assert_eq!(poll_status(server.addr, &w.session).await, 410);
    assert_eq!(post_send(server.addr, &w.session, &ping(4)).await, 410);
}

#[tokio::test]
async fn unknown_sessions_get_410_for_sends_and_polls() {
    let server = start(ServerConfig::test_profile()).await;
    assert_eq!(post_send(server.addr, "nope", &[text(1, "x")]).await, 410);
    assert_eq!(
        poll(server.addr, "nope", 0, false).await.unwrap().status,
        410
    );
    // A session attached by SSE has no poll link; one on WebSocket has no HTTP link at all.
    let (_sse, w) = sse_client(&server, &hello(None)).await;
    assert_eq!(poll_status(server.addr, &w.session).await, 410);
    let (_ws, ws_welcome) = server.client().await;
    assert_eq!(post_send(server.addr, &ws_welcome.session, &[]).await, 410);
    let s = stats(&server).await;
    assert_eq!((s.posts, s.polls), (2, 2));
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let server = start_tuned(|c| {
        c.max_message_bytes = 1024;
    })
    .await;
    let w = poll_client(server.addr).await;
    let limit = 1024 + 65_536;
    let path = format!("/holdfast/send?session={}", w.session);
    // Refused on the Content-Length, before a byte of the body is sent.
    let too_long = (limit + 1).to_string();
    let headers = [("Content-Length", too_long.as_str())];
    for route in [path.as_str(), "/holdfast/poll/open"] {
        let reply = Conn::send(server.addr, "POST", route, &headers, &[])
            .await
            .reply()
            .await
            .unwrap();
        assert_eq!(reply.status, 413, "{route}");
    }
    // A chunked body is refused as soon as it grows past the limit.
    let mut conn = Conn::send(
        server.addr,
        "POST",
        &path,
        &[("Transfer-Encoding", "chunked")],
        &[],
    )
    .await;
    let chunk = vec![0u8; 16 * 1024];
    let mut sent = 0;
    while sent <= limit {
        let mut piece = format!("{:x}\r\n", chunk.len()).into_bytes();
        piece.extend_from_slice(&chunk);
        piece.extend_from_slice(b"\r\n");
        if conn.write(&piece).await.is_err() {
            break;
        }
        sent += chunk.len();
    }
    let (status, _) = conn.head(PROMPT).await.unwrap();
    assert_eq!(status, 413);
    // At the limit, a body is read (and here refused as a broken batch, not as too large).
    let exact = vec![0xffu8; limit];
    let reply = request(server.addr, "POST", &path, &[], &exact)
        .await
        .unwrap();
    assert_eq!(reply.status, 400);
}

#[tokio::test]
async fn a_broken_batch_is_400_with_an_error_batch_and_bad_frames_get_error_downstream() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut sse, w) = sse_client(&server, &hello(None)).await;
    let path = format!("/holdfast/send?session={}", w.session);
    // A length beyond the body: the envelope is broken.
    let reply = request(server.addr, "POST", &path, &[], &[0x05, 0x01])
        .await
        .unwrap();
    assert_eq!(reply.status, 400);
    assert!(matches!(
        reply.frames().as_slice(),
        [Frame::Error(ErrorFrame {
            code: ErrorCode::BadFrame,
            ..
        })]
    ));
    // A good envelope with a frame that does not decode: ERROR 1 on the stream, then the next
    // frame of the batch still counts.
    let mut body = vec![2, 0x03, 0x80];
    body.extend(encode_batch(&[text(1, "after")]));
    let reply = request(server.addr, "POST", &path, &[], &body)
        .await
        .unwrap();
    assert_eq!(reply.status, 204);
    assert!(matches!(
        sse.frame().await,
        Frame::Error(ErrorFrame {
            code: ErrorCode::BadFrame,
            ..
        })
    ));
    assert_eq!(sse.frame().await, text(1, "after"));
}

#[tokio::test]
async fn an_http_attachment_without_requests_detaches_after_the_idle_timeout() {
    let server = start(ServerConfig::test_profile()).await;
    let w = poll_client(server.addr).await;
    assert_eq!(stats(&server).await.attached, 1);
    // Polls keep it: a held poll counts as life until it is answered.
    let until = Instant::now() + Duration::from_millis(3_000);
    let mut cursor = 0;
    while Instant::now() < until {
        let reply = poll(server.addr, &w.session, cursor, true).await.unwrap();
        assert_eq!(reply.status, 200);
        cursor = reply.texts().last().map_or(cursor, |(seq, _)| *seq);
    }
    assert_eq!(stats(&server).await.attached, 1);
    // Without requests the idle timeout (2.5 s) detaches it; the session waits for a resume.
    tokio::time::sleep(Duration::from_millis(2_800)).await;
    let s = stats(&server).await;
    assert_eq!((s.sessions, s.attached), (1, 0));
    assert_eq!(poll_status(server.addr, &w.session).await, 410);
}

#[tokio::test]
async fn a_foreign_origin_gets_403_without_cors_on_every_route() {
    let server = start(ServerConfig::test_profile()).await;
    let w = poll_client(server.addr).await;
    let routes = [
        ("GET", sse_path(&hello(None))),
        ("POST", format!("/holdfast/send?session={}", w.session)),
        ("POST", "/holdfast/poll/open".to_owned()),
        (
            "GET",
            format!("/holdfast/poll?session={}&cursor=0", w.session),
        ),
        ("OPTIONS", "/holdfast/send".to_owned()),
    ];
    let body = encode_batch(&[hello(None)]);
    for (method, path) in &routes {
        let reply = request(server.addr, method, path, &[("Origin", FOREIGN)], &body)
            .await
            .unwrap();
        assert_eq!(reply.status, 403, "{method} {path}");
        assert!(
            !reply.head.contains("access-control-"),
            "{method} {path}: {}",
            reply.head
        );
    }
    let s = stats(&server).await;
    assert_eq!((s.sessions, s.streams), (1, 0), "nothing was opened");
}

#[tokio::test]
async fn an_allowed_origin_gets_cors_headers_and_preflights() {
    let server = start_tuned(|c| {
        c.allowed_origins = OriginPolicy::List(vec![LOCAL.to_owned()]);
    })
    .await;
    let origin = [("Origin", LOCAL)];
    let body = encode_batch(&[hello(None)]);
    let open = request(server.addr, "POST", "/holdfast/poll/open", &origin, &body)
        .await
        .unwrap();
    assert_eq!(open.status, 200);
    expect_header(&open.head, "access-control-allow-origin", Some(LOCAL));
    expect_header(&open.head, "vary", Some("origin"));
    let session = welcome(open.frames().first()).session;
    let poll_path = format!("/holdfast/poll?session={session}&cursor=0&hold=0");
    let polled = request(server.addr, "GET", &poll_path, &origin, &[])
        .await
        .unwrap();
    expect_header(&polled.head, "access-control-allow-origin", Some(LOCAL));
    let gone = request(
        server.addr,
        "POST",
        "/holdfast/send?session=x",
        &origin,
        &[],
    )
    .await
    .unwrap();
    assert_eq!(gone.status, 410);
    expect_header(&gone.head, "access-control-allow-origin", Some(LOCAL));
    expect_header(
        &gone.head,
        "cache-control",
        Some("no-cache, no-store, no-transform"),
    );
    let sse = Sse::open(server.addr, &sse_path(&hello(None)), &origin).await;
    expect_header(&sse.head, "access-control-allow-origin", Some(LOCAL));
    expect_header(&sse.head, "cache-control", Some("no-cache, no-transform"));
    for path in [
        "/holdfast/sse",
        "/holdfast/send",
        "/holdfast/poll/open",
        "/holdfast/poll",
    ] {
        let preflight = request(
            server.addr,
            "OPTIONS",
            path,
            &[("Origin", LOCAL), ("Access-Control-Request-Method", "POST")],
            &[],
        )
        .await
        .unwrap();
        assert_eq!(preflight.status, 204, "{path}");
        expect_header(&preflight.head, "access-control-allow-origin", Some(LOCAL));
        expect_header(
            &preflight.head,
            "access-control-allow-methods",
            Some("get, post"),
        );
        expect_header(
            &preflight.head,
            "access-control-allow-headers",
            Some("content-type"),
        );
        expect_header(&preflight.head, "access-control-max-age", Some("600"));
    }
    // Without an Origin (not a browser): allowed, no CORS headers.
    let plain = poll_open(server.addr, &hello(None)).await;
    assert_eq!(plain.status, 200);
    expect_header(&plain.head, "access-control-allow-origin", None);
}

#[tokio::test]
async fn refuse_sse_answers_403_until_accept_sse() {
    let server = start(ServerConfig::test_profile()).await;
    fault(&server, "/_fault/refuse-sse").await;
    let path = sse_path(&hello(None));
    let reply = request(server.addr, "GET", &path, &[], &[]).await.unwrap();
    assert_eq!(reply.status, 403);
    // Polling is not affected.
    poll_client(server.addr).await;
    fault(&server, "/_fault/accept-sse").await;
    sse_client(&server, &hello(None)).await;
    fault(&server, "/_fault/refuse-sse").await;
    fault(&server, "/_fault/recover").await;
    sse_client(&server, &hello(None)).await;
}

#[tokio::test]
async fn buffer_sse_holds_every_byte_until_unbuffered() {
    let server = start(ServerConfig::test_profile()).await;
    fault(&server, "/_fault/buffer-sse").await;
    let mut sse = Sse::open(server.addr, &sse_path(&hello(None)), &[]).await;
    // The headers arrive; the comment, WELCOME and pings do not.
    assert_eq!(sse.status, 200);
    assert!(
        matches!(
            sse.next(Duration::from_millis(1_500)).await,
            SseSeen::Nothing
        ),
        "nothing passes the buffer"
    );
    assert_eq!(stats(&server).await.handshakes, 1);
    fault(&server, "/_fault/unbuffer-sse").await;
    assert!(matches!(sse.next(PROMPT).await, SseSeen::Comment(_)));
    assert!(matches!(
        sse.next(PROMPT).await,
        SseSeen::Frame(Frame::Welcome(_))
    ));
}

#[tokio::test]
async fn buffer_sse_lets_go_once_64_kib_accumulated() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut sse, w) = sse_client(&server, &hello(None)).await;
    fault(&server, "/_fault/buffer-sse").await;
    // 48 KiB of payload is 64 KiB of base64.
    let big = "x".repeat(48 * 1024);
    assert_eq!(
        post_send(server.addr, &w.session, &[text(1, &big)]).await,
        204
    );
    assert_eq!(sse.frame().await, text(1, &big));
}

#[tokio::test]
async fn kill_polls_cuts_a_held_poll_off_mid_body() {
    let server = start(ServerConfig::test_profile()).await;
    let w = poll_client(server.addr).await;
    fault(&server, "/_fault/kill-polls?ms=200").await;
    let started = Instant::now();
    let path = format!("/holdfast/poll?session={}&cursor=0", w.session);
    let mut conn = Conn::send(server.addr, "GET", &path, &[], &[]).await;
    let (status, _) = conn.head(Duration::from_secs(3)).await.expect("a head");
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(190));
    let mut body = Vec::new();
    let end = loop {
        match conn.body_chunk(Duration::from_secs(3)).await {
            Ok(bytes) => body.extend(bytes),
            Err(end) => break end,
        }
    };
    assert!(matches!(end, BodyEnd::Aborted), "{end:?}");
    assert!(
        holdfast::protocol::split_batch(&body).is_err(),
        "what arrived is not a whole batch"
    );
    // A short poll is answered before the fault's time.
    assert_eq!(poll_status(server.addr, &w.session).await, 200);
    let s = stats(&server).await;
    assert_eq!(s.polls, 1, "a killed poll is not answered");
    fault(&server, "/_fault/kill-polls?ms=0").await;
    assert_eq!(
        poll(server.addr, &w.session, 0, true).await.unwrap().status,
        200
    );
    let (status, _, _) = server.http("POST", "/_fault/kill-polls").await;
    assert_eq!(status, 400, "ms is required");
}

#[tokio::test]
async fn gateway_timeout_answers_a_held_poll_504_and_nothing_is_lost() {
    let server = start(ServerConfig::test_profile()).await;
    let w = poll_client(server.addr).await;
    fault(&server, "/_fault/gateway-timeout?ms=150").await;
    let reply = poll(server.addr, &w.session, 0, true).await.unwrap();
    assert_eq!(reply.status, 504);
    // An echo carried by an answer the "gateway" swallowed comes back on the next poll.
    assert_eq!(
        post_send(server.addr, &w.session, &[text(1, "kept")]).await,
        204
    );
    fault(&server, "/_fault/recover").await;
    assert_eq!(
        poll_texts(server.addr, &w.session, 0, 1).await,
        vec![(1, "kept".to_owned())]
    );
}

/// An SSE stream and a polling session with a held poll, then the fault `route`.
async fn stream_and_held_poll_under(
    server: &Server,
    route: &str,
) -> (Sse, Welcome, tokio::task::JoinHandle<Option<Reply>>) {
    let (sse, _) = sse_client(server, &hello(None)).await;
    let w = poll_client(server.addr).await;
    let held = held_poll(server.addr, &w.session).await;
    fault(server, route).await;
    (sse, w, held)
}

#[tokio::test]
async fn drop_aborts_streams_and_kills_held_polls_and_the_sessions_wait() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut sse, w, held) = stream_and_held_poll_under(&server, "/_fault/drop").await;
    assert!(matches!(sse.end(PROMPT).await, SseSeen::Aborted));
    assert!(held.await.unwrap().is_none(), "the held poll got no answer");
    let s = stats_until(&server, |s| s.streams == 0 && s.attached == 0).await;
    assert_eq!(s.sessions, 2);
    // The polling session's link is gone; a new open resumes it.
    assert_eq!(poll_status(server.addr, &w.session).await, 410);
    let reply = poll_open(server.addr, &resume_hello(Some(&w.session), 0)).await;
    assert_eq!(
        welcome(reply.frames().first()).resume,
        ResumeOutcome::Resumed
    );
}

#[tokio::test]
async fn silent_parks_streams_and_held_polls_until_recovered() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut sse, _, held) = stream_and_held_poll_under(&server, "/_fault/silent").await;
    // No pings, no hold expiry: nothing moves.
    assert!(matches!(
        sse.end(Duration::from_millis(1_500)).await,
        SseSeen::Nothing
    ));
    assert!(!held.is_finished());
    fault(&server, "/_fault/recover").await;
    assert!(matches!(sse.end(PROMPT).await, SseSeen::Aborted));
    assert!(held.await.unwrap().is_none());
}

#[tokio::test]
async fn restart_ends_http_links_and_resumes_fail() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut sse, old) = sse_client(&server, &hello(None)).await;
    let w = poll_client(server.addr).await;
    fault(&server, "/_fault/restart").await;
    assert!(matches!(
        sse.end(PROMPT).await,
        SseSeen::Aborted | SseSeen::Ended
    ));
    assert_eq!(poll_status(server.addr, &w.session).await, 410);
    let (_, again) = sse_client(&server, &resume_hello(Some(&old.session), 0)).await;
    assert_eq!(again.resume, ResumeOutcome::Failed);
    assert_ne!(again.session, old.session);
}

/// `/_fault/close` (the fault matrix's F1, a clean server close): every transport's client is
/// told CLOSE 1012, its connection ends cleanly, and the session stays for the resume.
#[tokio::test]
async fn close_ends_every_connection_cleanly_and_every_session_resumes() {
    let server = start(ServerConfig::test_profile()).await;
    let (mut ws, ws_w) = server.client().await;
    let (mut sse, sse_w) = sse_client(&server, &hello(None)).await;
    let lp = poll_client(server.addr).await;
    let held = held_poll(server.addr, &lp.session).await;
    stats_until(&server, |s| s.attached == 3).await;
    fault(&server, "/_fault/close").await;
    assert_eq!(
        expect_close(&mut ws, 1012).await,
        "server closing connections"
    );
    assert!(matches!(
        sse.frame().await,
        Frame::Close(CloseFrame { code: 1012, .. })
    ));
    assert!(matches!(sse.end(PROMPT).await, SseSeen::Ended));
    let reply = held.await.unwrap().expect("the held poll is answered");
    assert!(
        reply
            .frames()
            .iter()
            .any(|f| matches!(f, Frame::Close(CloseFrame { code: 1012, .. }))),
        "{:?}",
        reply.frames()
    );
    stats_until(&server, |s| s.attached == 0 && s.sessions == 3).await;
    let (_ws, again) = connect_with_hello(&server, &resume_hello(Some(&ws_w.session), 0)).await;
    assert_eq!(again.resume, ResumeOutcome::Resumed);
    let (_sse, again) = sse_client(&server, &resume_hello(Some(&sse_w.session), 0)).await;
    assert_eq!(again.resume, ResumeOutcome::Resumed);
    let reply = poll_open(server.addr, &resume_hello(Some(&lp.session), 0)).await;
    assert_eq!(
        welcome(reply.frames().first()).resume,
        ResumeOutcome::Resumed
    );
}
