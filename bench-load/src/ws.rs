//! Protocol sessions over WebSocket ([`Session`], also driven by `echo`): idle ones (`ws-idle`)
//! and broadcast fan-out (`fanout`).

use crate::ramp::{ramp, Counters, Slot};
use crate::{cpu_secs, http, load_average, Error, Target, ACK_EVERY, STEP_DEADLINE};
use futures_util::{SinkExt, StreamExt};
use holdfast::protocol::{decode, encode, encode_data, Decoded, Frame, Hello, Limits};
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// What the client decodes: the server's frames are small, but a broadcast could be large.
const LIMITS: Limits = Limits {
    max_message_bytes: 16 << 20,
};

/// A TCP connection to `server` from a loopback source address picked by `index`
/// (`127.0.0.2`–`127.0.0.201`), so that many connections never exhaust one address's ports.
pub async fn connect(server: SocketAddr, index: usize) -> std::io::Result<TcpStream> {
    let stream = match server.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => {
            let socket = TcpSocket::new_v4()?;
            let last = u8::try_from(index % 200 + 2).unwrap_or(2);
            socket.bind(SocketAddr::new(Ipv4Addr::new(127, 0, 0, last).into(), 0))?;
            socket.connect(server).await?
        }
        _ => TcpStream::connect(server).await?,
    };
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// One protocol session over WebSocket.
pub struct Session {
    ws: WebSocketStream<TcpStream>,
    /// Highest server seq received.
    last_seq: u64,
    /// Data frames received since the last ACK.
    unacked: u32,
    /// Seq of the last data frame this session sent.
    sent_seq: u64,
}

/// What a session read.
pub enum Read {
    /// A data frame (TEXT payload, or `None` for BINARY).
    Data(Option<String>),
    /// A control frame, answered if needed.
    Control,
    /// The session or its socket ended.
    Ended(String),
}

impl Session {
    /// Connects and handshakes (HELLO for a new session, then WELCOME), within
    /// [`STEP_DEADLINE`].
    pub async fn open(target: &Target, index: usize) -> Result<Session, Error> {
        timeout(STEP_DEADLINE, Session::handshake(target, index))
            .await
            .map_err(|_| "handshake timed out")?
    }

    async fn handshake(target: &Target, index: usize) -> Result<Session, Error> {
        let stream = connect(target.addr, index).await?;
        let url = format!("ws://{}{}/ws", target.addr, target.base);
        // A small read buffer: the client side of 10 000 sessions should not dwarf the server.
        let config = WebSocketConfig::default().read_buffer_size(4096);
        let (ws, _) =
            tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await?;
        let mut session = Session {
            ws,
            last_seq: 0,
            unacked: 0,
            sent_seq: 0,
        };
        session
            .send(&Frame::Hello(Hello {
                min_version: 1,
                max_version: 1,
                session: None,
                last_seq: 0,
                probe: false,
            }))
            .await?;
        loop {
            match session.next_frame().await? {
                Some(Frame::Welcome(_)) => return Ok(session),
                Some(Frame::Ping { id }) => session.send(&Frame::Pong { id }).await?,
                Some(Frame::Error(e)) => return Err(format!("ERROR {}", e.message).into()),
                Some(Frame::Close(c)) => {
                    return Err(format!("CLOSE {} {}", c.code, c.reason).into())
                }
                Some(_) => {}
                None => return Err("closed during the handshake".into()),
            }
        }
    }

    /// Sends one frame.
    pub async fn send(&mut self, frame: &Frame) -> Result<(), Error> {
        self.ws.send(Message::Binary(encode(frame).into())).await?;
        Ok(())
    }

    /// Queues one frame without flushing.
    pub async fn feed(&mut self, bytes: Vec<u8>) -> Result<(), Error> {
        self.ws.feed(Message::Binary(bytes.into())).await?;
        Ok(())
    }

    /// Queues one TEXT data frame with the session's next seq, without flushing; gives that seq.
    pub async fn feed_text(&mut self, text: &str) -> Result<u64, Error> {
        let seq = self.sent_seq + 1;
        self.feed(encode_data(seq, false, text.as_bytes())).await?;
        self.sent_seq = seq;
        Ok(seq)
    }

