//! Two server nodes sharing sessions through a real `redis-server` (`--redis`): a session moves
//! between nodes with nothing lost or repeated, requests for one session alternate nodes, a dead
//! node's sessions are taken over, and a Redis restart is try-later then a clean resume.
//!
//! Each test starts its own `redis-server` (Debian's, installed by `scripts/setup.sh`) on a free
//! loopback port with its own data directory, and stops it when done.

mod common;

use common::http_client::{data_texts, poll, poll_open, post_send, sse_path, Sse, SseSeen};
use common::*;
use holdfast::protocol::{ErrorCode, Frame, ResumeOutcome, Welcome};
use holdfast_server::{router_with_store, serve, RedisStore, ServerConfig};
use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// A `redis-server` of this test's own, stopped on drop.
struct Redis {
    child: Option<Child>,
    port: u16,
    dir: std::path::PathBuf,
}

impl Redis {
    fn start() -> Redis {
        let port = StdListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("holdfast-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = Redis {
            child: None,
            port,
            dir,
        };
        redis.run();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts (or starts again) the server on the same port and data directory.
    fn run(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .args(["--protected-mode", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server; scripts/setup.sh installs it)");
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    /// Kills the server (its AOF keeps every write).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A node on the shared Redis: the demo app on 127.0.0.1:0.
async fn node(redis: &Redis, name: &str) -> Server {
    start_node(&redis.url(), name).await
}

/// A node on the Redis at `url`, on the current runtime.
async fn start_node(url: &str, name: &str) -> Server {
    let config = ServerConfig::test_profile();
    let store = RedisStore::connect(url, name, &config).await.unwrap();
    let (app, handle) = router_with_store(
        config,
        Arc::new(holdfast_server::DemoApp::new()),
        Arc::new(store),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, app, handle.clone()));
    Server { addr, handle }
}

/// A node on a runtime of its own, so that a test can kill it (every task, socket and timer
/// stops at once, as when a process dies).
struct Doomed {
    runtime: Option<tokio::runtime::Runtime>,
    server: Server,
}

impl Doomed {
    fn start(redis: &Redis, name: &str) -> Doomed {
        let url = redis.url();
        let name = name.to_owned();
        // Built on a thread of its own: a runtime cannot be started from inside the test's.
        let (runtime, server) = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let server = runtime.block_on(start_node(&url, &name));
            (runtime, server)
        })
        .join()
        .unwrap();
        Doomed {
            runtime: Some(runtime),
            server,
        }
    }

    fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Doomed {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The data frames (text) that arrive on `ws` within `wait`, skipping control frames.
async fn texts_within(ws: &mut Ws, wait: Duration) -> Vec<(u64, String)> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match next_significant(ws, left).await {
            Seen::Frame(Frame::Text { seq, text }) => seen.push((seq, text)),
            Seen::Frame(_) => {}
            _ => return seen,
        }
    }
}

/// Resumes session `id` (having received server seqs up to `last_seq`) on `server`, retrying
/// after each try-later (as the hint says) for up to 10 s; returns the socket, its WELCOME and
/// how many try-later answers came first.
async fn resume_on(server: &Server, id: &str, last_seq: u64) -> (Ws, Welcome, usize) {
    let started = tokio::time::Instant::now();
    let mut try_laters = 0;
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no resume within 10 s"
        );
        let mut ws = server.connect().await;
        send(&mut ws, &resume_hello(Some(id), last_seq)).await;
        match next(&mut ws, Duration::from_secs(4)).await {
            Seen::Frame(Frame::Welcome(welcome)) => return (ws, welcome, try_laters),
            Seen::Frame(Frame::Error(e)) if e.code == ErrorCode::TryLater => {
                try_laters += 1;
                tokio::time::sleep(Duration::from_millis(e.retry_after_ms.min(1_000))).await;
            }
            other => panic!("expected WELCOME or try-later, saw {other:?}"),
        }
    }
}

