//! A tiny keep-alive HTTP/1.1 client (one connection per session, `Content-Length` and chunked
//! answers), the bench stats route, and protocol sessions over long polling (`long-poll`).
//! Hand-written so the load generator adds no HTTP client crate to the lock.

use crate::ramp::{ramp, Slot};
use crate::{ws::connect, Error, Target, STEP_DEADLINE};
use holdfast::protocol::{decode, encode_batch, split_batch, Decoded, Frame, Hello, Limits};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Largest answer head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest answer body accepted.
const MAX_BODY: usize = 32 << 20;
/// Longest a held poll may take: the server's hold (25 s) ends it sooner, and its PINGs sooner
/// still.
const POLL_DEADLINE: Duration = Duration::from_secs(40);

const LIMITS: Limits = Limits {
    max_message_bytes: 16 << 20,
};

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    host: String,
    buf: Vec<u8>,
}

impl Conn {
    /// A connection to `target` from the source address picked by `index`.
    pub async fn open(target: &Target, index: usize) -> Result<Conn, Error> {
        Ok(Conn {
            stream: connect(target.addr, index).await?,
            host: target.addr.to_string(),
            buf: Vec::new(),
        })
    }

    /// Sends one request and reads its whole answer: (status, body).
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), Error> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        );
        if let Some(ct) = content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(body);
        self.stream.write_all(&out).await?;
        self.answer().await
    }

    async fn fill(&mut self) -> Result<(), Error> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err("connection closed".into());
        }
        self.buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
        Ok(())
    }

    async fn answer(&mut self) -> Result<(u16, Vec<u8>), Error> {
        let end = loop {
            if let Some(at) = find(&self.buf, b"\r\n\r\n") {
                break at;
            }
            if self.buf.len() > MAX_HEAD {
                return Err("answer head too large".into());
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(self.buf.get(..end).unwrap_or(&[])).to_ascii_lowercase();
        self.buf.drain(..end + 4);
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("no status in the answer")?;
        let header = |name: &str| {
            head.lines().skip(1).find_map(|line| {
                let (k, v) = line.split_once(':')?;
                (k.trim() == name).then(|| v.trim().to_owned())
            })
        };
        let body = if header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
            self.chunked().await?
        } else {
            let len: usize = match header("content-length") {
                Some(l) => l.parse().map_err(|_| "bad content-length")?,
                None => 0,
            };
            if len > MAX_BODY {
                return Err("answer body too large".into());
            }
            while self.buf.len() < len {
                self.fill().await?;
            }
            self.buf.drain(..len).collect()
        };
        Ok((status, body))
    }

    async fn chunked(&mut self) -> Result<Vec<u8>, Error> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(at) = find(&self.buf, b"\r\n") {
                    break at;
                }
                if self.buf.len() > MAX_HEAD {
                    return Err("chunk size line too long".into());
                }
                self.fill().await?;
            };
            let line = String::from_utf8_lossy(self.buf.get(..line_end).unwrap_or(&[])).to_string();
            let size_hex = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_hex, 16).map_err(|_| "bad chunk size")?;
            if body.len() + size > MAX_BODY {
                return Err("answer body too large".into());
            }
            while self.buf.len() < line_end + 2 + size + 2 {
                self.fill().await?;
            }
            body.extend_from_slice(
                self.buf
                    .get(line_end + 2..line_end + 2 + size)
                    .unwrap_or(&[]),
            );
            self.buf.drain(..line_end + 2 + size + 2);
            if size == 0 {
                return Ok(body);
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `GET {base}/bench/stats` (the server must run with `--bench`).
pub async fn stats(target: &Target) -> Result<Value, Error> {
    let mut conn = Conn::open(target, 0).await?;
    let path = format!("{}/bench/stats", target.base);
    let (status, body) = timeout(STEP_DEADLINE, conn.request("GET", &path, None, &[]))
        .await
        .map_err(|_| "stats timed out")??;
    if status != 200 {
        return Err(format!("stats answered {status}").into());
    }
    Ok(serde_json::from_slice(&body)?)
}

/// The `long-poll` scenario.
pub async fn long_poll(
    target: &Target,
    sessions: usize,
    marks: &[usize],
    hold: Duration,
) -> Result<Value, Error> {
    let shared = Arc::new(target.clone());
    let before = stats(target).await.ok();
    let mut result = ramp(target, "long-polling", sessions, marks, hold, |slot| {
        poll_session(Arc::clone(&shared), slot)
    })
    .await?;
    result["scenario"] = json!("long-poll");
    result["server_stats_before"] = before.unwrap_or(Value::Null);
    Ok(result)
}

/// The frames of a batch answer.
fn frames(body: &[u8]) -> Result<Vec<Frame>, Error> {
    let mut out = Vec::new();
    for frame in split_batch(body)? {
        if let Decoded::Frame(frame) = decode(frame, &LIMITS)? {
            out.push(frame);
        }
    }
    Ok(out)
}

/// Opens a polling session: its id.
async fn open_poll(conn: &mut Conn, target: &Target) -> Result<String, Error> {
    let hello = encode_batch(&[Frame::Hello(Hello {
        min_version: 1,
        max_version: 1,
        session: None,
        last_seq: 0,
        probe: false,
    })]);
    let path = format!("{}/poll/open", target.base);
    let (status, body) = conn
        .request("POST", &path, Some("application/octet-stream"), &hello)
        .await?;
    if status != 200 {
        return Err(format!("poll/open answered {status}").into());
    }
    match frames(&body)?.first() {
        Some(Frame::Welcome(w)) => Ok(w.session.clone()),
        other => Err(format!("poll/open: expected WELCOME, got {other:?}").into()),
    }
}

async fn poll_session(target: Arc<Target>, slot: Slot) {
    let Slot {
        index,
        counters,
        permit,
        mut stop,
    } = slot;
    let opened = timeout(STEP_DEADLINE, async {
        let mut conn = Conn::open(&target, index).await?;
        let id = open_poll(&mut conn, &target).await?;
        Ok::<_, Error>((conn, id))
    })
    .await;
    let (mut conn, id) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(e)) => {
            counters.fail(&e);
            return;
        }
        Err(_) => {
            counters.fail(&"poll/open timed out");
            return;
        }
    };
    counters.established.fetch_add(1, Ordering::Relaxed);
    drop(permit);
    let mut cursor = 0u64;
    loop {
        let path = format!("{}/poll?session={id}&cursor={cursor}", target.base);
        let answer = tokio::select! {
            answer = timeout(POLL_DEADLINE, conn.request("GET", &path, None, &[])) => answer,
            _ = stop.changed() => return,
        };
        let why = match answer {
            Ok(Ok((200, body))) => match frames(&body) {
                Ok(frames) => {
                    let mut closed = None;
                    for frame in frames {
                        match frame {
                            Frame::Text { seq, .. } | Frame::Binary { seq, .. } => {
                                cursor = cursor.max(seq);
                            }
                            Frame::Close(c) => closed = Some(format!("CLOSE {}", c.code)),
                            _ => {}
                        }
                    }
                    match closed {
                        None => continue,
                        Some(why) => why,
                    }
                }
                Err(e) => e.to_string(),
            },
            Ok(Ok((status, _))) => format!("poll answered {status}"),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "poll timed out".to_owned(),
        };
        if !*stop.borrow() {
            counters.lose(&why);
        }
        return;
    }
}
