//! A small HTTP/1.1 client for the HTTP transports, over a raw `TcpStream`.
//!
//! Hand-written rather than a client crate on purpose: the tests need to see what a crate
//! hides — a connection closed with no answer at all (`kill-polls`), a stream aborted mid-body
//! without its final chunk (`drop`), bytes held back by a "proxy" (`buffer-sse`) — and it adds
//! no dependency. It speaks just enough: one request per connection, `Content-Length` and
//! chunked bodies.

use super::PROMPT;
use holdfast::protocol::{
    decode, decode_base64, decode_batch, encode, encode_base64url, encode_batch, Decoded, Frame,
    Limits,
};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

const LIMITS: Limits = Limits {
    max_message_bytes: 64 << 20,
};

/// A complete answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// The head, lowercased.
    pub head: String,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as a batch of frames.
    pub fn frames(&self) -> Vec<Frame> {
        decode_batch(&self.body, &LIMITS)
            .unwrap()
            .into_iter()
            .map(|f| match f.unwrap() {
                Decoded::Frame(frame) => frame,
                Decoded::Unknown(t) => panic!("unknown frame type {t}"),
            })
            .collect()
    }

    /// The data frames of the batch, as (seq, text).
    pub fn texts(&self) -> Vec<(u64, String)> {
        data_texts(&self.frames())
    }
}

/// The (seq, text) of every TEXT frame in `frames`.
pub fn data_texts(frames: &[Frame]) -> Vec<(u64, String)> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Text { seq, text } => Some((*seq, text.clone())),
            _ => None,
        })
        .collect()
}

/// The value of header `name` (lowercase) in a lowercased `head`, if present.
pub fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim().to_owned())
    })
}

/// How a body read ended, when it did not yield bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyEnd {
    /// The final chunk arrived: a clean end.
    Complete,
    /// The connection ended before the final chunk (an aborted body).
    Aborted,
    /// Nothing within the wait.
    Nothing,
}

/// One connection carrying one request.
pub struct Conn {
    stream: TcpStream,
    raw: Vec<u8>,
    eof: bool,
    chunked: bool,
    /// Bytes of the current chunk still to come (chunked) or of the body (`Content-Length`).
    left: Option<usize>,
    done: bool,
}

