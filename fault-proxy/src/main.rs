//! `holdfast-fault-proxy`: a loopback TCP proxy for the browser tests, so faults come from the
//! network path rather than from the server (reliability.md, "Test tools hide faults").
//!
//! ```text
//! holdfast-fault-proxy --upstream 127.0.0.1:PORT [--port 0] [--control-port 0]
//! ```
//!
//! It prints `proxy on http://ADDR` and `control on http://ADDR`, then forwards every TCP
//! connection on the first address to the upstream. The second address answers plain HTTP
//! (`Access-Control-Allow-Origin: *`, so test pages can call it):
//!
//! | control route | effect |
//! |---|---|
//! | `/mode/pass` | forward everything (the default) |
//! | `/mode/blackhole` | every connection, open or new, stops forwarding both ways; nothing is closed (a server that closes its end is not heard of either); the connections it caught stay dead after the mode changes |
//! | `/mode/blackhole-down` | the same, server → client only |
//! | `/mode/blackhole-up` | the same, client → server only |
//! | `/mode/refuse-upgrade` | a new connection whose first request asks for a WebSocket upgrade gets `403` |
//! | `/mode/hang-upgrade` | such a request is never answered (held until the mode changes) |
//! | `/mode/drop-after-upgrade` | the upgrade goes through, then every byte after the `101` is discarded both ways |
//! | `/mode/idle-cut?ms=N` | an idle-timeout middlebox: a connection, open or new, that carries no byte either way for `N` ms (counted from its last byte or from when the mode was set, whichever is later) is reset at both ends (RST), as a NAT or firewall that forgot it would; the count of such cuts is in `/stats` |
//! | `/mode/latency?ms=N&jitter=J` | every chunk read from either peer is delivered `N ± J` ms later (uniform), byte order kept per direction (a chunk is never delivered before the one read before it); when a peer closes, what is still queued is delivered first; after the mode changes, what is queued is still delivered in order |
//! | `/mode/slice?bytes=N` | server → client bytes, open or new connections, are written `N` bytes at a time (at least 1), 1 ms apart, each write its own TCP segment (no Nagle): a response or frame arrives in pieces, as through a slow or fragmenting path |
//! | `/reset` | every open connection is reset (RST) |
//! | `/kill` | every open connection is closed (FIN) |
//! | `/stats` | `{"connections":N,"accepted":N,"idle_cuts":N}` |
//!
//! Test tooling: it trusts its input only as far as it must (a request head is read up to 64 KiB
//! to look for `Upgrade:`); it never panics on what the peers send.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

/// What the proxy does to traffic right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Pass,
    Blackhole,
    BlackholeDown,
    BlackholeUp,
    RefuseUpgrade,
    HangUpgrade,
    DropAfterUpgrade,
    /// Connections idle (no byte either way) for this many ms are reset at both ends.
    IdleCut(u64),
    /// Each chunk is delayed `ms ± jitter` ms, order kept per direction.
    Latency {
        ms: u64,
        jitter: u64,
    },
    /// Server → client bytes go out this many at a time, 1 ms apart.
    Slice(usize),
}

/// `key`'s value in a query string `a=1&b=2`, as a number.
fn query_ms(query: &str, key: &str) -> Option<u64> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
}

impl Mode {
    /// A mode from its name and the query string of its control route (`ms=…&jitter=…`).
    fn parse(name: &str, query: &str) -> Option<Mode> {
        Some(match name {
            "idle-cut" => Mode::IdleCut(query_ms(query, "ms").filter(|ms| *ms > 0)?),
            "latency" => {
                let ms = query_ms(query, "ms")?;
                let jitter = query_ms(query, "jitter").unwrap_or(0).min(ms);
                Mode::Latency { ms, jitter }
            }
            "slice" => Mode::Slice(query_ms(query, "bytes")?.clamp(1, 64 * 1024) as usize),
            "pass" => Mode::Pass,
            "blackhole" => Mode::Blackhole,
            "blackhole-down" => Mode::BlackholeDown,
            "blackhole-up" => Mode::BlackholeUp,
            "refuse-upgrade" => Mode::RefuseUpgrade,
            "hang-upgrade" => Mode::HangUpgrade,
            "drop-after-upgrade" => Mode::DropAfterUpgrade,
            _ => return None,
        })
    }

