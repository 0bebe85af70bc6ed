//! Server-side security tests (issue 11, item 6; the SEC ids of docs/reliability.md; TESTING.md
//! "Hostile client input and security (server)"): the Origin allow-list on every transport route
//! (SEC-2), tokens in URLs never logged or reflected (SEC-3), size limits before allocation
//! (SEC-4), header abuse and slow clients (SEC-5), session ids (SEC-6), and containment of
//! one session's bad input or panic (SEC-9).

mod common;

use common::hostile::*;
use common::http_client::*;
use common::*;
use holdfast::core::Instant as CoreInstant;
use holdfast::protocol::{
    encode, encode_base64url, encode_batch, is_valid_session_id, CloseFrame, ErrorCode, Frame,
    Hello, ResumeOutcome,
};
use holdfast_server::{
    App, DemoApp, Hub, MemoryStore, Message as AppMessage, ServerConfig, SessionConfig,
    SessionStore,
};
use std::collections::HashSet;
use std::io::{BufRead, Read};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

const FOREIGN_ORIGINS: &[&str] = &[
    "http://evil.example",
    "null",
    "http://127.0.0.1.evil.example",
    "http://localhost.evil.example:8080",
    "http://127.0.0.1@evil.example",
    "HTTP://EVIL.EXAMPLE",
    "http://localhost:99999",
    "file://",
    "https://localhost:8080/../evil",
];

// ---------------------------------------------------------------------------------------------
// SEC-2: the Origin allow-list on every transport route.

#[tokio::test]
async fn sec2_every_transport_route_refuses_a_foreign_origin() {
    let server = start(ServerConfig::test_profile()).await;
    let witness = Witness::start(&server).await;
    let live = witness.sse_session.clone();
    let batch = encode_batch(&[hello(None)]);
    for &origin in FOREIGN_ORIGINS {
        // WebSocket: ERROR 6 and CLOSE 1008 over an accepted upgrade, even after a HELLO.
        let mut ws = connect_with_origin(&server.ws_url(), origin).await.unwrap();
        send(&mut ws, &hello(Some(&witness.ws_session))).await;
        match next(&mut ws, PROMPT).await {
            Seen::Frame(Frame::Error(e)) => assert_eq!(e.code, ErrorCode::Forbidden, "{origin}"),
            other => panic!("{origin}: expected ERROR 6, saw {other:?}"),
        }
        expect_close(&mut ws, 1008).await;
        // The raw echo: 403 before the upgrade.
        match connect_with_origin(&server.raw_url(), origin).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
                assert_eq!(r.status(), 403, "{origin}")
            }
            other => panic!("{origin}: expected 403, got {:?}", other.map(|_| ())),
        }
        // Every HTTP route: 403 without CORS headers, before anything is read.
        for (method, path) in [
            ("GET", sse_path(&resume_hello(Some(&live), 0))),
            ("POST", format!("/holdfast/send?session={live}")),
            ("POST", "/holdfast/poll/open".to_owned()),
            ("GET", format!("/holdfast/poll?session={live}&cursor=0")),
            ("OPTIONS", "/holdfast/send".to_owned()),
        ] {
            let reply = request(server.addr, method, &path, &[("Origin", origin)], &batch)
                .await
                .unwrap();
            assert_eq!(reply.status, 403, "{origin} {method} {path}");
            assert!(
                !reply.head.contains("access-control-"),
                "{origin} {method} {path}"
            );
        }
    }
    let s = server.handle.stats();
    assert_eq!(
        (s.sessions, s.handshakes),
        (2, 2),
        "nothing but the witness was opened"
    );
    witness.finish().await;
}

