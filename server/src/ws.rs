//! The holdfast protocol over WebSocket (`PROTOCOL.md` §4–6, §8.1): one frame per binary
//! message.
//!
//! One task per connection owns the socket and does everything in a single `select!` loop:
//! reading (PING answered with PONG right there, in the read path), draining the session's queue
//! from the [`Hub`](crate::Hub), the ack / ping / idle timers, and the fault watch. Nothing else
//! ever touches the socket, so frames leave in the order they were produced.

use crate::app::Message;
use crate::faults::{FaultEvent, FaultWatch};
use crate::hub::{Command, SessionQueue};
use crate::{ConnectionGuard, Shared};
use axum::body::Bytes;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use holdfast::protocol::{
    decode, encode, CloseFrame, DecodeError, Decoded, ErrorCode, ErrorFrame, Frame, Hello, Limits,
    ResumeOutcome, Welcome, MAX_FRAME_BYTES, VERSION,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep_until, timeout, Instant};

/// An unacknowledged data frame is acked at most this late.
const ACK_DELAY: Duration = Duration::from_millis(200);
/// An ACK goes out at once when this many data frames are unacknowledged.
const ACK_EVERY: u32 = 32;
/// How long closing may take: sending the last frames, then waiting for the peer's close.
pub(crate) const CLOSE_LINGER: Duration = Duration::from_secs(1);
/// Sequence numbers never wrap: past this the session ends with 1011.
const MAX_SEQ: u64 = 1 << 63;

/// `GET {base}/ws`: checks `Origin` and the `refuse-ws` fault (403), then upgrades.
pub(crate) async fn handler(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match shared.admit(&headers, upgrade) {
        Ok(upgrade) => upgrade,
        Err(answer) => return *answer,
    };
    // The WebSocket layer accepts anything up to the protocol's hard frame cap, so that a payload
    // over `max_message_bytes` reaches the decoder and is answered with CLOSE 1009.
    upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| run(socket, shared))
}

/// How a connection ends.
enum End {
    /// The socket failed or closed under us: drop it.
    Gone,
    /// The peer sent a WebSocket close: let the reply go out, then drop.
    PeerClosed,
    /// The client sent a protocol CLOSE: stop sending, close the WebSocket normally.
    ClientClosed,
    /// A fault: drop the socket (after parking, for `Silent`).
    Fault(FaultEvent),
    /// Send `frames`, then close the WebSocket with `code` and `reason`.
    Close {
        frames: Vec<Frame>,
        code: u16,
        reason: String,
    },
}

impl End {
    /// A protocol CLOSE with `code` and `reason`, then the WebSocket close.
    fn close(code: u16, reason: &str) -> End {
        End::Close {
            frames: vec![close_frame(code, reason)],
            code,
            reason: reason.to_owned(),
        }
    }

    /// ERROR `error`, then CLOSE 1002 (a handshake that cannot go on).
    fn refuse(error: ErrorCode, message: &str, reason: &str) -> End {
        End::Close {
            frames: vec![error_frame(error, message), close_frame(1002, reason)],
            code: 1002,
            reason: reason.to_owned(),
        }
    }
}

fn close_frame(code: u16, reason: &str) -> Frame {
    Frame::Close(CloseFrame {
        code,
        reason: reason.to_owned(),
    })
}

fn error_frame(code: ErrorCode, message: &str) -> Frame {
    Frame::Error(ErrorFrame {
        code,
        message: message.to_owned(),
        retry_after_ms: 0,
    })
}

/// Sends one frame as one binary message, giving up after `limit`.
async fn send_frame(socket: &mut WebSocket, frame: &Frame, limit: Duration) -> Result<(), End> {
    let bytes = Bytes::from(encode(frame));
    match timeout(limit, socket.send(ws::Message::Binary(bytes))).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(End::Gone),
    }
}