    /// The directions this mode black-holes: `(server → client, client → server)`.
    fn holes(self) -> (bool, bool) {
        match self {
            Mode::Blackhole => (true, true),
            Mode::BlackholeDown => (true, false),
            Mode::BlackholeUp => (false, true),
            Mode::Pass
            | Mode::RefuseUpgrade
            | Mode::HangUpgrade
            | Mode::DropAfterUpgrade
            | Mode::IdleCut(_)
            | Mode::Latency { .. }
            | Mode::Slice(_) => (false, false),
        }
    }
}

/// An order for every open connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    None,
    Reset(u64),
    Kill(u64),
}

struct State {
    upstream: SocketAddr,
    mode: watch::Sender<Mode>,
    order: watch::Sender<Order>,
    connections: AtomicUsize,
    accepted: AtomicU64,
    orders: AtomicU64,
    idle_cuts: AtomicU64,
}

const MAX_HEAD: usize = 64 * 1024;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("holdfast-fault-proxy: {e}");
        std::process::exit(2);
    }
}

async fn run() -> Result<(), String> {
    let mut upstream = None;
    let mut port = 0u16;
    let mut control_port = 0u16;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--upstream" => {
                let v = value()?;
                upstream = Some(v.parse::<SocketAddr>().map_err(|e| format!("{v}: {e}"))?);
            }
            "--port" => port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--control-port" => {
                control_port = value()?
                    .parse()
                    .map_err(|e| format!("--control-port: {e}"))?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let upstream = upstream.ok_or("--upstream HOST:PORT is required")?;
    let data = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let control = TcpListener::bind(("127.0.0.1", control_port))
        .await
        .map_err(|e| e.to_string())?;
    let state = Arc::new(State {
        upstream,
        mode: watch::channel(Mode::Pass).0,
        order: watch::channel(Order::None).0,
        connections: AtomicUsize::new(0),
        accepted: AtomicU64::new(0),
        orders: AtomicU64::new(0),
        idle_cuts: AtomicU64::new(0),
    });
    let addr = |l: &TcpListener| l.local_addr().map_err(|e| e.to_string());
    println!("proxy on http://{}", addr(&data)?);
    println!("control on http://{}", addr(&control)?);
    let s = Arc::clone(&state);
    tokio::spawn(async move {
        while let Ok((socket, _)) = control.accept().await {
            tokio::spawn(control_request(socket, Arc::clone(&s)));
        }
    });
    while let Ok((socket, _)) = data.accept().await {
        state.accepted.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(proxy(socket, Arc::clone(&state)));
    }
    Ok(())
}

/// One control request: the path is the command; the answer closes the connection.
async fn control_request(mut socket: TcpStream, state: Arc<State>) {
    let mut buf = vec![0u8; 4096];
    let n = match tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf)).await {
        Ok(Ok(n)) => n,
        _ => return,
    };
    let head = String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path.split('?').next().unwrap_or("") {
        "/reset" | "/kill" => {
            let id = state.orders.fetch_add(1, Ordering::Relaxed) + 1;
            let order = if path.starts_with("/reset") {
                Order::Reset(id)
            } else {
                Order::Kill(id)
            };
            state.order.send_replace(order);
            ("200 OK", "ok".to_owned())
        }
        "/stats" => (
            "200 OK",
            format!(
                "{{\"connections\":{},\"accepted\":{},\"idle_cuts\":{}}}",
                state.connections.load(Ordering::Relaxed),
                state.accepted.load(Ordering::Relaxed),
                state.idle_cuts.load(Ordering::Relaxed)
            ),
        ),
        p => match p
            .strip_prefix("/mode/")
            .and_then(|name| Mode::parse(name, path.split_once('?').map_or("", |(_, q)| q)))
        {
            Some(mode) => {
                state.mode.send_replace(mode);
                ("200 OK", "ok".to_owned())
            }
            None => ("404 Not Found", format!("unknown control route {p}")),
        },
    };
    let answer = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nAccess-Control-Allow-Origin: *\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(answer.as_bytes()).await;
    let _ = socket.shutdown().await;
}

