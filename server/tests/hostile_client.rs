//! Hostile client input, route by route (issue 11, item 4; TESTING.md "Hostile client input and
//! security (server)"): malformed and oversized bodies and batches, bad query parameters and
//! session ids, floods of polls and POSTs for one session, and resumes of another client's
//! session. Every case must get a clear HTTP status or WebSocket close code, and while each test
//! abuses the server a [`Witness`] keeps two healthy sessions (WebSocket; SSE with sends)
//! streaming numbered echoes, which must lose nothing.

mod common;

use common::hostile::*;
use common::http_client::*;
use common::*;
use holdfast::protocol::{
    encode, encode_base64url, encode_batch, CloseFrame, ErrorCode, ErrorFrame, Frame, Hello,
    ResumeOutcome,
};
use holdfast_server::ServerConfig;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

/// Session ids no client was ever given, as raw request-target bytes: empty, huge, non-ASCII,
/// `/?#` and CR/LF percent-encoded, percent-encoded junk, a raw slash and `?`, a path
/// traversal, and a well-formed id that does not exist.
fn junk_ids() -> Vec<Vec<u8>> {
    vec![
        b"".to_vec(),
        vec![b'a'; 10_000],
        "é日本".as_bytes().to_vec(),
        b"%2F%3F%23".to_vec(),
        b"abc%0D%0AX-Injected:%201".to_vec(),
        b"%00%zz%".to_vec(),
        b"a/b?c".to_vec(),
        b"..%2F..%2Fetc%2Fpasswd".to_vec(),
        b"AAAAAAAAAAAAAAAAAAAAAA".to_vec(),
    ]
}

/// Request targets with bytes HTTP does not allow there (raw space, CR, LF, bytes that are
/// not UTF-8): hyper refuses them with `400` before any route sees them. (A raw `#` is legal:
/// it starts a fragment, which is not part of the query.)
fn unparseable_targets(route: &str) -> Vec<Vec<u8>> {
    let ids: [&[u8]; 4] = [b"a b", b"a\rb", b"a\nb", b"\xff\xfe"];
    ids.iter()
        .map(|id| {
            let mut target = format!("{route}?session=").into_bytes();
            target.extend_from_slice(id);
            target.extend_from_slice(b"&cursor=0");
            target
        })
        .collect()
}

fn is_error(frame: &RawSeen, code: ErrorCode) -> bool {
    matches!(frame, RawSeen::Frame(Frame::Error(ErrorFrame { code: c, .. })) if *c == code)
}

/// The body of a `410` for `session` on `route`, with the status.
async fn gone_answer(addr: SocketAddr, method: &str, target: &[u8]) -> (u16, Vec<u8>) {
    let mut req = format!("{method} ").into_bytes();
    req.extend_from_slice(target);
    req.extend_from_slice(
        b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(&req).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(
        PROMPT,
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut buf),
    )
    .await
    .unwrap()
    .unwrap();
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&buf[..end])
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    (status, buf[end + 4..].to_vec())
}

const GONE_BODY: &[u8] = b"no live HTTP attachment for this session";

#[tokio::test]
async fn websocket_upgrade_requests_that_are_not_upgrades_get_4xx() {
    let server = start(ServerConfig::test_profile()).await;
    let witness = Witness::start(&server).await;
    let close = "Host: x\r\nConnection: close\r\n";
    for (request, want) in [
        // A plain GET: no Upgrade header.
        (format!("GET /holdfast/ws HTTP/1.1\r\n{close}\r\n"), 400),
        // POST is not a WebSocket method.
        (
            format!("POST /holdfast/ws HTTP/1.1\r\n{close}Content-Length: 0\r\n\r\n"),
            405,
        ),
        // An unsupported protocol version.
        (
            "GET /holdfast/ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
                .to_owned(),
            400,
        ),
        // No Sec-WebSocket-Key.
        (
            "GET /holdfast/ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
                .to_owned(),
            400,
        ),
        // Upgrade to something else.
        (
            "GET /holdfast/ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
                .to_owned(),
            400,
        ),
    ] {
        assert_eq!(
            raw_status(server.addr, request.as_bytes()).await,
            Some(want),
            "{request}"
        );
    }
    let s = server.handle.stats();
    assert_eq!((s.sessions, s.connections), (2, 1), "only the witness");
    witness.finish().await;
}

