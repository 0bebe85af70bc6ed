//! Helpers for the hostile-client and security tests: raw HTTP over a `TcpStream` (requests a
//! client library would refuse to send, heads sent byte by byte), a hand-rolled WebSocket client
//! that can send a frame header without its payload, and the [`Witness`]: two healthy sessions
//! (WebSocket, and SSE with sends) that keep streaming numbered echoes while a test abuses the
//! server, and prove afterwards that they lost nothing.

use super::http_client::{post_send, sse_path, Sse, SseSeen};
use super::*;
use holdfast::protocol::{decode, encode, Decoded, Frame, Limits};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant as StdInstant;
use tokio::task::JoinHandle;

/// The status and lowercased head of the answer on `stream`, if one arrives within `wait`
/// (`None`: the connection closed, or nothing came).
pub async fn read_head(stream: &mut TcpStream, wait: Duration) -> Option<(u16, String)> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let status = head.split(' ').nth(1)?.parse().ok()?;
            return Some((status, head));
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
}

/// Writes `bytes` on a fresh connection and reads the answer's status (`None`: closed
/// without an answer within [`PROMPT`]).
pub async fn raw_status(addr: SocketAddr, bytes: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The server may refuse before reading everything; a failed write is not the answer.
    let _ = stream.write_all(bytes).await;
    read_head(&mut stream, PROMPT)
        .await
        .map(|(status, _)| status)
}

/// A GET of `target` (raw bytes, sent as they are) on a fresh connection: the status.
pub async fn raw_get(addr: SocketAddr, target: &[u8]) -> Option<u16> {
    let mut req = b"GET ".to_vec();
    req.extend_from_slice(target);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    raw_status(addr, &req).await
}

/// Waits until the server closes `stream` (EOF or reset), discarding what it sends; `false`
/// if it is still open after `wait`.
pub async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// A WebSocket client on a raw `TcpStream`: it writes frames (or bare frame headers) by hand.
pub struct RawWs {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

/// What a [`RawWs`] read.
#[derive(Debug, PartialEq, Eq)]
pub enum RawSeen {
    /// A binary message carrying this protocol frame.
    Frame(Frame),
    /// A text message.
    Text(String),
    /// A WebSocket close with this code.
    Close(u16),
    /// The connection ended.
    Ended,
    /// Nothing within the wait.
    Nothing,
}

impl RawWs {
    /// Upgrades `path` (no `Origin`); panics unless the answer is `101`.
    pub async fn open(addr: SocketAddr, path: &str) -> RawWs {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        // Read the head byte by byte so no frame byte after it is swallowed.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            let n = timeout(PROMPT, stream.read(&mut b)).await.unwrap().unwrap();
            assert_eq!(n, 1, "closed during the upgrade: {head:?}");
            head.push(b[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{:?}",
            String::from_utf8_lossy(&head)
        );
        RawWs {
            stream,
            buf: Vec::new(),
        }
    }

    /// Writes a masked frame header (FIN, `opcode`) declaring `len` payload bytes, and nothing
    /// else. Returns the mask.
    pub async fn write_header(&mut self, opcode: u8, len: u64) -> [u8; 4] {
        let mask = [0x11, 0x22, 0x33, 0x44];
        let mut header = vec![0x80 | opcode];
        if len < 126 {
            header.push(0x80 | len as u8);
        } else if len <= u64::from(u16::MAX) {
            header.push(0x80 | 126);
            header.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            header.push(0x80 | 127);
            header.extend_from_slice(&len.to_be_bytes());
        }
        header.extend_from_slice(&mask);
        self.stream.write_all(&header).await.unwrap();
        mask
    }

    /// Writes one whole binary message.
    pub async fn write_binary(&mut self, payload: &[u8]) {
        let mask = self.write_header(0x2, payload.len() as u64).await;
        let masked: Vec<u8> = payload
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        self.stream.write_all(&masked).await.unwrap();
    }

    /// Writes one protocol frame as a binary message.
    pub async fn send(&mut self, frame: &Frame) {
        self.write_binary(&encode(frame)).await;
    }

    /// The next data message (opcode 1 or 2, and its payload) within `wait`, skipping
    /// WebSocket pings and pongs; a close, the end or nothing is the `Err`.
    pub async fn message(&mut self, wait: Duration) -> Result<(u8, Vec<u8>), RawSeen> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some((opcode, payload, used)) = parse_server_frame(&self.buf) {
                self.buf.drain(..used);
                match opcode {
                    0x1 | 0x2 => return Ok((opcode, payload)),
                    0x8 => {
                        let code = payload
                            .get(..2)
                            .map_or(1005, |c| u16::from_be_bytes([c[0], c[1]]));
                        return Err(RawSeen::Close(code));
                    }
                    _ => continue, // ping, pong
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Err(_) => return Err(RawSeen::Nothing),
                Ok(Ok(0)) | Ok(Err(_)) => return Err(RawSeen::Ended),
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// The next protocol frame, text message or close within `wait` (server frames are never
    /// masked).
    pub async fn next(&mut self, wait: Duration) -> RawSeen {
        match self.message(wait).await {
            Err(seen) => seen,
            Ok((0x1, payload)) => RawSeen::Text(String::from_utf8_lossy(&payload).into_owned()),
            Ok((_, payload)) => {
                let limits = Limits {
                    max_message_bytes: 64 << 20,
                };
                match decode(&payload, &limits).unwrap() {
                    Decoded::Frame(frame) => RawSeen::Frame(frame),
                    Decoded::Unknown(t) => panic!("unknown frame type {t}"),
                }
            }
        }
    }

    /// The next message that is not a protocol PING or ACK.
    pub async fn next_significant(&mut self, wait: Duration) -> RawSeen {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                RawSeen::Frame(Frame::Ping { .. } | Frame::Ack { .. }) => {}
                other => return other,
            }
        }
    }
}

/// (opcode, payload, bytes used) of the first whole unmasked frame in `buf`.
fn parse_server_frame(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let (b0, b1) = (*buf.first()?, *buf.get(1)?);
    let (len, start) = match b1 & 0x7f {
        126 => (
            u64::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])),
            4,
        ),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?), 10),
        n => (u64::from(n), 2),
    };
    let end = start + usize::try_from(len).ok()?;
    let payload = buf.get(start..end)?.to_vec();
    Some((b0 & 0x0f, payload, end))
}