#[tokio::test]
async fn sec2_a_cross_site_simple_post_is_refused_and_reaches_no_session() {
    let recorder = Arc::new(Recorder::default());
    let server = start_with(ServerConfig::test_profile(), recorder.clone()).await;
    let (mut sse, w) = {
        let mut sse = Sse::open(server.addr, &sse_path(&hello(None)), &[]).await;
        assert!(matches!(sse.next(PROMPT).await, SseSeen::Comment(_)));
        let SseSeen::Frame(Frame::Welcome(w)) = sse.next(PROMPT).await else {
            panic!("no WELCOME")
        };
        (sse, w)
    };
    let path = format!("/holdfast/send?session={}", w.session);
    let body = encode_batch(&[text(1, "csrf")]);
    // What a cross-site <form> or fetch(no-cors) can send without a preflight.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let headers = [
            ("Origin", "http://evil.example"),
            ("Content-Type", content_type),
        ];
        let reply = request(server.addr, "POST", &path, &headers, &body)
            .await
            .unwrap();
        assert_eq!(reply.status, 403, "{content_type}");
    }
    // Nothing reached the session: no echo, nothing delivered to the app.
    match sse.end(Duration::from_millis(300)).await {
        SseSeen::Nothing => {}
        other => panic!("the forged send got through: {other:?}"),
    }
    assert!(recorder.texts(&w.session).is_empty());
    // The same POST from an allowed page is delivered.
    let headers = [
        ("Origin", "http://127.0.0.1:5173"),
        ("Content-Type", "text/plain"),
    ];
    let reply = request(server.addr, "POST", &path, &headers, &body)
        .await
        .unwrap();
    assert_eq!(reply.status, 204);
    assert_eq!(sse.frame().await, text(1, "csrf"));
    assert_eq!(recorder.texts(&w.session), vec!["csrf".to_owned()]);
}

// ---------------------------------------------------------------------------------------------
// SEC-3: tokens in URLs are never logged, nor reflected in answers.

/// A token that looks like a session id and appears nowhere else.
const TOKEN: &str = "SECRETtoken_0123456789";