/// The connection task.
async fn run(mut socket: WebSocket, shared: Arc<Shared>) {
    let _connection = ConnectionGuard::new(&shared);
    let mut faults = shared.faults.watch();
    let limits = Limits {
        max_message_bytes: shared.config.max_message_bytes,
    };
    let handshake_timeout = Duration::from_millis(shared.config.handshake_timeout_ms);

    let hello = tokio::select! {
        event = faults.next() => return finish(socket, End::Fault(event), &mut faults).await,
        read = timeout(handshake_timeout, read_hello(&mut socket, &limits)) => match read {
            Ok(Ok(hello)) => hello,
            Ok(Err(end)) => return finish(socket, end, &mut faults).await,
            Err(_) => {
                let end = End::close(1002, "handshake timeout");
                return finish(socket, end, &mut faults).await;
            }
        },
    };
    if hello.min_version > VERSION || hello.max_version < VERSION {
        let end = End::refuse(
            ErrorCode::VersionUnsupported,
            "this server speaks protocol version 1 only",
            "version unsupported",
        );
        return finish(socket, end, &mut faults).await;
    }

    let (session, queue) = shared.hub.register();
    let registered = Registered {
        shared: &shared,
        session: &session,
    };
    let mut conn = Conn::new(&shared, &session, limits);
    let welcome = Frame::Welcome(Welcome {
        version: VERSION,
        session: session.clone(),
        // Resume is not implemented yet: a client asking for its old session gets a new one.
        resume: if hello.session.is_some() {
            ResumeOutcome::Failed
        } else {
            ResumeOutcome::New
        },
        ack: 0,
        ping_interval_ms: shared.config.ping_interval_ms,
        idle_timeout_ms: shared.config.idle_timeout_ms,
        max_message_bytes: u64::try_from(shared.config.max_message_bytes).unwrap_or(u64::MAX),
    });
    shared
        .handshakes
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let end = match conn.send(&mut socket, &welcome).await {
        Err(end) => {
            drop(registered);
            end
        }
        Ok(()) => {
            shared.app.on_open(&shared.hub, &session);
            let end = conn.run(&mut socket, queue, &mut faults).await;
            drop(registered);
            shared.app.on_close(&shared.hub, &session);
            end
        }
    };
    finish(socket, end, &mut faults).await;
}

/// Keeps a session in the hub for as long as it lives, even if the task unwinds.
struct Registered<'a> {
    shared: &'a Shared,
    session: &'a str,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.shared.hub.unregister(self.session);
    }
}

/// Waits for HELLO. Unknown frame types are skipped (forward compatibility) and text messages are
/// reported with ERROR 1 and ignored; any other frame, or a malformed one, ends the connection
/// with ERROR 1 and CLOSE 1002.
async fn read_hello(socket: &mut WebSocket, limits: &Limits) -> Result<Hello, End> {
    loop {
        let msg = match socket.recv().await {
            None | Some(Err(_)) => return Err(End::Gone),
            Some(Ok(msg)) => msg,
        };
        match msg {
            ws::Message::Binary(bytes) => match decode(&bytes, limits) {
                Ok(Decoded::Frame(Frame::Hello(hello))) => return Ok(hello),
                Ok(Decoded::Unknown(_)) => {}
                Ok(Decoded::Frame(_)) => {
                    return Err(End::refuse(
                        ErrorCode::BadFrame,
                        "the first frame must be HELLO",
                        "expected HELLO",
                    ))
                }
                Err(e) => {
                    return Err(End::refuse(
                        ErrorCode::BadFrame,
                        &format!("bad HELLO: {e}"),
                        "expected HELLO",
                    ))
                }
            },
            ws::Message::Text(_) => {
                let error = error_frame(ErrorCode::BadFrame, TEXT_MESSAGE_ERROR);
                send_frame(socket, &error, CLOSE_LINGER).await?;
            }
            ws::Message::Ping(_) | ws::Message::Pong(_) => {}
            ws::Message::Close(_) => return Err(End::PeerClosed),
        }
    }
}

const TEXT_MESSAGE_ERROR: &str = "text WebSocket messages are not holdfast frames";

/// One handshaken session's connection state.
struct Conn<'a> {
    shared: &'a Shared,
    session: &'a str,
    limits: Limits,
    ping_interval: Duration,
    idle_timeout: Duration,
    /// Last client seq delivered to the app.
    in_seq: u64,
    /// Data frames delivered since the last ACK.
    unacked: u32,
    /// When the pending ACK is due.
    ack_due: Option<Instant>,
    /// Last server seq sent.
    out_seq: u64,
    /// When anything was last sent (for the ping timer).
    last_sent: Instant,
    /// When anything was last received (for the idle timeout).
    last_recv: Instant,
    /// Id of the next server PING.
    next_ping_id: u64,
}