impl Conn {
    /// Sends `method path` with `headers` and `body` on a fresh connection.
    pub async fn send(
        addr: SocketAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Conn {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        let mut has_length = false;
        for (name, value) in headers {
            has_length |= name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("transfer-encoding");
            req.push_str(&format!("{name}: {value}\r\n"));
        }
        if !has_length {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        Conn {
            stream,
            raw: Vec::new(),
            eof: false,
            chunked: false,
            left: None,
            done: false,
        }
    }

    /// Writes more request bytes (a body sent in pieces). Fails once the server closed.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Reads more bytes; `false` at EOF or when `deadline` passed.
    async fn fill(&mut self, deadline: Instant) -> bool {
        if self.eof {
            return false;
        }
        let mut buf = [0u8; 16 * 1024];
        match timeout_at(deadline, self.stream.read(&mut buf)).await {
            Err(_) => false,
            Ok(Ok(0)) | Ok(Err(_)) => {
                self.eof = true;
                false
            }
            Ok(Ok(n)) => {
                self.raw.extend_from_slice(buf.get(..n).unwrap());
                true
            }
        }
    }

    /// The status and lowercased head; `None` if the connection closed (or `wait` passed)
    /// without one.
    pub async fn head(&mut self, wait: Duration) -> Option<(u16, String)> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(end) = find(&self.raw, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.raw[..end]).to_ascii_lowercase();
                self.raw.drain(..end + 4);
                let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
                self.chunked = header(&head, "transfer-encoding").as_deref() == Some("chunked");
                if !self.chunked {
                    self.left = header(&head, "content-length").and_then(|l| l.parse().ok());
                }
                return Some((status, head));
            }
            if !self.fill(deadline).await {
                return None;
            }
        }
    }

    /// The next body bytes available within `wait`.
    pub async fn body_chunk(&mut self, wait: Duration) -> Result<Vec<u8>, BodyEnd> {
        let deadline = Instant::now() + wait;
        loop {
            if self.done {
                return Err(BodyEnd::Complete);
            }
            if let Some(bytes) = self.take_decoded() {
                return Ok(bytes);
            }
            if self.done {
                return Err(BodyEnd::Complete);
            }
            if !self.fill(deadline).await {
                if self.eof {
                    // Without chunking or a length, EOF is the end of the body.
                    let clean = !self.chunked && self.left.is_none();
                    self.done = clean;
                    return Err(if clean {
                        BodyEnd::Complete
                    } else {
                        BodyEnd::Aborted
                    });
                }
                return Err(BodyEnd::Nothing);
            }
        }
    }

    /// Body bytes decodable from what was read so far.
    fn take_decoded(&mut self) -> Option<Vec<u8>> {
        if !self.chunked {
            if self.raw.is_empty() {
                return (self.left == Some(0)).then(|| {
                    self.done = true;
                    Vec::new()
                });
            }
            let n = self.left.map_or(self.raw.len(), |l| l.min(self.raw.len()));
            let bytes: Vec<u8> = self.raw.drain(..n).collect();
            if let Some(l) = &mut self.left {
                *l -= n;
                self.done = *l == 0;
            }
            return Some(bytes);
        }
        let mut out = Vec::new();
        loop {
            match self.left {
                Some(0) => {
                    // The CRLF after a chunk's data.
                    if self.raw.len() < 2 {
                        break;
                    }
                    self.raw.drain(..2);
                    self.left = None;
                }
                Some(n) => {
                    if self.raw.is_empty() {
                        break;
                    }
                    let take = n.min(self.raw.len());
                    out.extend(self.raw.drain(..take));
                    self.left = Some(n - take);
                }
                None => {
                    let Some(end) = find(&self.raw, b"\r\n") else {
                        break;
                    };
                    let line = String::from_utf8_lossy(&self.raw[..end]).into_owned();
                    let size =
                        usize::from_str_radix(line.split(';').next().unwrap().trim(), 16).unwrap();
                    if size == 0 {
                        self.done = true;
                        break;
                    }
                    self.raw.drain(..end + 2);
                    self.left = Some(size);
                }
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// The whole answer; `None` if the connection closed without one.
    pub async fn reply(mut self) -> Option<Reply> {
        let (status, head) = self.head(PROMPT).await?;
        let mut body = Vec::new();
        loop {
            match self.body_chunk(PROMPT).await {
                Ok(bytes) => body.extend(bytes),
                Err(BodyEnd::Complete) => break,
                Err(other) => panic!("body of a {status} answer ended with {other:?}"),
            }
        }
        Some(Reply { status, head, body })
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `method path` with `headers` and `body`; `None` if the connection closed without an answer.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<Reply> {
    Conn::send(addr, method, path, headers, body)
        .await
        .reply()
        .await
}

/// `POST {base}/send?session=<id>` with `frames`: the status.
pub async fn post_send(addr: SocketAddr, session: &str, frames: &[Frame]) -> u16 {
    let path = format!("/holdfast/send?session={session}");
    let reply = request(addr, "POST", &path, &[], &encode_batch(frames)).await;
    reply.expect("send answered").status
}

/// `POST {base}/poll/open` with `hello`: the answer.
pub async fn poll_open(addr: SocketAddr, hello: &Frame) -> Reply {
    let body = encode_batch(std::slice::from_ref(hello));
    request(addr, "POST", "/holdfast/poll/open", &[], &body)
        .await
        .expect("poll open answered")
}

/// `GET {base}/poll` for `session` from `cursor` (`hold = false`: a short poll); `None` if the
/// connection closed without an answer.
pub async fn poll(addr: SocketAddr, session: &str, cursor: u64, hold: bool) -> Option<Reply> {
    let hold = if hold { "" } else { "&hold=0" };
    let path = format!("/holdfast/poll?session={session}&cursor={cursor}{hold}");
    request(addr, "GET", &path, &[], &[]).await
}

/// The `/holdfast/sse` path carrying `hello`.
pub fn sse_path(hello: &Frame) -> String {
    format!("/holdfast/sse?hello={}", encode_base64url(&encode(hello)))
}

/// What an SSE stream showed next.
#[derive(Debug)]
pub enum SseSeen {
    Comment(String),
    Frame(Frame),
    /// The stream ended cleanly (final chunk).
    Ended,
    /// The connection ended mid-body.
    Aborted,
    Nothing,
}

/// An open SSE stream.
pub struct Sse {
    conn: Conn,
    pub status: u16,
    pub head: String,
    text: String,
}

impl Sse {
    /// Opens `path` with `headers`; panics if no head arrives.
    pub async fn open(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Sse {
        let mut conn = Conn::send(addr, "GET", path, headers, &[]).await;
        let (status, head) = conn.head(PROMPT).await.expect("SSE head");
        Sse {
            conn,
            status,
            head,
            text: String::new(),
        }
    }

    /// Raw body bytes within `wait` (for checking what a buffering proxy let through).
    pub async fn raw_chunk(&mut self, wait: Duration) -> Result<Vec<u8>, BodyEnd> {
        self.conn.body_chunk(wait).await
    }

    /// The next event (comment or frame) within `wait`.
    pub async fn next(&mut self, wait: Duration) -> SseSeen {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let event: String = self.text.drain(..end + 2).collect();
                let event = event.trim_end();
                if let Some(comment) = event.strip_prefix(':') {
                    return SseSeen::Comment(comment.to_owned());
                }
                let data = event.strip_prefix("data: ").expect("a data event");
                let bytes = decode_base64(data, 64 << 20).unwrap();
                return match decode(&bytes, &LIMITS).unwrap() {
                    Decoded::Frame(frame) => SseSeen::Frame(frame),
                    Decoded::Unknown(t) => panic!("unknown frame type {t}"),
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.conn.body_chunk(left).await {
                Ok(bytes) => self.text.push_str(std::str::from_utf8(&bytes).unwrap()),
                Err(BodyEnd::Complete) => return SseSeen::Ended,
                Err(BodyEnd::Aborted) => return SseSeen::Aborted,
                Err(BodyEnd::Nothing) => return SseSeen::Nothing,
            }
        }
    }

    /// The next frame that is not a PING or an ACK; panics on anything else.
    pub async fn frame(&mut self) -> Frame {
        loop {
            match self.next(PROMPT).await {
                SseSeen::Frame(Frame::Ping { .. } | Frame::Ack { .. }) => {}
                SseSeen::Frame(frame) => return frame,
                other => panic!("expected a frame, saw {other:?}"),
            }
        }
    }

    /// Skips PINGs and ACKs and returns how the stream then ended (or `Nothing`).
    pub async fn end(&mut self, wait: Duration) -> SseSeen {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                SseSeen::Frame(Frame::Ping { .. } | Frame::Ack { .. }) => {}
                other => return other,
            }
        }
    }
}