#[tokio::test]
async fn websocket_hellos_with_bad_session_ids_get_error_1_and_close_1002() {
    let server = start(ServerConfig::test_profile()).await;
    let witness = Witness::start(&server).await;
    for id in [
        "a/b",
        "a?b",
        "a#b",
        "a\r\nb",
        "a b",
        "é",
        "%41",
        &"a".repeat(65),
    ] {
        let mut ws = RawWs::open(server.addr, "/holdfast/ws").await;
        ws.send(&hello(Some(id))).await;
        let seen = ws.next(PROMPT).await;
        assert!(is_error(&seen, ErrorCode::BadFrame), "{id:?}: {seen:?}");
        assert!(
            matches!(
                ws.next(PROMPT).await,
                RawSeen::Frame(Frame::Close(CloseFrame { code: 1002, .. }))
            ),
            "{id:?}"
        );
        assert_eq!(ws.next(PROMPT).await, RawSeen::Close(1002), "{id:?}");
    }
    // An empty id is "no session": a new one.
    let (_ws, w) = connect_with_hello(&server, &hello(Some(""))).await;
    assert_eq!(w.resume, ResumeOutcome::New);
    assert_eq!(
        server.handle.stats().sessions,
        3,
        "the witness and the empty-id client"
    );
    witness.finish().await;
}

#[tokio::test]
async fn a_websocket_message_over_the_limit_is_closed_1009_before_its_payload_arrives() {
    let server = start(ServerConfig::test_profile()).await;
    let witness = Witness::start(&server).await;
    // Before HELLO: CLOSE 1009 and the WebSocket close 1009, no session.
    let mut ws = RawWs::open(server.addr, "/holdfast/ws").await;
    let started = Instant::now();
    ws.write_header(0x2, 2 << 20).await;
    assert!(matches!(
        ws.next(PROMPT).await,
        RawSeen::Frame(Frame::Close(CloseFrame { code: 1009, .. }))
    ));
    assert_eq!(ws.next(PROMPT).await, RawSeen::Close(1009));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "at once, not after a timeout"
    );
    // In a session: the session ends with CLOSE 1009, like a payload the decoder refused.
    let mut ws = RawWs::open(server.addr, "/holdfast/ws").await;
    ws.send(&hello(None)).await;
    let RawSeen::Frame(Frame::Welcome(w)) = ws.next(PROMPT).await else {
        panic!("no WELCOME");
    };
    ws.write_header(0x2, u64::MAX >> 1).await; // 2^63 - 1 bytes declared
    assert!(matches!(
        ws.next_significant(PROMPT).await,
        RawSeen::Frame(Frame::Close(CloseFrame { code: 1009, .. }))
    ));
    assert_eq!(ws.next_significant(PROMPT).await, RawSeen::Close(1009));
    eventually("the session ends", || {
        server.handle.hub().session_count() == 2
    })
    .await;
    // It is over: a resume gets a new session.
    let (_ws, again) = connect_with_hello(&server, &resume_hello(Some(&w.session), 0)).await;
    assert_eq!(again.resume, ResumeOutcome::Failed);
    witness.finish().await;
}

#[tokio::test]
async fn websocket_floods_of_frames_garbage_and_text_leave_the_connection_working() {
    let server = start(ServerConfig::test_profile()).await;
    let witness = Witness::start(&server).await;
    let (mut ws, _) = server.client().await;
    // 2,000 PINGs in one burst: 2,000 PONGs, in order.
    for id in 1..=2_000 {
        send(&mut ws, &Frame::Ping { id }).await;
    }
    for id in 1..=2_000 {
        assert_eq!(expect_frame(&mut ws).await, Frame::Pong { id });
    }
    // 500 malformed frames, 100 text messages, 100 unknown frame types: an ERROR 1 for each
    // malformed frame and text message, nothing for the unknown ones, and the connection goes on.
    for _ in 0..500 {
        send_bytes(&mut ws, vec![0x03, 0x01, 0xff]).await;
    }
    for _ in 0..100 {
        futures_util::SinkExt::send(
            &mut ws,
            tokio_tungstenite::tungstenite::Message::text("junk"),
        )
        .await
        .unwrap();
        send_bytes(&mut ws, vec![0x7e, 0, 1, 2]).await;
    }
    for _ in 0..600 {
        assert!(matches!(
            expect_frame(&mut ws).await,
            Frame::Error(ErrorFrame {
                code: ErrorCode::BadFrame,
                ..
            })
        ));
    }
    send(&mut ws, &text(1, "still here")).await;
    assert_eq!(next_data(&mut ws).await, text(1, "still here"));
    witness.finish().await;
}