#[tokio::test]
async fn sec3_tokens_in_urls_are_never_logged_or_reflected() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_holdfast-server"))
        .args(["--test-profile", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let addr: SocketAddr = first
        .trim()
        .strip_prefix("listening on http://")
        .expect("the listening line")
        .parse()
        .unwrap();
    let hello_token = encode_base64url(&encode(&resume_hello(Some(TOKEN), 0)));
    let q = format!("session={TOKEN}&token={TOKEN}");
    let mut answers = Vec::new();
    for (method, path) in [
        (
            "GET",
            format!("/holdfast/sse?hello={hello_token}&token={TOKEN}"),
        ),
        ("GET", format!("/holdfast/sse?hello={TOKEN}")),
        ("POST", format!("/holdfast/send?{q}")),
        ("GET", format!("/holdfast/poll?{q}&cursor=0&hold=0")),
        ("GET", format!("/holdfast/poll?{q}&cursor=x")),
        ("POST", format!("/holdfast/poll/open?{q}")),
        ("GET", format!("/holdfast/ws?{q}")),
        ("GET", format!("/holdfast/raw?{q}")),
        ("GET", format!("/nowhere?{q}")),
        (
            "GET",
            format!("/holdfast/poll?{q}&pad={}", "p".repeat(70_000)),
        ),
    ] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\
             Origin: http://evil.example/{TOKEN}\r\n\r\n"
        );
        let _ = stream.write_all(req.as_bytes()).await;
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(PROMPT, stream.read_to_end(&mut buf)).await;
        answers.push((path.clone(), String::from_utf8_lossy(&buf).into_owned()));
        // The same without the foreign Origin, so the routes themselves answer.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        );
        let _ = stream.write_all(req.as_bytes()).await;
        let mut buf = Vec::new();
        // An SSE stream does not end by itself: a short read is enough.
        let _ =
            tokio::time::timeout(Duration::from_millis(300), stream.read_to_end(&mut buf)).await;
        answers.push((path, String::from_utf8_lossy(&buf).into_owned()));
    }
    // A WebSocket HELLO resuming the token, and a slowloris head carrying it.
    let mut ws = RawWs::open(addr, &format!("/holdfast/ws?token={TOKEN}")).await;
    ws.send(&resume_hello(Some(TOKEN), 0)).await;
    match ws.next(PROMPT).await {
        RawSeen::Frame(Frame::Welcome(w)) => assert_ne!(w.session, TOKEN),
        other => panic!("expected WELCOME, saw {other:?}"),
    }
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(format!("GET /holdfast/poll?session={TOKEN}").as_bytes())
        .await
        .unwrap();
    assert!(closed_within(&mut slow, Duration::from_secs(4)).await);
    for (path, answer) in &answers {
        assert!(
            !answer.contains(TOKEN),
            "{path} reflected the token: {answer}"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let output = format!("{first}{rest}{stderr}");
    assert!(!output.contains(TOKEN), "the token was logged: {output}");
    assert_eq!(output.trim(), first.trim(), "nothing is logged per request");
}

// ---------------------------------------------------------------------------------------------
// SEC-4: size limits, checked before allocating.

#[tokio::test]
async fn sec4_every_size_limit_is_enforced_before_the_bytes_arrive() {
    let server = start(ServerConfig::test_profile()).await;
    let witness = Witness::start(&server).await;
    // A head over `max_header_bytes` (64 KiB) that never ends: 431 once the limit is reached,
    // without waiting for the rest.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /holdfast/poll?session=a&cursor=0 HTTP/1.1\r\nHost: x\r\nX-Big: ")
        .await
        .unwrap();
    stream.write_all(&vec![b'a'; 64 * 1024]).await.unwrap();
    let (status, _) = read_head(&mut stream, PROMPT).await.expect("an answer");
    assert_eq!(status, 431);
    // Bodies: a Content-Length over the limit is refused with no byte of the body sent, on both
    // routes that read one.
    let w = poll_open(server.addr, &hello(None)).await;
    let Some(Frame::Welcome(w)) = w.frames().first().cloned() else {
        panic!("no WELCOME")
    };
    let over = (1024 * 1024 + 65_536 + 1).to_string();
    for path in [
        format!("/holdfast/send?session={}", w.session),
        "/holdfast/poll/open".into(),
    ] {
        let reply = Conn::send(
            server.addr,
            "POST",
            &path,
            &[("Content-Length", &over)],
            &[],
        )
        .await
        .reply()
        .await
        .unwrap();
        assert_eq!(reply.status, 413, "{path}");
    }
    // A WebSocket message (protocol and raw) declared over the limit: 1009 before its payload.
    for route in ["/holdfast/ws", "/holdfast/raw"] {
        let mut ws = RawWs::open(server.addr, route).await;
        ws.write_header(0x2, 64 << 20).await;
        let deadline = Instant::now() + PROMPT;
        loop {
            match ws.message(deadline - Instant::now()).await {
                Ok(_) => {} // the protocol endpoint's CLOSE frame
                Err(seen) => {
                    assert_eq!(seen, RawSeen::Close(1009), "{route}");
                    break;
                }
            }
        }
    }
    // A batch of more than 1,024 frames: 400, and an SSE `hello` over 1 KiB: 400.
    let mut body = Vec::new();
    for _ in 0..1_025 {
        body.extend(encode_batch(&[Frame::Ping { id: 1 }]));
    }
    let path = format!("/holdfast/send?session={}", w.session);
    assert_eq!(
        request(server.addr, "POST", &path, &[], &body)
            .await
            .unwrap()
            .status,
        400
    );
    let long_hello = format!("/holdfast/sse?hello={}", "QUFB".repeat(400));
    assert_eq!(raw_get(server.addr, long_hello.as_bytes()).await, Some(400));
    witness.finish().await;
}

// ---------------------------------------------------------------------------------------------
// SEC-5: header abuse, slow heads and slow bodies.

/// Writes `bytes` one at a time, `pace` apart, until the server closes the connection; returns
/// the answer's status if one came, and when the connection ended.
async fn trickle(addr: SocketAddr, bytes: Vec<u8>, pace: Duration) -> (Option<u16>, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut answer = Vec::new();
    for b in bytes {
        if stream.write_all(&[b]).await.is_err() {
            break;
        }
        let mut chunk = [0u8; 1024];
        match tokio::time::timeout(pace, stream.read(&mut chunk)).await {
            Err(_) => continue,
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&chunk[..n]);
                let _ = tokio::time::timeout(PROMPT, stream.read_to_end(&mut answer)).await;
                break;
            }
        }
    }
    let status = String::from_utf8_lossy(&answer)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok());
    (status, started.elapsed())
}