    /// Flushes what was fed.
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.ws.flush().await?;
        Ok(())
    }

    /// The next protocol frame; `None` once the socket closed.
    async fn next_frame(&mut self) -> Result<Option<Frame>, Error> {
        while let Some(message) = self.ws.next().await {
            if let Message::Binary(bytes) = message? {
                if let Decoded::Frame(frame) = decode(&bytes, &LIMITS)? {
                    return Ok(Some(frame));
                }
            }
        }
        Ok(None)
    }

    /// Reads one frame and does what the protocol asks: PONG for PING, ACK every
    /// [`ACK_EVERY`] data frames.
    pub async fn read(&mut self) -> Read {
        let frame = match self.next_frame().await {
            Ok(Some(frame)) => frame,
            Ok(None) => return Read::Ended("socket closed".into()),
            Err(e) => return Read::Ended(e.to_string()),
        };
        let answer = match frame {
            Frame::Ping { id } => self.send(&Frame::Pong { id }).await,
            Frame::Text { seq, text } => {
                self.last_seq = self.last_seq.max(seq);
                self.unacked += 1;
                if self.unacked >= ACK_EVERY {
                    if let Err(e) = self.ack().await {
                        return Read::Ended(e.to_string());
                    }
                }
                return Read::Data(Some(text));
            }
            Frame::Binary { seq, .. } => {
                self.last_seq = self.last_seq.max(seq);
                self.unacked += 1;
                return Read::Data(None);
            }
            Frame::Close(c) => return Read::Ended(format!("CLOSE {} {}", c.code, c.reason)),
            _ => Ok(()),
        };
        match answer {
            Ok(()) => Read::Control,
            Err(e) => Read::Ended(e.to_string()),
        }
    }

    /// Acknowledges every data frame received so far (if any is unacknowledged).
    pub async fn ack(&mut self) -> Result<(), Error> {
        if self.unacked > 0 {
            self.unacked = 0;
            let seq = self.last_seq;
            self.send(&Frame::Ack { seq }).await?;
        }
        Ok(())
    }
}

/// The `ws-idle` scenario.
pub async fn idle(
    target: &Target,
    sessions: usize,
    marks: &[usize],
    hold: Duration,
) -> Result<Value, Error> {
    let shared = Arc::new(target.clone());
    let mut result = ramp(target, "websocket", sessions, marks, hold, |slot| {
        idle_session(Arc::clone(&shared), slot)
    })
    .await?;
    result["scenario"] = json!("ws-idle");
    Ok(result)
}

/// Opens slot's session and counts it established (releasing its handshake permit), or counts
/// the failure and gives `None`.
async fn establish(
    target: &Target,
    slot: Slot,
) -> Option<(Session, usize, Arc<Counters>, watch::Receiver<bool>)> {
    let Slot {
        index,
        counters,
        permit,
        stop,
    } = slot;
    let session = match Session::open(target, index).await {
        Ok(session) => session,
        Err(e) => {
            counters.fail(&e);
            return None;
        }
    };
    counters.established.fetch_add(1, Ordering::Relaxed);
    drop(permit);
    Some((session, index, counters, stop))
}