#[tokio::test]
async fn the_raw_echo_refuses_non_upgrades_and_closes_oversized_messages_1009() {
    let server = start(ServerConfig::test_profile()).await;
    let witness = Witness::start(&server).await;
    assert_eq!(
        raw_get(server.addr, b"/holdfast/raw").await,
        Some(400),
        "not an upgrade"
    );
    let mut ws = RawWs::open(server.addr, "/holdfast/raw").await;
    // A flood of 1,000 messages comes back whole and in order.
    for i in 0u32..1_000 {
        ws.write_binary(&i.to_be_bytes()).await;
    }
    for i in 0u32..1_000 {
        assert_eq!(
            ws.message(PROMPT).await,
            Ok((0x2, i.to_be_bytes().to_vec())),
            "echo {i}"
        );
    }
    // A message over `max_message_bytes` is closed 1009 as soon as its header declares it.
    let started = Instant::now();
    ws.write_header(0x2, 1024 * 1024 + 1).await;
    assert_eq!(ws.message(PROMPT).await, Err(RawSeen::Close(1009)));
    assert!(started.elapsed() < Duration::from_secs(1));
    drop(ws);
    witness.finish().await;
}

#[tokio::test]
async fn sse_gets_with_bad_hellos_get_400_and_open_nothing() {
    let server = start(ServerConfig::test_profile()).await;
    let witness = Witness::start(&server).await;
    let b64 = |frame: &Frame| encode_base64url(&encode(frame));
    let probe = Frame::Hello(Hello {
        min_version: 1,
        max_version: 1,
        session: Some(witness.sse_session.clone()),
        last_seq: 0,
        probe: true,
    });
    let mut targets: Vec<Vec<u8>> = vec![
        b"/holdfast/sse".to_vec(),
        b"/holdfast/sse?hello=".to_vec(),
        b"/holdfast/sse?hello=%41%42%43".to_vec(),
        b"/holdfast/sse?hello=\xc3\xa9\xff".to_vec(),
        b"/holdfast/sse?hello=!!!!".to_vec(),
        format!("/holdfast/sse?hello={}", b64(&Frame::Ping { id: 1 })).into_bytes(),
        // A well-formed base64 HELLO over the 1 KiB a HELLO may take.
        format!("/holdfast/sse?hello={}", "QUFB".repeat(400)).into_bytes(),
        // HELLO frames whose session id breaks the id rules.
        format!("/holdfast/sse?hello={}", b64(&hello(Some("a/b?c#d")))).into_bytes(),
        format!("/holdfast/sse?hello={}", b64(&hello(Some("x\r\ny")))).into_bytes(),
        format!("/holdfast/sse?hello={}", b64(&hello(Some(&"a".repeat(65))))).into_bytes(),
    ];
    // Only the first `hello` counts, and junk parameters around it change nothing.
    targets.push(b"/holdfast/sse?x=%00&hello=zz&hello=AQEBAAA".to_vec());
    for target in &targets {
        let status = raw_get(server.addr, target).await;
        assert_eq!(status, Some(400), "{}", String::from_utf8_lossy(target));
    }
    // A URI longer than the head limit: 431 before a route sees it.
    let huge = format!("/holdfast/sse?hello={}", "A".repeat(70_000));
    assert_eq!(raw_get(server.addr, huge.as_bytes()).await, Some(431));
    // A probe over SSE: refused in the stream (ERROR 1, CLOSE 1002), the witness untouched.
    let mut sse = Sse::open(server.addr, &sse_path(&probe), &[]).await;
    assert_eq!(sse.status, 200);
    assert!(matches!(sse.next(PROMPT).await, SseSeen::Comment(_)));
    assert!(matches!(
        sse.next(PROMPT).await,
        SseSeen::Frame(Frame::Error(ErrorFrame {
            code: ErrorCode::BadFrame,
            ..
        }))
    ));
    assert!(matches!(
        sse.next(PROMPT).await,
        SseSeen::Frame(Frame::Close(CloseFrame { code: 1002, .. }))
    ));
    assert!(matches!(sse.next(PROMPT).await, SseSeen::Ended));
    // POST is not an SSE method.
    let post = request(server.addr, "POST", "/holdfast/sse", &[], b"x").await;
    assert_eq!(post.unwrap().status, 405);
    let s = server.handle.stats();
    assert_eq!((s.sessions, s.streams), (2, 1), "only the witness");
    witness.finish().await;
}