#[tokio::test]
async fn sec5_header_abuse_is_refused_quickly_and_slow_clients_time_out() {
    // The test profile: header and body read timeouts of 2 s.
    let server = start(ServerConfig::test_profile()).await;
    let witness = Witness::start(&server).await;
    let addr = server.addr;
    let thousand_headers = async {
        let mut req = String::from("GET /holdfast/poll?session=a&cursor=0 HTTP/1.1\r\nHost: x\r\n");
        for i in 0..1_000 {
            req.push_str(&format!("X-Header-{i}: {i}\r\n"));
        }
        req.push_str("\r\n");
        let started = Instant::now();
        assert_eq!(raw_status(addr, req.as_bytes()).await, Some(431));
        assert!(started.elapsed() < Duration::from_secs(1));
    };
    let twenty_mb_header = async {
        let started = Instant::now();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /holdfast/poll?session=a&cursor=0 HTTP/1.1\r\nHost: x\r\nX-Big: ")
            .await
            .unwrap();
        let chunk = vec![b'a'; 64 * 1024];
        let mut sent = 0;
        while sent < 20 << 20 {
            match tokio::time::timeout(PROMPT, stream.write_all(&chunk)).await {
                Ok(Ok(())) => sent += chunk.len(),
                _ => break, // the server stopped reading and closed
            }
        }
        let (status, _) = read_head(&mut stream, PROMPT).await.expect("an answer");
        assert_eq!(status, 431);
        assert!(sent < 20 << 20, "the server read all 20 MB");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    };
    let slow_head = async {
        // One byte per 100 ms: a 60-byte head would take 6 s; the server gives up at 2 s.
        let head = b"GET /holdfast/poll?session=a&cursor=0 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
        let (status, took) = trickle(addr, head, Duration::from_millis(100)).await;
        assert_eq!(status, None, "closed without an answer");
        assert!(
            took >= Duration::from_millis(1_900) && took < Duration::from_millis(3_500),
            "{took:?}"
        );
    };
    let slow_body = |path: &'static str| async move {
        // The head at once, then the body one byte per 100 ms: 408 at 2 s.
        let started = Instant::now();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = None;
        for _ in 0..100 {
            if stream.write_all(&[0]).await.is_err() {
                break;
            }
            if let Some(head) = read_head(&mut stream, Duration::from_millis(100)).await {
                answer = Some(head);
                break;
            }
        }
        let (status, head) = answer.expect("an answer");
        assert_eq!(status, 408, "{path}");
        assert!(head.contains("connection: close"), "{head}");
        assert!(
            closed_within(&mut stream, PROMPT).await,
            "{path}: the connection closes"
        );
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1_900) && took < Duration::from_millis(3_500),
            "{took:?}"
        );
    };
    tokio::join!(
        thousand_headers,
        twenty_mb_header,
        slow_head,
        slow_body("/holdfast/send?session=a"),
        slow_body("/holdfast/poll/open"),
    );
    witness.finish().await;
}

#[tokio::test]
async fn sec5_the_head_limits_and_timeouts_are_configurable() {
    let server = start(ServerConfig {
        max_headers: 10,
        max_header_bytes: 2048,
        header_read_timeout_ms: 300,
        body_read_timeout_ms: 300,
        ..ServerConfig::test_profile()
    })
    .await;
    let mut req = String::from("GET /holdfast/poll?session=a&cursor=0 HTTP/1.1\r\nHost: x\r\n");
    for i in 0..8 {
        req.push_str(&format!("X-{i}: {i}\r\n"));
    }
    assert_eq!(
        raw_status(
            server.addr,
            format!("{req}Connection: close\r\n\r\n").as_bytes()
        )
        .await,
        Some(410)
    );
    for i in 8..12 {
        req.push_str(&format!("X-{i}: {i}\r\n"));
    }
    assert_eq!(
        raw_status(server.addr, format!("{req}\r\n").as_bytes()).await,
        Some(431)
    );
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(2048)
    );
    assert_eq!(raw_status(server.addr, big.as_bytes()).await, Some(431));
    let started = Instant::now();
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    assert!(closed_within(&mut idle, PROMPT).await);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(280) && took < Duration::from_millis(1_500),
        "{took:?}"
    );
    // A keep-alive connection idle between requests is closed the same way.
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    kept.write_all(b"GET /holdfast/poll?session=a&cursor=0 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_head(&mut kept, PROMPT).await.unwrap().0, 410);
    let started = Instant::now();
    assert!(closed_within(&mut kept, PROMPT).await);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_millis(1_500),
        "{took:?}"
    );
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"POST /holdfast/poll/open HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
        .await
        .unwrap();
    let (status, _) = read_head(&mut slow, PROMPT).await.unwrap();
    assert_eq!(status, 408);
}