/// Counts an open proxied connection.
struct Counted(Arc<State>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Reads the first request head (up to `\r\n\r\n` or [`MAX_HEAD`]) and says whether it asks for
/// a WebSocket upgrade.
async fn read_head(client: &mut TcpStream) -> Option<(Vec<u8>, bool)> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let n = client.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(chunk.get(..n)?);
    }
    let upgrade = String::from_utf8_lossy(&head)
        .to_ascii_lowercase()
        .lines()
        .any(|l| l.starts_with("upgrade:") && l.contains("websocket"));
    Some((head, upgrade))
}

async fn proxy(mut client: TcpStream, state: Arc<State>) {
    state.connections.fetch_add(1, Ordering::Relaxed);
    let _counted = Counted(Arc::clone(&state));
    let mut mode = state.mode.subscribe();
    let mut order = state.order.subscribe();
    order.borrow_and_update();
    let Some((head, upgrade)) = read_head(&mut client).await else {
        return;
    };
    let at_accept = *mode.borrow_and_update();
    if upgrade && at_accept == Mode::RefuseUpgrade {
        let _ = client
            .write_all(
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 27\r\nConnection: close\r\n\r\n\
                  websocket refused by proxy\n",
            )
            .await;
        return;
    }
    if upgrade && at_accept == Mode::HangUpgrade {
        // Held, answering nothing, until the mode changes or an order ends it.
        tokio::select! {
            _ = mode.changed() => {}
            _ = order.changed() => {}
            _ = tokio::time::sleep(Duration::from_secs(120)) => {}
        }
        return;
    }
    let dropping = upgrade && at_accept == Mode::DropAfterUpgrade;
    let Ok(server) = TcpStream::connect(state.upstream).await else {
        return;
    };
    let _ = server.set_nodelay(true);
    let _ = client.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    // Latency: what was read and is not yet delivered, per direction (the request head too).
    let mut to_server = Delayed::default();
    let mut to_client = Delayed::default();
    let mut rng = Rng::new(state.accepted.load(Ordering::Relaxed));
    if let Mode::Latency { ms, jitter } = at_accept {
        to_server.push(&head, rng.delay(ms, jitter));
    } else if at_accept.holes().1 {
        // A black hole client → server loses the request head (and the body read with it) like
        // every later byte: the server must not answer a request it could not have received.
    } else if sw.write_all(&head).await.is_err() {
        return;
    }
    // Under drop-after-upgrade, the 101 answer still goes through: everything after it is lost.
    let mut upgraded = !dropping;
    let mut up = [0u8; 16 * 1024];
    let mut down = [0u8; 16 * 1024];
    // A black hole is for good for the connections it caught: a path that lost bytes never
    // carries a valid stream again (TCP itself never drops bytes from a live connection), so
    // only connections made after the mode went back to `pass` work.
    let (mut hole_down, mut hole_up) = (false, false);
    // The server's end of a connection caught by a black hole server → client: the client never
    // hears of it (no FIN goes through a black hole either), its side stays open until it gives
    // up itself or a reset/kill order comes.
    let mut server_gone = false;
    // Idle cut: the last byte either way, or the mode change that armed the cut.
    let mut idle_from = Instant::now();
    // A peer closed while bytes were still queued: deliver them (on time), then end.
    let mut draining = false;
    loop {
        let current = *mode.borrow();
        let (down_now, up_now) = current.holes();
        hole_down |= down_now || (dropping && upgraded);
        hole_up |= up_now || (dropping && upgraded);
        let queued = !to_server.is_empty() || !to_client.is_empty();
        if draining && !queued {
            return;
        }
        let idle_deadline = match current {
            Mode::IdleCut(ms) => Some(idle_from + Duration::from_millis(ms)),
            _ => None,
        };
        let delay = match current {
            Mode::Latency { ms, jitter } => Some(rng.delay(ms, jitter)),
            _ => None,
        };
        tokio::select! {
            r = cr.read(&mut up), if !draining => match r {
                Ok(0) | Err(_) if !queued => return,
                Ok(0) | Err(_) => draining = true,
                Ok(n) => {
                    idle_from = Instant::now();
                    let bytes = up.get(..n).unwrap_or_default();
                    if hole_up || server_gone {
                        // lost
                    } else if delay.is_some() || !to_server.is_empty() {
                        to_server.push(bytes, delay.unwrap_or_default());
                    } else if sw.write_all(bytes).await.is_err() {
                        return;
                    }
                }
            },
            r = sr.read(&mut down), if !server_gone && !draining => match r {
                Ok(0) | Err(_) if hole_down => server_gone = true,
                Ok(0) | Err(_) if !queued => return,
                Ok(0) | Err(_) => draining = true,
                Ok(n) => {
                    idle_from = Instant::now();
                    let bytes = down.get(..n).unwrap_or_default();
                    if hole_down {
                        // lost
                    } else if delay.is_some() || !to_client.is_empty() {
                        to_client.push(bytes, delay.unwrap_or_default());
                    } else if let Mode::Slice(size) = current {
                        if !write_sliced(&mut cw, bytes, size).await {
                            return;
                        }
                    } else if cw.write_all(bytes).await.is_err() {
                        return;
                    }
                    if !upgraded && bytes.windows(4).any(|w| w == b"\r\n\r\n") {
                        upgraded = true; // the 101 head went through; drop from here on
                    }
                }
            },
            _ = tokio::time::sleep_until(to_server.due()), if !to_server.is_empty() => {
                if !to_server.deliver(&mut sw).await {
                    return;
                }
            }
            _ = tokio::time::sleep_until(to_client.due()), if !to_client.is_empty() => {
                if !to_client.deliver(&mut cw).await {
                    return;
                }
            }
            _ = tokio::time::sleep_until(idle_deadline.unwrap_or_else(far_future)),
                if idle_deadline.is_some() =>
            {
                // The middlebox forgot the connection: both peers learn it by a reset.
                state.idle_cuts.fetch_add(1, Ordering::Relaxed);
                #[allow(deprecated)]
                if let Ok(client) = cr.reunite(cw) {
                    let _ = client.set_linger(Some(Duration::ZERO));
                }
                #[allow(deprecated)]
                if let Ok(server) = sr.reunite(sw) {
                    let _ = server.set_linger(Some(Duration::ZERO));
                }
                return;
            }
            _ = mode.changed() => idle_from = Instant::now(),
            r = order.changed() => {
                if r.is_err() { return; }
                match *order.borrow_and_update() {
                    Order::Reset(_) => {
                        if let Ok(client) = cr.reunite(cw) {
                            // A zero linger does not block (the deprecation's concern): the
                            // close sends RST at once, which is the fault.
                            #[allow(deprecated)]
                            let _ = client.set_linger(Some(Duration::ZERO));
                        }
                        return;
                    }
                    Order::Kill(_) => return,
                    Order::None => {}
                }
            }
        }
    }
}