impl<'a> Conn<'a> {
    fn new(shared: &'a Shared, session: &'a str, limits: Limits) -> Self {
        let now = Instant::now();
        Conn {
            shared,
            session,
            limits,
            ping_interval: Duration::from_millis(shared.config.ping_interval_ms.max(1)),
            idle_timeout: Duration::from_millis(shared.config.idle_timeout_ms.max(1)),
            in_seq: 0,
            unacked: 0,
            ack_due: None,
            out_seq: 0,
            last_sent: now,
            last_recv: now,
            next_ping_id: 1,
        }
    }

    /// Sends a frame; a peer that cannot take it within the idle timeout is gone.
    async fn send(&mut self, socket: &mut WebSocket, frame: &Frame) -> Result<(), End> {
        send_frame(socket, frame, self.idle_timeout).await?;
        self.last_sent = Instant::now();
        Ok(())
    }

    async fn run(
        &mut self,
        socket: &mut WebSocket,
        mut queue: SessionQueue,
        faults: &mut FaultWatch,
    ) -> End {
        loop {
            let deadline = self.next_deadline();
            let step = tokio::select! {
                event = faults.next() => Err(End::Fault(event)),
                () = queue.overflow.notified() => Err(End::close(1013, "send queue full")),
                cmd = queue.rx.recv() => match cmd {
                    Some(Command::Send(msg)) => self.send_data(socket, msg).await,
                    Some(Command::Close(close)) => Err(End::close(close.code, &close.reason)),
                    None => Err(End::Gone),
                },
                msg = socket.recv() => match msg {
                    None | Some(Err(_)) => Err(End::Gone),
                    Some(Ok(msg)) => self.on_message(socket, msg).await,
                },
                () = sleep_until(deadline) => self.on_timers(socket).await,
            };
            match step {
                Ok(()) => {}
                // A half-open link: the session stays registered (the app cannot tell) while
                // the socket is left alone; once the fault clears, the link is dead.
                Err(End::Fault(FaultEvent::Silent)) => {
                    faults.park().await;
                    return End::Gone;
                }
                Err(end) => return end,
            }
        }
    }

    fn next_deadline(&self) -> Instant {
        let mut deadline =
            (self.last_recv + self.idle_timeout).min(self.last_sent + self.ping_interval);
        if let Some(ack) = self.ack_due {
            deadline = deadline.min(ack);
        }
        deadline
    }

    async fn on_timers(&mut self, socket: &mut WebSocket) -> Result<(), End> {
        let now = Instant::now();
        if now >= self.last_recv + self.idle_timeout {
            return Err(End::close(1001, "idle timeout"));
        }
        if self.ack_due.is_some_and(|due| now >= due) {
            self.send_ack(socket).await?;
        }
        if now >= self.last_sent + self.ping_interval {
            let id = self.next_ping_id;
            self.next_ping_id = self.next_ping_id.wrapping_add(1);
            self.send(socket, &Frame::Ping { id }).await?;
        }
        Ok(())
    }

    async fn send_ack(&mut self, socket: &mut WebSocket) -> Result<(), End> {
        self.unacked = 0;
        self.ack_due = None;
        self.send(socket, &Frame::Ack { seq: self.in_seq }).await
    }

    async fn send_data(&mut self, socket: &mut WebSocket, msg: Message) -> Result<(), End> {
        if self.out_seq >= MAX_SEQ {
            return Err(End::close(1011, "sequence numbers exhausted"));
        }
        self.out_seq += 1;
        let seq = self.out_seq;
        let frame = match msg {
            Message::Text(text) => Frame::Text { seq, text },
            Message::Binary(data) => Frame::Binary { seq, data },
        };
        self.send(socket, &frame).await
    }

    async fn on_message(&mut self, socket: &mut WebSocket, msg: ws::Message) -> Result<(), End> {
        // Any inbound message is proof of life, whatever it carries.
        self.last_recv = Instant::now();
        match msg {
            ws::Message::Binary(bytes) => self.on_frame(socket, &bytes).await,
            ws::Message::Text(_) => {
                let error = error_frame(ErrorCode::BadFrame, TEXT_MESSAGE_ERROR);
                self.send(socket, &error).await
            }
            ws::Message::Ping(_) | ws::Message::Pong(_) => Ok(()),
            ws::Message::Close(_) => Err(End::PeerClosed),
        }
    }