#[tokio::test]
async fn sends_with_junk_session_ids_get_the_same_410_and_unparseable_targets_400() {
    let server = start(ServerConfig::test_profile()).await;
    let witness = Witness::start(&server).await;
    let no_session = gone_answer(server.addr, "POST", b"/holdfast/send").await;
    assert_eq!(
        no_session,
        (410, GONE_BODY.to_vec()),
        "no session parameter"
    );
    for id in junk_ids() {
        let mut target = b"/holdfast/send?session=".to_vec();
        target.extend_from_slice(&id);
        let answer = gone_answer(server.addr, "POST", &target).await;
        assert_eq!(
            answer,
            (410, GONE_BODY.to_vec()),
            "{}",
            String::from_utf8_lossy(&id)
        );
    }
    for target in unparseable_targets("/holdfast/send") {
        let mut req = b"POST ".to_vec();
        req.extend_from_slice(&target);
        req.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(raw_status(server.addr, &req).await, Some(400), "{target:?}");
    }
    // A raw `#`: the rest is a fragment, the id is `a`: unknown.
    let fragment = gone_answer(server.addr, "POST", b"/holdfast/send?session=a#b").await;
    assert_eq!(fragment, (410, GONE_BODY.to_vec()));
    // GET is not a send method.
    assert_eq!(
        raw_get(server.addr, b"/holdfast/send?session=a").await,
        Some(405)
    );
    witness.finish().await;
}

#[tokio::test]
async fn sends_with_malformed_or_oversized_bodies_get_400_or_413_and_the_session_goes_on() {
    let server = start(ServerConfig::test_profile()).await;
    let witness = Witness::start(&server).await;
    let w = poll_client_welcome(server.addr).await;
    let path = format!("/holdfast/send?session={}", w.session);
    let post = |body: Vec<u8>| {
        let path = path.clone();
        async move {
            request(server.addr, "POST", &path, &[], &body)
                .await
                .unwrap()
        }
    };
    let mut over_1024 = Vec::new();
    for _ in 0..1_025 {
        over_1024.extend_from_slice(&encode_batch(&[Frame::Ping { id: 1 }]));
    }
    for (what, body) in [
        ("a varint that never ends", vec![0x80; 11]),
        ("a length beyond the body", vec![0x05, 0x05]),
        ("a length of 2^64 - 1", {
            let mut b = vec![0xff; 9];
            b.push(0x01);
            b
        }),
        ("1,025 frames", over_1024),
    ] {
        let reply = post(body).await;
        assert_eq!(reply.status, 400, "{what}");
        assert!(
            matches!(
                reply.frames().as_slice(),
                [Frame::Error(ErrorFrame {
                    code: ErrorCode::BadFrame,
                    ..
                })]
            ),
            "{what}: an ERROR batch"
        );
    }
    // A good envelope of bad frames: 204, one ERROR 1 each on the downstream; the good frame
    // after them is delivered.
    let mut body = Vec::new();
    for bad in [vec![0x03], vec![0x03, 0x01, 0xff], vec![0x01, 0x01], vec![]] {
        body.push(bad.len() as u8);
        body.extend(bad);
    }
    body.extend(encode_batch(&[text(1, "after the junk")]));
    assert_eq!(post(body).await.status, 204);
    // Oversized: refused on the Content-Length with nothing sent.
    let too_long = (1024 * 1024 + 65_536 + 1).to_string();
    let reply = Conn::send(
        server.addr,
        "POST",
        &path,
        &[("Content-Length", too_long.as_str())],
        &[],
    )
    .await
    .reply()
    .await
    .unwrap();
    assert_eq!(reply.status, 413);
    // A bad Content-Length and a bad chunk: hyper's 400.
    let bad_length = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(
        raw_status(server.addr, bad_length.as_bytes()).await,
        Some(400)
    );
    let bad_chunk = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n"
    );
    assert_eq!(
        raw_status(server.addr, bad_chunk.as_bytes()).await,
        Some(400)
    );
    // Everything that arrived, in order: 4 ERRORs, then the echo.
    let frames = poll(server.addr, &w.session, 0, false)
        .await
        .unwrap()
        .frames();
    let errors = frames
        .iter()
        .filter(|f| matches!(f, Frame::Error(_)))
        .count();
    assert_eq!(errors, 4, "{frames:?}");
    assert_eq!(
        data_texts(&frames),
        vec![(1, "after the junk".to_owned())],
        "{frames:?}"
    );
    witness.finish().await;
}