async fn idle_session(target: Arc<Target>, slot: Slot) {
    let Some((mut session, _, counters, mut stop)) = establish(&target, slot).await else {
        return;
    };
    loop {
        tokio::select! {
            read = session.read() => {
                if let Read::Ended(why) = read {
                    if !*stop.borrow() {
                        counters.lose(&why);
                    }
                    return;
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// The `fanout` scenario's settings.
pub struct FanoutParams {
    /// Receiving sessions.
    pub sessions: usize,
    /// How long delivery is measured.
    pub secs: Duration,
    /// How long the broadcast runs before it is measured.
    pub warmup: Duration,
    /// Most broadcasts the sender keeps ahead of the slowest receiver.
    pub window: u64,
}

/// The highest broadcast number each receiver (and, last, the sender) saw, and how many each
/// receiver received.
struct Board {
    last: Vec<AtomicU64>,
    received: Vec<AtomicU64>,
    /// Stop reading (and counting).
    done: AtomicBool,
}

impl Board {
    fn floor(&self) -> u64 {
        self.last
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0)
    }

    fn total(&self) -> u64 {
        self.received
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .sum()
    }
}

/// The `fanout` scenario.
pub async fn fanout(target: &Target, p: &FanoutParams) -> Result<Value, Error> {
    let load_start = load_average();
    let board = Arc::new(Board {
        last: (0..=p.sessions).map(|_| AtomicU64::new(0)).collect(),
        received: (0..p.sessions).map(|_| AtomicU64::new(0)).collect(),
        done: AtomicBool::new(false),
    });
    let counters = Arc::new(Counters::default());
    let (stop_tx, stop) = watch::channel(false);
    let target = Arc::new(target.clone());

    // The receivers, a hundred handshakes at a time.
    let began = Instant::now();
    let in_flight = Arc::new(tokio::sync::Semaphore::new(crate::HANDSHAKES_IN_FLIGHT));
    for index in 0..p.sessions {
        let permit = Arc::clone(&in_flight).acquire_owned().await?;
        let slot = Slot {
            index,
            counters: Arc::clone(&counters),
            permit,
            stop: stop.clone(),
        };
        tokio::spawn(receiver(Arc::clone(&target), slot, Arc::clone(&board)));
    }
    let deadline = Instant::now() + STEP_DEADLINE;
    while counters.established.load(Ordering::Relaxed) + counters.failed.load(Ordering::Relaxed)
        < p.sessions
    {
        if Instant::now() >= deadline {
            return Err("fanout: receivers not established in time".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let established = counters.established.load(Ordering::Relaxed);
    if established < p.sessions {
        return Err(format!(
            "fanout: only {established} of {} receivers established ({:?})",
            p.sessions,
            counters.first_error.lock().ok().and_then(|e| e.clone())
        )
        .into());
    }
    let setup_secs = began.elapsed().as_secs_f64();

    // The sender, until warm-up plus measurement is over.
    let mut sender = Session::open(&target, p.sessions).await?;
    let sent = Arc::new(AtomicU64::new(0));
    let run_for = p.warmup + p.secs;
    let sending = {
        let board = Arc::clone(&board);
        let sent = Arc::clone(&sent);
        let window = p.window.max(1);
        tokio::spawn(async move {
            let result = send_broadcasts(&mut sender, &board, &sent, window, run_for).await;
            (result, sender)
        })
    };
    tokio::time::sleep(p.warmup).await;
    let (t0, d0, s0) = (Instant::now(), board.total(), sent.load(Ordering::Relaxed));
    let (server_cpu0, client_cpu0) = (cpu_secs(target.pid), cpu_secs(None));
    let redis_cpu0 = target.redis_pid.and_then(|p| cpu_secs(Some(p)));
    tokio::time::sleep(p.secs).await;
    let (elapsed, d1, s1) = (
        t0.elapsed().as_secs_f64(),
        board.total(),
        sent.load(Ordering::Relaxed),
    );
    let percent = |before: Option<f64>, after: Option<f64>| {
        Some((after? - before?) / elapsed.max(1e-9) * 100.0)
    };
    let server_cpu = percent(server_cpu0, cpu_secs(target.pid));
    let client_cpu = percent(client_cpu0, cpu_secs(None));
    let redis_cpu = percent(redis_cpu0, target.redis_pid.and_then(|p| cpu_secs(Some(p))));
    board.done.store(true, Ordering::Relaxed);
    let _ = stop_tx.send(true);
    let (send_result, _sender) = sending.await?;
    send_result?;
    let stats = http::stats(&target).await.ok();

    let delivered = d1.saturating_sub(d0);
    let total_rate = delivered as f64 / elapsed.max(1e-9);
    Ok(json!({
        "scenario": "fanout",
        "transport": "websocket",
        "sessions": p.sessions,
        "established": established,
        "lost": counters.lost.load(Ordering::Relaxed),
        "first_error": counters.first_error.lock().ok().and_then(|e| e.clone()),
        "setup_secs": setup_secs,
        "warmup_secs": p.warmup.as_secs_f64(),
        "measured_secs": elapsed,
        "window": p.window,
        "broadcasts_sent": s1.saturating_sub(s0),
        "broadcasts_per_sec": s1.saturating_sub(s0) as f64 / elapsed.max(1e-9),
        "delivered": delivered,
        "msgs_per_sec_total": total_rate,
        "msgs_per_sec_per_session": total_rate / p.sessions.max(1) as f64,
        "server_stats": stats,
        "server_cpu_percent": server_cpu,
        // Deliveries per second of server CPU time: less at the mercy of a loaded machine.
        "msgs_per_server_cpu_sec": server_cpu.filter(|&c| c > 0.0).map(|c| total_rate * 100.0 / c),
        "client_cpu_percent": client_cpu,
        "redis_cpu_percent": redis_cpu,
        "load_average_start": load_start,
        "load_average_end": load_average(),
    }))
}

/// Sends `broadcast:<n>` for n = 1, 2, … while at most `window` ahead of the slowest
/// receiver, for `run_for`; reads (and acknowledges) what comes back in between. The sender's
/// own session gets every broadcast too and counts in the floor, so its log stays bounded.
async fn send_broadcasts(
    sender: &mut Session,
    board: &Board,
    sent: &AtomicU64,
    window: u64,
    run_for: Duration,
) -> Result<(), Error> {
    let end = Instant::now() + run_for;
    let mut next: u64 = 1;
    let mut fed = 0u32;
    while Instant::now() < end {
        if next <= board.floor() + window {
            sender.feed_text(&format!("broadcast:{next}")).await?;
            sent.store(next, Ordering::Relaxed);
            next += 1;
            fed += 1;
            if fed >= 16 {
                sender.flush().await?;
                fed = 0;
            }
            continue;
        }
        sender.flush().await?;
        fed = 0;
        // The window is shut: read what the server sent this session (its own copy of every
        // broadcast, PINGs, ACKs) until it opens again or a millisecond passes.
        match timeout(Duration::from_millis(1), sender.read()).await {
            Ok(Read::Ended(why)) => return Err(format!("the sender's session ended: {why}").into()),
            Ok(Read::Data(text)) => {
                if let (Some(n), Some(own)) =
                    (text.and_then(|t| t.parse::<u64>().ok()), board.last.last())
                {
                    own.fetch_max(n, Ordering::Relaxed);
                }
            }
            Ok(Read::Control) => {}
            Err(_) => sender.ack().await?,
        }
    }
    sender.flush().await?;
    Ok(())
}

async fn receiver(target: Arc<Target>, slot: Slot, board: Arc<Board>) {
    let Some((mut session, index, counters, mut stop)) = establish(&target, slot).await else {
        return;
    };
    let (Some(last), Some(received)) = (board.last.get(index), board.received.get(index)) else {
        return;
    };
    loop {
        tokio::select! {
            read = timeout(Duration::from_millis(50), session.read()) => match read {
                Ok(Read::Data(text)) => {
                    if board.done.load(Ordering::Relaxed) {
                        continue;
                    }
                    received.fetch_add(1, Ordering::Relaxed);
                    if let Some(n) = text.and_then(|t| t.parse::<u64>().ok()) {
                        last.fetch_max(n, Ordering::Relaxed);
                    }
                }
                Ok(Read::Control) => {}
                Ok(Read::Ended(why)) => {
                    if !*stop.borrow() {
                        counters.lose(&why);
                    }
                    return;
                }
                // Quiet for a moment: acknowledge the rest now.
                Err(_) => {
                    if session.ack().await.is_err() && !*stop.borrow() {
                        counters.lose(&"ack failed");
                        return;
                    }
                }
            },
            _ = stop.changed() => return,
        }
    }
}