fn numbered(range: std::ops::RangeInclusive<u64>) -> Vec<(u64, String)> {
    range.map(|n| (n, format!("m{n}"))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_session_dropped_on_one_node_resumes_on_the_other_exactly_once() {
    let redis = Redis::start();
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    let (mut ws, welcome) = a.client().await;
    let id = welcome.session;
    for n in 1..=5 {
        send(&mut ws, &text(n, &format!("m{n}"))).await;
    }
    assert_eq!(
        texts_within(&mut ws, Duration::from_millis(800)).await,
        numbered(1..=5)
    );
    // The link dies; the client had processed echoes 1–3 only.
    drop(ws);
    let (mut ws, again) = connect_with_hello(&b, &resume_hello(Some(&id), 3)).await;
    assert_eq!(
        (again.resume, again.session.as_str()),
        (ResumeOutcome::Resumed, id.as_str())
    );
    assert_eq!(again.ack, 5, "node b knows what node a delivered");
    // Node b resends exactly what the client lacks, dedupes the client's resends, goes on.
    for n in 4..=6 {
        send(&mut ws, &text(n, &format!("m{n}"))).await;
    }
    assert_eq!(
        texts_within(&mut ws, Duration::from_millis(800)).await,
        numbered(4..=6)
    );
    assert_eq!(
        a.handle.hub().session_count(),
        0,
        "node a handed the session over"
    );
    assert_eq!(b.handle.hub().session_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_connection_on_one_node_is_taken_over_by_a_handshake_on_the_other() {
    let redis = Redis::start();
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    let (mut old, welcome) = a.client().await;
    let id = welcome.session;
    send(&mut old, &text(1, "m1")).await;
    assert_eq!(
        texts_within(&mut old, Duration::from_millis(500)).await,
        numbered(1..=1)
    );
    let (mut ws, again) = connect_with_hello(&b, &resume_hello(Some(&id), 1)).await;
    assert_eq!((again.resume, again.ack), (ResumeOutcome::Resumed, 1));
    // The superseded connection on node a stops: it carries nothing more.
    expect_dropped(&mut old).await;
    send(&mut ws, &text(2, "m2")).await;
    assert_eq!(
        texts_within(&mut ws, Duration::from_millis(500)).await,
        numbered(2..=2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_and_sends_alternating_nodes_reach_one_session_exactly_once_in_order() {
    let redis = Redis::start();
    let nodes = [node(&redis, "a").await, node(&redis, "b").await];
    let open = poll_open(nodes[0].addr, &hello(None)).await;
    let Some(Frame::Welcome(welcome)) = open.frames().into_iter().next() else {
        panic!("expected WELCOME, got {:?}", open.frames());
    };
    let id = welcome.session;
    let mut cursor = 0;
    let mut echoes = Vec::new();
    for n in 1..=20u64 {
        // Sends and polls each go to the node after the one before.
        let sender = &nodes[(n % 2) as usize];
        assert_eq!(
            post_send(sender.addr, &id, &[text(n, &format!("m{n}"))]).await,
            204
        );
        let poller = &nodes[((n + 1) % 2) as usize];
        while echoes.len() < n as usize {
            let reply = poll(poller.addr, &id, cursor, true)
                .await
                .expect("poll answered");
            assert_eq!(reply.status, 200, "poll {n} on node {}", (n + 1) % 2);
            for (seq, text) in data_texts(&reply.frames()) {
                cursor = cursor.max(seq);
                echoes.push((seq, text));
            }
        }
    }
    assert_eq!(echoes, numbered(1..=20));
    // Every request went to the node that holds the link (a), half of them forwarded.
    assert_eq!(nodes[1].handle.hub().session_count(), 0);
    assert_eq!(nodes[0].handle.hub().session_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_stream_on_one_node_carries_what_sends_on_the_other_deliver() {
    let redis = Redis::start();
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    let mut sse = Sse::open(a.addr, &sse_path(&hello(None)), &[]).await;
    let welcome = loop {
        match sse.next(PROMPT).await {
            SseSeen::Comment(_) => {}
            SseSeen::Frame(Frame::Welcome(welcome)) => break welcome,
            other => panic!("expected WELCOME first, saw {other:?}"),
        }
    };
    let id = welcome.session;
    for n in 1..=5 {
        assert_eq!(
            post_send(b.addr, &id, &[text(n, &format!("m{n}"))]).await,
            204
        );
    }
    let mut echoes = Vec::new();
    while echoes.len() < 5 {
        match sse.next(PROMPT).await {
            SseSeen::Frame(Frame::Text { seq, text }) => echoes.push((seq, text)),
            SseSeen::Frame(_) | SseSeen::Comment(_) => {}
            other => panic!("stream ended early: {other:?}"),
        }
    }
    assert_eq!(echoes, numbered(1..=5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_session_is_taken_over_once_its_liveness_expires() {
    let redis = Redis::start();
    let mut a = Doomed::start(&redis, "a");
    let b = node(&redis, "b").await;
    let (mut ws, welcome) = a.server.client().await;
    let id = welcome.session;
    for n in 1..=3 {
        send(&mut ws, &text(n, &format!("m{n}"))).await;
    }
    assert_eq!(
        texts_within(&mut ws, Duration::from_millis(800)).await,
        numbered(1..=3)
    );
    a.kill();
    drop(ws);
    // Node b first says try-later (a's liveness has not expired), then takes the session over
    // from what a wrote: everything a acknowledged or sent is there.
    let started = tokio::time::Instant::now();
    let (mut ws, again, try_laters) = resume_on(&b, &id, 1).await;
    assert_eq!((again.resume, again.ack), (ResumeOutcome::Resumed, 3));
    assert!(started.elapsed() < Duration::from_secs(8));
    send(&mut ws, &text(4, "m4")).await;
    assert_eq!(
        texts_within(&mut ws, Duration::from_millis(800)).await,
        numbered(2..=4)
    );
    eprintln!(
        "takeover after {:?}, {try_laters} try-later answers",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_is_try_later_then_the_session_resumes_with_nothing_lost() {
    let mut redis = Redis::start();
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    let (mut ws, welcome) = a.client().await;
    let id = welcome.session;
    send(&mut ws, &text(1, "m1")).await;
    assert_eq!(
        texts_within(&mut ws, Duration::from_millis(500)).await,
        numbered(1..=1)
    );
    redis.stop();
    // A message while Redis is away: delivered here, but nothing goes out that is not written.
    send(&mut ws, &text(2, "m2")).await;
    match next_significant(&mut ws, PROMPT).await {
        Seen::Frame(Frame::Error(e)) => assert_eq!(e.code, ErrorCode::TryLater, "{e:?}"),
        other => panic!("expected ERROR try-later, saw {other:?}"),
    }
    match next_significant(&mut ws, PROMPT).await {
        Seen::WsClose(code, _) => assert_eq!(code, 1013),
        other => panic!("expected a close 1013, saw {other:?}"),
    }
    // A handshake on the other node meanwhile: try-later too.
    let mut other = b.connect().await;
    send(&mut other, &resume_hello(Some(&id), 1)).await;
    match next(&mut other, Duration::from_secs(5)).await {
        Seen::Frame(Frame::Error(e)) => assert_eq!(e.code, ErrorCode::TryLater),
        seen => panic!("expected ERROR try-later, saw {seen:?}"),
    }
    redis.run();
    // Back: the session resumes on node b with message 2 delivered once and its echo resent.
    let (mut ws, again, _) = resume_on(&b, &id, 1).await;
    assert_eq!((again.resume, again.ack), (ResumeOutcome::Resumed, 2));
    send(&mut ws, &text(2, "m2")).await;
    send(&mut ws, &text(3, "m3")).await;
    assert_eq!(
        texts_within(&mut ws, Duration::from_millis(800)).await,
        numbered(2..=3)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_handshake_while_redis_is_down_is_answered_try_later_with_its_hint() {
    let mut redis = Redis::start();
    let a = node(&redis, "a").await;
    let open = poll_open(a.addr, &hello(None)).await;
    let Some(Frame::Welcome(welcome)) = open.frames().into_iter().next() else {
        panic!("expected WELCOME, got {:?}", open.frames());
    };
    redis.stop();
    // The session is still in this node's memory, but its new attachment cannot be written:
    // the answer carries ERROR 5 with the retry hint (not a bare 410 the client retries at once).
    let again = poll_open(a.addr, &resume_hello(Some(&welcome.session), 0)).await;
    assert_eq!(again.status, 200);
    match again.frames().first() {
        Some(Frame::Error(e)) => {
            assert_eq!(e.code, ErrorCode::TryLater, "{e:?}");
            assert!(e.retry_after_ms > 0, "{e:?}");
        }
        other => panic!("expected ERROR try-later, got {other:?}"),
    }
    redis.run();
    // Nothing was lost meanwhile: the session resumes once Redis is back.
    let mut resumed = None;
    for _ in 0..50 {
        let reply = poll_open(a.addr, &resume_hello(Some(&welcome.session), 0)).await;
        match reply.frames().into_iter().next() {
            Some(Frame::Welcome(w)) => {
                resumed = Some(w);
                break;
            }
            Some(Frame::Error(e)) if e.code == ErrorCode::TryLater => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => panic!("expected WELCOME or try-later, got {other:?}"),
        }
    }
    let resumed = resumed.expect("resumed within 5 s of Redis coming back");
    assert_eq!(
        (resumed.session, resumed.resume),
        (welcome.session, ResumeOutcome::Resumed)
    );
}