/// A polling session: its WELCOME.
async fn poll_client_welcome(addr: SocketAddr) -> holdfast::protocol::Welcome {
    let reply = poll_open(addr, &hello(None)).await;
    assert_eq!(reply.status, 200);
    match reply.frames().first() {
        Some(Frame::Welcome(w)) => w.clone(),
        other => panic!("expected WELCOME, got {other:?}"),
    }
}

#[tokio::test]
async fn a_flood_of_concurrent_sends_for_one_session_is_answered_204_in_full() {
    let server = start(ServerConfig::test_profile()).await;
    let witness = Witness::start(&server).await;
    let w = poll_client_welcome(server.addr).await;
    // 50 POSTs at once (the client keeps one in flight), each with one PING: all are handed
    // over, none is lost or answered twice.
    let posts: Vec<_> = (1..=50)
        .map(|id| {
            let session = w.session.clone();
            let addr = server.addr;
            tokio::spawn(async move { post_send(addr, &session, &[Frame::Ping { id }]).await })
        })
        .collect();
    for post in posts {
        assert_eq!(post.await.unwrap(), 204);
    }
    let mut pongs: Vec<u64> = poll(server.addr, &w.session, 0, false)
        .await
        .unwrap()
        .frames()
        .into_iter()
        .filter_map(|f| match f {
            Frame::Pong { id } => Some(id),
            _ => None,
        })
        .collect();
    pongs.sort_unstable();
    assert_eq!(pongs, (1..=50).collect::<Vec<_>>());
    // The session still works.
    assert_eq!(
        post_send(server.addr, &w.session, &[text(1, "ok")]).await,
        204
    );
    let frames = poll(server.addr, &w.session, 0, false)
        .await
        .unwrap()
        .frames();
    assert_eq!(data_texts(&frames), vec![(1, "ok".to_owned())]);
    witness.finish().await;
}

#[tokio::test]
async fn poll_opens_with_bad_bodies_get_400_413_or_a_refusal_batch() {
    let server = start(ServerConfig::test_profile()).await;
    let witness = Witness::start(&server).await;
    let open = |body: Vec<u8>| async move {
        request(server.addr, "POST", "/holdfast/poll/open", &[], &body)
            .await
            .unwrap()
    };
    let mut over_1024 = encode_batch(&[hello(None)]);
    for _ in 0..1_024 {
        over_1024.extend_from_slice(&encode_batch(&[Frame::Ping { id: 1 }]));
    }
    for (what, body) in [
        ("an empty body", Vec::new()),
        ("garbage", b"GET / HTTP/1.1\r\n".to_vec()),
        (
            "a batch that starts with PING",
            encode_batch(&[Frame::Ping { id: 1 }]),
        ),
        ("a HELLO cut short", vec![2, 0x01, 0x01]),
        (
            "a HELLO whose id has /?#",
            encode_batch(&[hello(Some("a/?#"))]),
        ),
        (
            "a HELLO whose id has CR LF",
            encode_batch(&[hello(Some("a\r\n"))]),
        ),
        ("a HELLO and 1,024 more frames", over_1024),
    ] {
        assert_eq!(open(body).await.status, 400, "{what}");
    }
    // A probe, or a version range without 1: a refusal batch (ERROR + CLOSE 1002).
    let probe = Frame::Hello(Hello {
        min_version: 1,
        max_version: 1,
        session: Some(witness.sse_session.clone()),
        last_seq: 0,
        probe: true,
    });
    let v9 = Frame::Hello(Hello {
        min_version: 9,
        max_version: 9,
        session: None,
        last_seq: 0,
        probe: false,
    });
    for (hello, code) in [
        (probe, ErrorCode::BadFrame),
        (v9, ErrorCode::VersionUnsupported),
    ] {
        let reply = open(encode_batch(&[hello])).await;
        assert_eq!(reply.status, 200);
        assert!(
            matches!(
                reply.frames().as_slice(),
                [Frame::Error(ErrorFrame { code: c, .. }), Frame::Close(CloseFrame { code: 1002, .. })]
                    if *c == code
            ),
            "{:?}",
            reply.frames()
        );
    }
    let too_long = (1024 * 1024 + 65_536 + 1).to_string();
    let reply = Conn::send(
        server.addr,
        "POST",
        "/holdfast/poll/open",
        &[("Content-Length", too_long.as_str())],
        &[],
    )
    .await
    .reply()
    .await
    .unwrap();
    assert_eq!(reply.status, 413);
    assert_eq!(
        raw_get(server.addr, b"/holdfast/poll/open").await,
        Some(405)
    );
    assert_eq!(server.handle.stats().sessions, 2, "only the witness");
    witness.finish().await;
}