// ---------------------------------------------------------------------------------------------
// SEC-6: session ids.

/// The 132 bits of a 22-character id (6 bits per character of `[A-Za-z0-9-_]`).
fn id_bits(id: &str) -> Vec<bool> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    id.bytes()
        .flat_map(|c| {
            let v = ALPHABET.iter().position(|&a| a == c).unwrap();
            (0..6).rev().map(move |bit| (v >> bit) & 1 == 1)
        })
        .collect()
}

#[tokio::test]
async fn sec6_session_ids_are_132_random_bits_unique_and_unstructured() {
    // 10,000 ids the way the server makes them (its store), in creation order.
    const N: usize = 10_000;
    let store = MemoryStore::new(N);
    let ids: Vec<String> = (0..N)
        .map(|_| {
            store
                .create(SessionConfig::default(), CoreInstant::from_millis(0))
                .unwrap()
                .id()
                .to_owned()
        })
        .collect();
    for id in &ids {
        assert_eq!(id.len(), 22, "{id}");
        assert!(is_valid_session_id(id), "{id}");
    }
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), N, "unique");
    let bits: Vec<Vec<bool>> = ids.iter().map(|id| id_bits(id)).collect();
    // Every one of the 132 bits is balanced: 5,000 ones ± 6σ (σ = 50).
    for position in 0..132 {
        let ones = bits.iter().filter(|b| b[position]).count();
        assert!(
            (4_700..=5_300).contains(&ones),
            "bit {position}: {ones} ones of {N}"
        );
    }
    // Every character position is uniform over the 64 symbols: chi-square with 63 degrees of
    // freedom under 150 (p < 1e-8 for a uniform source).
    for position in 0..22 {
        let mut counts = [0f64; 64];
        for b in &bits {
            let v = b[position * 6..position * 6 + 6]
                .iter()
                .fold(0usize, |acc, &bit| acc * 2 + usize::from(bit));
            counts[v] += 1.0;
        }
        let expected = N as f64 / 64.0;
        let chi2: f64 = counts
            .iter()
            .map(|c| (c - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 150.0, "position {position}: chi-square {chi2}");
    }
    // No shared prefixes beyond chance: neighbours in sorted order share < 8 characters.
    let mut sorted = ids.clone();
    sorted.sort();
    let longest = sorted
        .windows(2)
        .map(|w| {
            w[0].bytes()
                .zip(w[1].bytes())
                .take_while(|(a, b)| a == b)
                .count()
        })
        .max()
        .unwrap();
    assert!(longest < 8, "two ids share a {longest}-character prefix");
    // No sequential structure: consecutive ids differ in about half their bits (66 ± 36,
    // i.e. ± 6σ), and on average in 66 ± 1.
    let distances: Vec<usize> = bits
        .windows(2)
        .map(|w| w[0].iter().zip(&w[1]).filter(|(a, b)| a != b).count())
        .collect();
    for (i, d) in distances.iter().enumerate() {
        assert!(
            (30..=102).contains(d),
            "ids {i} and {} differ in {d} bits",
            i + 1
        );
    }
    let mean = distances.iter().sum::<usize>() as f64 / distances.len() as f64;
    assert!((65.0..=67.0).contains(&mean), "mean distance {mean}");
    // The running server hands out ids of the same shape, all distinct.
    let server = start(ServerConfig::test_profile()).await;
    let mut served = HashSet::new();
    for _ in 0..50 {
        let reply = poll_open(server.addr, &hello(None)).await;
        let Some(Frame::Welcome(w)) = reply.frames().first().cloned() else {
            panic!("no WELCOME")
        };
        assert_eq!(w.session.len(), 22);
        assert!(is_valid_session_id(&w.session));
        assert!(served.insert(w.session));
    }
}

