//! The proxy binary against a loopback echo upstream: `idle-cut` resets idle connections and
//! only those, `latency` delays each direction and keeps byte order, `pass` forwards at once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Proxy {
    child: Child,
    data: String,
    control: String,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An echo server on a free port, each connection on its own thread.
fn echo_upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = socket.read(&mut buf) {
                    if n == 0 || socket.write_all(&buf[..n]).is_err() {
                        return;
                    }
                    if buf[..n].ends_with(b"bye") {
                        return; // closes after its answer
                    }
                }
            });
        }
    });
    addr
}

fn start() -> Proxy {
    let mut child = Command::new(env!("CARGO_BIN_EXE_holdfast-fault-proxy"))
        .args(["--upstream", &echo_upstream()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr = |prefix: &str| {
        let line = lines.next().unwrap().unwrap();
        line.strip_prefix(prefix).unwrap().to_owned()
    };
    let data = addr("proxy on http://");
    let control = addr("control on http://");
    Proxy {
        child,
        data,
        control,
    }
}

impl Proxy {
    fn control(&self, path: &str) -> String {
        let mut s = TcpStream::connect(&self.control).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{path}: {answer}");
        answer.split("\r\n\r\n").nth(1).unwrap_or("").to_owned()
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(&self.data).unwrap();
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }
}

/// Sends the request head the proxy waits for, and reads its echo.
fn handshake(s: &mut TcpStream) {
    let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    s.write_all(head).unwrap();
    let mut back = vec![0u8; head.len()];
    s.read_exact(&mut back).unwrap();
    assert_eq!(back, head);
}

fn echo(s: &mut TcpStream, bytes: &[u8]) {
    s.write_all(bytes).unwrap();
    let mut back = vec![0u8; bytes.len()];
    s.read_exact(&mut back).unwrap();
    assert_eq!(back, bytes);
}

#[test]
fn idle_cut_resets_an_idle_connection_and_spares_a_busy_one() {
    let proxy = start();
    let mut idle = proxy.connect();
    let mut busy = proxy.connect();
    handshake(&mut idle);
    handshake(&mut busy);
    proxy.control("/mode/idle-cut?ms=300");
    let armed = Instant::now();
    // The busy one carries a byte every 100 ms for 1 s: never idle 300 ms.
    let mut last_byte = Instant::now();
    while armed.elapsed() < Duration::from_millis(1_000) {
        std::thread::sleep(Duration::from_millis(100));
        echo(&mut busy, b"x");
        last_byte = Instant::now();
    }
    // The idle one was cut ~300 ms after the mode was set: a read sees the reset (or EOF).
    let mut buf = [0u8; 1];
    let r = idle.read(&mut buf);
    assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
    assert!(proxy.control("/stats").contains("\"idle_cuts\":1"));
    // Quiet for longer than the cut: the busy one goes too.
    let r = busy.read(&mut buf);
    assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
    let waited = last_byte.elapsed();
    assert!(
        waited >= Duration::from_millis(290) && waited < Duration::from_millis(1_000),
        "{waited:?}"
    );
    // Back to pass: an idle connection lives.
    proxy.control("/mode/pass");
    let mut s = proxy.connect();
    handshake(&mut s);
    std::thread::sleep(Duration::from_millis(600));
    echo(&mut s, b"still here");
}

#[test]
fn latency_delays_each_direction_and_keeps_byte_order() {
    let proxy = start();
    let mut s = proxy.connect();
    handshake(&mut s);
    let t = Instant::now();
    echo(&mut s, b"fast");
    assert!(
        t.elapsed() < Duration::from_millis(100),
        "pass is immediate"
    );
    proxy.control("/mode/latency?ms=100&jitter=50");
    // 40 numbered chunks 5 ms apart: each direction delays each chunk 50–150 ms, which would
    // reorder them if order were not kept.
    let mut reader = s.try_clone().unwrap();
    let sent = Instant::now();
    let writer = std::thread::spawn(move || {
        for i in 0..40u8 {
            s.write_all(&[i]).unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
        s
    });
    let mut got = Vec::new();
    let mut first = None;
    let mut buf = [0u8; 64];
    while got.len() < 40 {
        let n = reader.read(&mut buf).unwrap();
        assert!(n > 0);
        first.get_or_insert_with(|| sent.elapsed());
        got.extend_from_slice(&buf[..n]);
    }
    let total = sent.elapsed();
    assert_eq!(got, (0..40).collect::<Vec<u8>>(), "order kept");
    let first = first.unwrap();
    assert!(
        first >= Duration::from_millis(100),
        "two delays ≥ 50 ms: {first:?}"
    );
    assert!(total < Duration::from_millis(1_500), "{total:?}");
    let mut s = writer.join().unwrap();
    // A peer closing with bytes still queued (the upstream answers `bye`, then closes): they
    // are delivered first, then the close.
    proxy.control("/mode/latency?ms=200");
    let mut other = proxy.connect();
    handshake(&mut other);
    let t = Instant::now();
    other.write_all(b"bye").unwrap();
    let mut back = Vec::new();
    let _ = other.read_to_end(&mut back);
    assert_eq!(back, b"bye");
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    proxy.control("/mode/pass");
    echo(&mut s, b"after");
}

#[test]
fn unknown_or_incomplete_modes_are_refused() {
    let proxy = start();
    for path in [
        "/mode/idle-cut",
        "/mode/idle-cut?ms=0",
        "/mode/latency",
        "/mode/nope",
    ] {
        let mut s = TcpStream::connect(&proxy.control).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\n\r\n").unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 404"), "{path}: {answer}");
    }
}

/// A black hole client → server loses a new connection's request head too (the browser's first
/// POST on a fresh connection used to get through and be answered); `blackhole-down` forwards it
/// and loses the answer.
#[test]
fn a_black_hole_up_loses_a_new_connections_head_and_down_loses_its_answer() {
    let proxy = start();
    for mode in ["blackhole-up", "blackhole-down"] {
        proxy.control(&format!("/mode/{mode}"));
        let mut s = proxy.connect();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        s.write_all(b"POST /send HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
            .unwrap();
        let mut buf = [0u8; 64];
        let r = s.read(&mut buf);
        assert!(
            matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
                || e.kind() == std::io::ErrorKind::TimedOut),
            "{mode}: {r:?}"
        );
    }
}

/// `slice?bytes=3`: the upstream's answer arrives 3 bytes at a time, about 1 ms apart, intact.
#[test]
fn slice_writes_the_answer_in_small_pieces_and_keeps_every_byte() {
    let proxy = start();
    let mut s = proxy.connect();
    handshake(&mut s);
    proxy.control("/mode/slice?bytes=3");
    let msg: Vec<u8> = (0..=255u8).collect();
    let t0 = Instant::now();
    echo(&mut s, &msg);
    // 86 pieces, 1 ms apart: the echo cannot have come back in one write.
    assert!(
        t0.elapsed() >= Duration::from_millis(60),
        "{:?}",
        t0.elapsed()
    );
    proxy.control("/mode/pass");
    let t1 = Instant::now();
    echo(&mut s, &msg);
    assert!(
        t1.elapsed() < Duration::from_millis(60),
        "{:?}",
        t1.elapsed()
    );
}