#[tokio::test]
async fn a_flood_of_poll_opens_stops_at_max_sessions_with_error_5() {
    let server = start(ServerConfig {
        max_sessions: 12,
        ..ServerConfig::test_profile()
    })
    .await;
    let witness = Witness::start(&server).await;
    let opens: Vec<_> = (0..30)
        .map(|_| {
            let addr = server.addr;
            tokio::spawn(async move { poll_open(addr, &hello(None)).await })
        })
        .collect();
    let (mut welcomed, mut refused) = (0, 0);
    for open in opens {
        let reply = open.await.unwrap();
        assert_eq!(reply.status, 200);
        match reply.frames().as_slice() {
            [Frame::Welcome(_), ..] => welcomed += 1,
            [Frame::Error(ErrorFrame {
                code: ErrorCode::TryLater,
                retry_after_ms,
                ..
            }), Frame::Close(CloseFrame { code: 1013, .. })] => {
                assert!(*retry_after_ms > 0);
                refused += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((welcomed, refused), (10, 20));
    assert_eq!(server.handle.stats().sessions, 12);
    witness.finish().await;
}

#[tokio::test]
async fn polls_with_bad_queries_get_400_or_the_same_410() {
    let server = start(ServerConfig::test_profile()).await;
    let witness = Witness::start(&server).await;
    let w = poll_client_welcome(server.addr).await;
    let live = &w.session;
    for target in [
        "/holdfast/poll".to_owned(),
        "/holdfast/poll?cursor=0".to_owned(),
        format!("/holdfast/poll?session={live}"),
        format!("/holdfast/poll?session={live}&cursor="),
        format!("/holdfast/poll?session={live}&cursor=-1"),
        format!("/holdfast/poll?session={live}&cursor=1.5"),
        format!("/holdfast/poll?session={live}&cursor=18446744073709551616"),
        format!("/holdfast/poll?session={live}&cursor=%31"),
        format!("/holdfast/poll?session={live}&cursor=0x10"),
        // A raw `#` starts a fragment: the cursor after it is not in the query.
        format!("/holdfast/poll?session={live}#&cursor=0"),
    ] {
        assert_eq!(
            raw_get(server.addr, target.as_bytes()).await,
            Some(400),
            "{target}"
        );
    }
    for id in junk_ids() {
        let mut target = b"/holdfast/poll?session=".to_vec();
        target.extend_from_slice(&id);
        target.extend_from_slice(b"&cursor=0&hold=0");
        let answer = gone_answer(server.addr, "GET", &target).await;
        assert_eq!(
            answer,
            (410, GONE_BODY.to_vec()),
            "{}",
            String::from_utf8_lossy(&id)
        );
    }
    for target in unparseable_targets("/holdfast/poll") {
        let mut req = b"GET ".to_vec();
        req.extend_from_slice(&target);
        req.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(raw_status(server.addr, &req).await, Some(400), "{target:?}");
    }
    // The live session was not disturbed by any of it; a cursor of u64::MAX frees only what
    // was sent, and `hold=junk` is a long poll.
    let max = format!("/holdfast/poll?session={live}&cursor=18446744073709551615&hold=0");
    assert_eq!(raw_get(server.addr, max.as_bytes()).await, Some(200));
    assert_eq!(post_send(server.addr, live, &[text(1, "x")]).await, 204);
    let held = format!("/holdfast/poll?session={live}&cursor=0&hold=%zz");
    let reply = request(server.addr, "GET", &held, &[], &[]).await.unwrap();
    assert_eq!(reply.texts(), vec![(1, "x".to_owned())]);
    assert_eq!(
        raw_status(
            server.addr,
            b"POST /holdfast/poll HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        )
        .await,
        Some(405)
    );
    witness.finish().await;
}

#[tokio::test]
async fn concurrent_long_polls_for_one_session_hold_at_most_one() {
    let server = start(ServerConfig::test_profile()).await;
    let witness = Witness::start(&server).await;
    let w = poll_client_welcome(server.addr).await;
    let started = Instant::now();
    let polls: Vec<_> = (0..20)
        .map(|_| {
            let (addr, session) = (server.addr, w.session.clone());
            tokio::spawn(async move { poll(addr, &session, 0, true).await })
        })
        .collect();
    // Each newer poll ends the held one with an empty 200: 19 are answered at once.
    let deadline = Instant::now() + PROMPT;
    while polls.iter().filter(|p| p.is_finished()).count() < 19 {
        assert!(
            Instant::now() < deadline,
            "the overlapped polls were not answered"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let at_once = started.elapsed();
    assert!(at_once < Duration::from_millis(900), "{at_once:?}");
    assert_eq!(
        polls.iter().filter(|p| !p.is_finished()).count(),
        1,
        "one is held"
    );
    assert_eq!(server.handle.stats().poll_overlaps, 19);
    // The one held is the live one: an echo answers it.
    assert_eq!(
        post_send(server.addr, &w.session, &[text(1, "for the held one")]).await,
        204
    );
    let mut carried = Vec::new();
    for p in polls {
        let reply = p.await.unwrap().expect("every poll is answered");
        assert_eq!(reply.status, 200);
        carried.extend(reply.texts());
    }
    assert_eq!(carried, vec![(1, "for the held one".to_owned())]);
    // A burst of 200 short polls: all answered 200 at once.
    let burst = Instant::now();
    for _ in 0..200 {
        let reply = poll(server.addr, &w.session, 1, false).await.unwrap();
        assert_eq!(reply.status, 200);
        assert!(reply.texts().is_empty(), "nothing new (PINGs at most)");
    }
    assert!(
        burst.elapsed() < Duration::from_secs(5),
        "{:?}",
        burst.elapsed()
    );
    witness.finish().await;
}

/// Ids one edit away from `id`: case flipped, cut short, one longer, first character dropped,
/// last character changed.
fn near_misses(id: &str) -> Vec<String> {
    let flip = |c: char| {
        if c.is_ascii_uppercase() {
            c.to_ascii_lowercase()
        } else if c.is_ascii_lowercase() {
            c.to_ascii_uppercase()
        } else {
            'Q'
        }
    };
    let last = id.chars().last().unwrap();
    vec![
        id.chars().map(flip).collect(),
        id[..id.len() - 1].to_owned(),
        format!("{id}A"),
        id[1..].to_owned(),
        format!(
            "{}{}",
            &id[..id.len() - 1],
            if last == 'z' { 'y' } else { 'z' }
        ),
    ]
}

#[tokio::test]
async fn resumes_of_another_clients_session_need_its_exact_id_and_never_disturb_it() {
    let server = start(ServerConfig::test_profile()).await;
    let witness = Witness::start(&server).await;
    let victims = [witness.ws_session.clone(), witness.sse_session.clone()];
    for victim in &victims {
        for guess in near_misses(victim) {
            // WebSocket: a new session, marked "resume failed".
            let (_ws, w) = connect_with_hello(&server, &resume_hello(Some(&guess), 0)).await;
            assert_eq!(w.resume, ResumeOutcome::Failed, "{guess}");
            assert!(!victims.contains(&w.session), "{guess}");
            // SSE and poll open: the same.
            let mut sse =
                Sse::open(server.addr, &sse_path(&resume_hello(Some(&guess), 0)), &[]).await;
            assert!(matches!(sse.next(PROMPT).await, SseSeen::Comment(_)));
            match sse.next(PROMPT).await {
                SseSeen::Frame(Frame::Welcome(w)) => {
                    assert_eq!(w.resume, ResumeOutcome::Failed, "{guess}");
                    assert!(!victims.contains(&w.session), "{guess}");
                }
                other => panic!("{guess}: {other:?}"),
            }
            let reply = poll_open(server.addr, &resume_hello(Some(&guess), 0)).await;
            match reply.frames().first() {
                Some(Frame::Welcome(w)) => {
                    assert_eq!(w.resume, ResumeOutcome::Failed, "{guess}");
                    assert!(!victims.contains(&w.session), "{guess}");
                }
                other => panic!("{guess}: {other:?}"),
            }
            // Sends and polls: the 410 of any unknown session.
            let send = format!("/holdfast/send?session={guess}");
            let answer = gone_answer(server.addr, "POST", send.as_bytes()).await;
            assert_eq!(answer, (410, GONE_BODY.to_vec()), "{guess}");
            let poll = format!("/holdfast/poll?session={guess}&cursor=0&hold=0");
            let answer = gone_answer(server.addr, "GET", poll.as_bytes()).await;
            assert_eq!(answer, (410, GONE_BODY.to_vec()), "{guess}");
            // A probe: ERROR 3, CLOSE 1000.
            let mut ws = RawWs::open(server.addr, "/holdfast/ws").await;
            ws.send(&Frame::Hello(Hello {
                min_version: 1,
                max_version: 1,
                session: Some(guess.clone()),
                last_seq: 0,
                probe: true,
            }))
            .await;
            assert!(
                is_error(&ws.next(PROMPT).await, ErrorCode::SessionUnknown),
                "{guess}"
            );
        }
    }
    // With the exact ids, what the protocol allows and nothing more: a probe is answered
    // without taking delivery away; a poll of the SSE session and a send to the WebSocket
    // session find no HTTP link of theirs (410).
    let mut ws = RawWs::open(server.addr, "/holdfast/ws").await;
    ws.send(&Frame::Hello(Hello {
        min_version: 1,
        max_version: 1,
        session: Some(witness.ws_session.clone()),
        last_seq: 0,
        probe: true,
    }))
    .await;
    assert!(matches!(
        ws.next(PROMPT).await,
        RawSeen::Frame(Frame::Welcome(w)) if w.resume == ResumeOutcome::Resumed
    ));
    drop(ws);
    let poll_sse = format!(
        "/holdfast/poll?session={}&cursor=0&hold=0",
        witness.sse_session
    );
    assert_eq!(
        gone_answer(server.addr, "GET", poll_sse.as_bytes()).await.0,
        410
    );
    assert_eq!(
        post_send(server.addr, &witness.ws_session, &[text(1, "x")]).await,
        410
    );
    witness.finish().await;
}

#[tokio::test]
async fn an_exact_session_id_is_a_bearer_secret_and_its_holder_takes_the_session_over() {
    // PROTOCOL.md §5: a newer connection resuming a session supersedes the older one. The id
    // is all it takes, which is why ids are unguessable (security.rs, SEC-6).
    let server = start(ServerConfig::test_profile()).await;
    let (mut victim, w) = server.client().await;
    let (mut taker, resumed) =
        connect_with_hello(&server, &resume_hello(Some(&w.session), 0)).await;
    assert_eq!(
        (resumed.resume, resumed.session.as_str()),
        (ResumeOutcome::Resumed, w.session.as_str())
    );
    // The older connection is dropped without a CLOSE: the session itself goes on.
    expect_dropped(&mut victim).await;
    send(&mut taker, &text(1, "mine now")).await;
    assert_eq!(next_data(&mut taker).await, text(1, "mine now"));
    // The victim resumes the same way and gets its session (and the echo) back.
    let (mut back, again) = connect_with_hello(&server, &resume_hello(Some(&w.session), 0)).await;
    assert_eq!(again.resume, ResumeOutcome::Resumed);
    assert_eq!(next_data(&mut back).await, text(1, "mine now"));
    expect_dropped(&mut taker).await;
}