/// Everything a client can observe about `id` without holding a live attachment of it: the
/// send and poll answers (status, body and headers but `date`), what a WebSocket, SSE and poll
/// open resume get (resume outcome, ack, whether the id came back) and what a probe gets.
async fn observe_unknown(server: &Server, id: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for (method, path) in [
        ("POST", format!("/holdfast/send?session={id}")),
        (
            "GET",
            format!("/holdfast/poll?session={id}&cursor=0&hold=0"),
        ),
    ] {
        let reply = request(server.addr, method, &path, &[], &[]).await.unwrap();
        let head: Vec<&str> = reply
            .head
            .lines()
            .filter(|l| !l.starts_with("date:"))
            .collect();
        seen.push(format!("{head:?} {:?}", reply.body));
    }
    let describe = |w: &holdfast::protocol::Welcome| {
        format!("{:?} ack {} same id {}", w.resume, w.ack, w.session == id)
    };
    let (_ws, w) = connect_with_hello(server, &resume_hello(Some(id), 3)).await;
    seen.push(describe(&w));
    let mut sse = Sse::open(server.addr, &sse_path(&resume_hello(Some(id), 3)), &[]).await;
    assert!(matches!(sse.next(PROMPT).await, SseSeen::Comment(_)));
    match sse.next(PROMPT).await {
        SseSeen::Frame(Frame::Welcome(w)) => seen.push(describe(&w)),
        other => panic!("{other:?}"),
    }
    let reply = poll_open(server.addr, &resume_hello(Some(id), 3)).await;
    match reply.frames().first() {
        Some(Frame::Welcome(w)) => seen.push(describe(w)),
        other => panic!("{other:?}"),
    }
    let mut probe = server.connect().await;
    send(
        &mut probe,
        &Frame::Hello(Hello {
            min_version: 1,
            max_version: 1,
            session: Some(id.to_owned()),
            last_seq: 0,
            probe: true,
        }),
    )
    .await;
    seen.push(format!("{:?}", next(&mut probe, PROMPT).await));
    seen.push(format!("{:?}", next(&mut probe, PROMPT).await));
    seen
}

#[tokio::test]
async fn sec6_unknown_ids_are_answered_alike_whether_they_expired_ended_or_never_existed() {
    let server = start(ServerConfig {
        session_ttl_ms: 200,
        ..ServerConfig::test_profile()
    })
    .await;
    // One that expired (its connection went, its TTL passed)…
    let (ws, expired) = server.client().await;
    drop(ws);
    // …one its client ended with CLOSE…
    let ended = poll_open(server.addr, &hello(None)).await;
    let Some(Frame::Welcome(ended)) = ended.frames().first().cloned() else {
        panic!("no WELCOME")
    };
    let close = Frame::Close(CloseFrame {
        code: 1000,
        reason: "bye".into(),
    });
    assert_eq!(post_send(server.addr, &ended.session, &[close]).await, 204);
    eventually("both sessions are gone", || {
        server.handle.hub().session_count() == 0
    })
    .await;
    // …and one that never existed (an id of the same shape).
    let never = holdfast_server::hub::new_session_id();
    let expired_seen = observe_unknown(&server, &expired.session).await;
    let ended_seen = observe_unknown(&server, &ended.session).await;
    let never_seen = observe_unknown(&server, &never).await;
    assert_eq!(expired_seen, never_seen);
    assert_eq!(ended_seen, never_seen);
    assert!(never_seen[0].contains("410"), "{never_seen:?}");
}

// ---------------------------------------------------------------------------------------------
// SEC-9: one session's bad input or panic never takes down another session or the server.

/// The demo app, except that a text message "panic" panics in `on_message`, and `on_close`
/// panics once `panic_on_close` is set.
#[derive(Default)]
struct Panicky {
    demo: DemoApp,
    panic_on_close: AtomicBool,
}