    async fn on_frame(&mut self, socket: &mut WebSocket, bytes: &[u8]) -> Result<(), End> {
        let frame = match decode(bytes, &self.limits) {
            Ok(Decoded::Frame(frame)) => frame,
            Ok(Decoded::Unknown(_)) => return Ok(()),
            Err(DecodeError::TooLarge {
                field: "payload" | "frame",
            }) => return Err(End::close(1009, "message too big")),
            Err(e) => {
                let error = error_frame(ErrorCode::BadFrame, &format!("bad frame: {e}"));
                return self.send(socket, &error).await;
            }
        };
        match frame {
            Frame::Text { seq, text } => self.on_data(socket, seq, Message::Text(text)).await,
            Frame::Binary { seq, data } => self.on_data(socket, seq, Message::Binary(data)).await,
            // Answered at once, from the read path (PROTOCOL.md §6).
            Frame::Ping { id } => self.send(socket, &Frame::Pong { id }).await,
            // Liveness only (already counted); acks matter once sessions can resume.
            Frame::Pong { .. } | Frame::Ack { .. } | Frame::Error(_) => Ok(()),
            Frame::Close(_) => Err(End::ClientClosed),
            Frame::Hello(_) | Frame::Welcome(_) => {
                let error = error_frame(ErrorCode::BadFrame, "unexpected handshake frame");
                self.send(socket, &error).await
            }
        }
    }

    /// Delivers a data frame in order: a duplicate (seq at or below the last delivered) is
    /// dropped; a gap (seq further ahead) cannot be recovered in v1 and is delivered anyway.
    async fn on_data(&mut self, socket: &mut WebSocket, seq: u64, msg: Message) -> Result<(), End> {
        let now = Instant::now();
        if seq <= self.in_seq {
            // The client may have missed our ACK: acknowledge again, but deliver nothing.
            self.ack_due.get_or_insert(now + ACK_DELAY);
            return Ok(());
        }
        self.in_seq = seq;
        self.shared
            .app
            .on_message(&self.shared.hub, self.session, msg);
        self.unacked += 1;
        if self.unacked >= ACK_EVERY {
            return self.send_ack(socket).await;
        }
        self.ack_due.get_or_insert(now + ACK_DELAY);
        Ok(())
    }
}

/// Ends a connection as `end` says, then drops the socket.
async fn finish(mut socket: WebSocket, end: End, faults: &mut FaultWatch) {
    match end {
        End::Gone | End::Fault(FaultEvent::Drop) => {}
        End::Fault(FaultEvent::Silent) => faults.park().await,
        End::PeerClosed => linger(&mut socket).await,
        End::ClientClosed => close_ws(&mut socket, 1000, "").await,
        End::Close {
            frames,
            code,
            reason,
        } => {
            for frame in &frames {
                if send_frame(&mut socket, frame, CLOSE_LINGER).await.is_err() {
                    return;
                }
            }
            close_ws(&mut socket, code, &reason).await;
        }
    }
}

/// Sends a WebSocket close and waits briefly for the peer's.
pub(crate) async fn close_ws(socket: &mut WebSocket, code: u16, reason: &str) {
    let close = ws::Message::Close(Some(ws::CloseFrame {
        code: ws_close_code(code),
        reason: reason.to_owned().into(),
    }));
    if let Ok(Ok(())) = timeout(CLOSE_LINGER, socket.send(close)).await {
        linger(socket).await;
    }
}

/// Reads until the peer's close (which also flushes our close reply) or [`CLOSE_LINGER`].
pub(crate) async fn linger(socket: &mut WebSocket) {
    let _ = timeout(CLOSE_LINGER, async {
        while let Some(Ok(msg)) = socket.recv().await {
            if matches!(msg, ws::Message::Close(_)) {
                // tungstenite answers the close on the next read; one more read flushes it.
                let _ = socket.recv().await;
                break;
            }
        }
    })
    .await;
}

/// A protocol close code as a code a WebSocket may send (1005, 1006, 1015 and unassigned codes
/// are not allowed on the wire; they become 1000).
fn ws_close_code(code: u16) -> u16 {
    match code {
        1000..=1003 | 1007..=1014 | 3000..=4999 => code,
        _ => 1000,
    }
}