/// Two healthy sessions streaming numbered echoes in the background while a test abuses the
/// server: one over WebSocket, one over SSE with its sends as POSTs. Each sends message n, then
/// waits for its echo with server seq n before sending n + 1, so a lost, duplicated, reordered
/// or late echo, or a dropped connection, fails the witness.
pub struct Witness {
    stop: Arc<AtomicBool>,
    ws: JoinHandle<u64>,
    sse: JoinHandle<u64>,
    pub ws_session: String,
    pub sse_session: String,
    started: StdInstant,
}

/// Echoes the witness saw, per transport.
#[derive(Debug, Clone, Copy)]
pub struct Witnessed {
    pub ws: u64,
    pub sse: u64,
}

/// How long the witness waits between messages.
const WITNESS_PACE: Duration = Duration::from_millis(20);

impl Witness {
    /// Opens both sessions and starts streaming.
    pub async fn start(server: &Server) -> Witness {
        let stop = Arc::new(AtomicBool::new(false));
        let (mut ws, welcome) = server.client().await;
        let ws_session = welcome.session.clone();
        let flag = Arc::clone(&stop);
        let ws = tokio::spawn(async move {
            let mut n = 0u64;
            while !flag.load(Ordering::Relaxed) {
                n += 1;
                let body = format!("witness-ws-{n}");
                send(&mut ws, &text(n, &body)).await;
                match next_significant(&mut ws, PROMPT).await {
                    Seen::Frame(Frame::Text { seq, text }) => {
                        assert_eq!((seq, text.as_str()), (n, body.as_str()), "ws witness")
                    }
                    other => panic!("ws witness: expected echo {n}, saw {other:?}"),
                }
                tokio::time::sleep(WITNESS_PACE).await;
            }
            n
        });
        let addr = server.addr;
        let mut sse = Sse::open(addr, &sse_path(&hello(None)), &[]).await;
        assert_eq!(sse.status, 200);
        assert!(matches!(sse.next(PROMPT).await, SseSeen::Comment(_)));
        let sse_session = match sse.next(PROMPT).await {
            SseSeen::Frame(Frame::Welcome(w)) => w.session,
            other => panic!("sse witness: expected WELCOME, saw {other:?}"),
        };
        let flag = Arc::clone(&stop);
        let id = sse_session.clone();
        let sse = tokio::spawn(async move {
            let mut n = 0u64;
            while !flag.load(Ordering::Relaxed) {
                n += 1;
                let body = format!("witness-sse-{n}");
                assert_eq!(
                    post_send(addr, &id, &[text(n, &body)]).await,
                    204,
                    "sse witness"
                );
                assert_eq!(sse.frame().await, text(n, &body), "sse witness echo {n}");
                tokio::time::sleep(WITNESS_PACE).await;
            }
            n
        });
        Witness {
            stop,
            ws,
            sse,
            ws_session,
            sse_session,
            started: StdInstant::now(),
        }
    }

    /// Stops streaming and asserts both sessions kept going the whole time.
    pub async fn finish(self) -> Witnessed {
        let ran = self.started.elapsed();
        self.stop.store(true, Ordering::Relaxed);
        let ws = self.ws.await.expect("the WebSocket witness failed");
        let sse = self.sse.await.expect("the SSE witness failed");
        // At least one echo per 500 ms of abuse on each: they were not stalled.
        let floor = (ran.as_millis() / 500) as u64;
        assert!(
            ws >= floor.max(1),
            "ws witness saw only {ws} echoes in {ran:?}"
        );
        assert!(
            sse >= floor.max(1),
            "sse witness saw only {sse} echoes in {ran:?}"
        );
        Witnessed { ws, sse }
    }
}