impl App for Panicky {
    fn on_message(&self, hub: &Hub, session: &str, msg: AppMessage) {
        if msg == AppMessage::Text("panic".into()) {
            panic!("the app panicked (on purpose)");
        }
        self.demo.on_message(hub, session, msg);
    }

    fn on_close(&self, hub: &Hub, session: &str) {
        if self.panic_on_close.load(Ordering::Relaxed) {
            panic!("on_close panicked (on purpose)");
        }
        self.demo.on_close(hub, session);
    }
}

#[tokio::test]
async fn sec9_a_panicking_app_takes_down_nothing_but_the_connection_it_ran_for() {
    let app = Arc::new(Panicky::default());
    let server = start_with(ServerConfig::test_profile(), app.clone()).await;
    let witness = Witness::start(&server).await;

    // WebSocket: the connection closes 1011 without a protocol CLOSE; the session resumes.
    let (mut ws, w) = server.client().await;
    send(&mut ws, &text(1, "panic")).await;
    match next_significant(&mut ws, PROMPT).await {
        Seen::WsClose(code, reason) => assert_eq!((code, reason.as_str()), (1011, "server error")),
        other => panic!("expected a WebSocket close 1011, saw {other:?}"),
    }
    let (mut ws, again) = connect_with_hello(&server, &resume_hello(Some(&w.session), 0)).await;
    assert_eq!((again.resume, again.ack), (ResumeOutcome::Resumed, 1));
    send(&mut ws, &text(2, "after")).await;
    assert_eq!(next_data(&mut ws).await, text(1, "after"));

    // SSE: the POST that made the app panic is answered 410 (its link is gone), the stream
    // ends, and the session resumes.
    let mut sse = Sse::open(server.addr, &sse_path(&hello(None)), &[]).await;
    assert!(matches!(sse.next(PROMPT).await, SseSeen::Comment(_)));
    let SseSeen::Frame(Frame::Welcome(s)) = sse.next(PROMPT).await else {
        panic!("no WELCOME")
    };
    assert_eq!(
        post_send(server.addr, &s.session, &[text(1, "panic")]).await,
        410
    );
    assert!(matches!(sse.end(PROMPT).await, SseSeen::Ended));
    let mut sse = Sse::open(
        server.addr,
        &sse_path(&resume_hello(Some(&s.session), 0)),
        &[],
    )
    .await;
    assert!(matches!(sse.next(PROMPT).await, SseSeen::Comment(_)));
    assert!(matches!(
        sse.next(PROMPT).await,
        SseSeen::Frame(Frame::Welcome(w)) if w.resume == ResumeOutcome::Resumed
    ));
    assert_eq!(
        post_send(server.addr, &s.session, &[text(2, "fine")]).await,
        204
    );
    assert_eq!(sse.frame().await, text(1, "fine"));

    // Polling: the same, and its poll link answers 410 until the client opens again.
    let p = poll_open(server.addr, &hello(None)).await;
    let Some(Frame::Welcome(p)) = p.frames().first().cloned() else {
        panic!("no WELCOME")
    };
    assert_eq!(
        post_send(server.addr, &p.session, &[text(1, "panic")]).await,
        410
    );
    assert_eq!(
        poll(server.addr, &p.session, 0, false)
            .await
            .unwrap()
            .status,
        410
    );
    let reopened = poll_open(server.addr, &resume_hello(Some(&p.session), 0)).await;
    assert!(matches!(
        reopened.frames().first(),
        Some(Frame::Welcome(w)) if w.resume == ResumeOutcome::Resumed
    ));

    // Bad input from a session never did any of this: the witness lost nothing.
    witness.finish().await;

    // A panic in a request handler (`on_close` run by `/_fault/restart`) answers 500 and the
    // server goes on.
    app.panic_on_close.store(true, Ordering::Relaxed);
    let (status, _, _) = server.http("POST", "/_fault/restart").await;
    assert_eq!(status, 500);
    app.panic_on_close.store(false, Ordering::Relaxed);
    let (mut ws, _) = server.client().await;
    send(&mut ws, &text(1, "alive")).await;
    assert_eq!(next_data(&mut ws).await, text(1, "alive"));
    assert_eq!(
        stats(&server).await.handshakes,
        server.handle.stats().handshakes
    );
}