/// Writes `bytes` `size` at a time, 1 ms apart; `false` if the peer is gone.
async fn write_sliced(to: &mut OwnedWriteHalf, bytes: &[u8], size: usize) -> bool {
    for (i, piece) in bytes.chunks(size.max(1)).enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if to.write_all(piece).await.is_err() {
            return false;
        }
    }
    true
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

/// One direction's bytes under latency: each chunk with the time it is due, in read order.
#[derive(Default)]
struct Delayed {
    queue: VecDeque<(Instant, Vec<u8>)>,
    last: Option<Instant>,
}

impl Delayed {
    fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queues `bytes` for `now + delay`, never before the chunk queued before it.
    fn push(&mut self, bytes: &[u8], delay: Duration) {
        let at = Instant::now() + delay;
        let at = self.last.map_or(at, |last| last.max(at));
        self.last = Some(at);
        self.queue.push_back((at, bytes.to_vec()));
    }

    /// When the first chunk is due (far in the future when there is none).
    fn due(&self) -> Instant {
        self.queue.front().map_or_else(far_future, |(at, _)| *at)
    }

    /// Writes the first chunk; `false` if the peer is gone.
    async fn deliver(&mut self, to: &mut OwnedWriteHalf) -> bool {
        match self.queue.pop_front() {
            Some((_, bytes)) => to.write_all(&bytes).await.is_ok(),
            None => true,
        }
    }
}

/// xorshift64*: the latency jitter (test tooling; no need for a better generator).
struct Rng(u64);

impl Rng {
    fn new(salt: u64) -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Rng((nanos ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    /// Uniform in `[0, 1)`.
    fn sample(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `ms ± jitter`, uniform (`jitter ≤ ms`).
    fn delay(&mut self, ms: u64, jitter: u64) -> Duration {
        let lo = ms.saturating_sub(jitter) as f64;
        let span = (ms + jitter) as f64 - lo;
        Duration::from_secs_f64((lo + span * self.sample()) / 1000.0)
    }
}
