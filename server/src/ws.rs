//! The holdfast protocol over WebSocket (`PROTOCOL.md` §4–6, §8.1): one frame per binary
//! message. A transport adapter: it attaches a connection to a session and moves bytes; the
//! protocol itself is in [`ServerSession`](crate::ServerSession).
//!
//! One task per connection owns the socket and does everything in a single `select!` loop:
//! feeding inbound messages to the session, the session's timers at its `poll_timeout`, the
//! wake-up when the app sent something (or a newer connection took the session over), and the
//! fault watch. Nothing else ever touches the socket, so frames leave in the order the session
//! produced them. When the socket goes, the session stays: it is detached and waits for a resume.

use crate::clock;
use crate::faults::{FaultEvent, FaultWatch};
use crate::lifecycle::{self, Attachment, Refusal, Step};
use crate::session::TOO_BIG;
use crate::{Gauge, Shared};
use axum::body::Bytes;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use holdfast::protocol::{
    decode, encode, CloseFrame, Decoded, ErrorCode, ErrorFrame, Frame, Hello, Limits,
    MAX_FRAME_BYTES,
};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::timeout;

/// How long closing may take: sending the last frames, then waiting for the peer's close.
pub(crate) const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// The WebSocket close of a connection whose task panicked (no protocol CLOSE: the session
/// lives on).
const SERVER_ERROR: (u16, &str) = (1011, "server error");

/// The refusal of a page whose `Origin` is not allowed.
const ORIGIN_REFUSED: &str = "origin not allowed";

/// `GET {base}/ws`: the `refuse-ws` fault answers 403 (a proxy blocking WebSocket); otherwise
/// upgrades. A disallowed `Origin` is refused *over* the WebSocket (ERROR 6, CLOSE 1008), because
/// browsers hide the upgrade's HTTP status from pages and the client must learn it is final.
pub(crate) async fn handler(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Some(refusal) = shared.refuse_ws_fault() {
        return refusal;
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    if !shared.origin_allowed(&headers) {
        // Cross-site WebSocket hijacking defence: no session, nothing read, only the refusal.
        return upgrade
            .max_message_size(1024)
            .max_frame_size(1024)
            .on_upgrade(move |socket| refuse_origin(socket, shared));
    }
    // The WebSocket layer refuses a message over `max_message_bytes` plus the frame's own fields
    // as soon as its header declares it, before reserving room for it (SEC-4; tungstenite
    // reserves a frame's declared length up front); that is answered with CLOSE 1009 like a
    // payload over the limit that the decoder saw.
    let limit = ws_message_limit(shared.config.max_message_bytes);
    // The fault watch starts with the request, not with the connection task: a `drop` ordered
    // between the upgrade's answer and the task's start must still drop this connection (the
    // client may already have seen `open`).
    let faults = shared.faults.watch();
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| run(socket, shared, faults))
}

/// What a frame may hold beyond its data payload: the type byte and seq of a data frame, and
/// every non-data frame whole (the largest, ERROR, is under 1.1 KiB).
const FRAME_SLACK: usize = 2048;

/// The largest WebSocket message the protocol endpoint reads (never above `MAX_FRAME_BYTES`).
fn ws_message_limit(max_message_bytes: usize) -> usize {
    max_message_bytes
        .saturating_add(FRAME_SLACK)
        .min(MAX_FRAME_BYTES)
}

/// Whether a WebSocket read failed because the message was over the size limit.
pub(crate) fn is_too_big(error: &axum::Error) -> bool {
    std::error::Error::source(error)
        .and_then(|e| e.downcast_ref::<tungstenite::Error>())
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}

/// CLOSE 1009, then the WebSocket close 1009: a message over the limit before any session.
fn too_big_end() -> End {
    End::Close {
        frames: vec![close_frame(TOO_BIG.0, TOO_BIG.1)],
        code: TOO_BIG.0,
        reason: TOO_BIG.1.to_owned(),
    }
}

/// Each connection's read buffer. tungstenite's default (128 KiB, zero-filled on the first read)
/// made every idle session cost 134 KiB of RSS; at 8 KiB one costs 12.6 KiB (BENCHMARKS.md,
/// "Server"). Larger messages just take more reads.
pub(crate) const READ_BUFFER_BYTES: usize = 8 * 1024;

/// How a connection ends.
enum End {
    /// The socket failed or closed under us, or the connection was taken over: drop it.
    Gone,
    /// The peer sent a WebSocket close: let the reply go out, then drop.
    PeerClosed,
    /// A fault: drop the socket (after parking, for `Silent`).
    Fault(FaultEvent),
    /// Send `frames`, then close the WebSocket with `code` and `reason`.
    Close {
        frames: Vec<Frame>,
        code: u16,
        reason: String,
    },
}

impl From<Refusal> for End {
    /// ERROR, then CLOSE, then the WebSocket close with the same code: a handshake that cannot
    /// go on.
    fn from(refusal: Refusal) -> End {
        End::Close {
            frames: refusal.frames(),
            code: refusal.code,
            reason: refusal.reason.to_owned(),
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

/// A page from a foreign origin: ERROR 6 and CLOSE 1008, then the WebSocket close 1008.
async fn refuse_origin(socket: WebSocket, shared: Arc<Shared>) {
    let _connection = Gauge::connection(&shared);
    let mut faults = shared.faults.watch();
    let end = Refusal::new(
        ErrorCode::Forbidden,
        ORIGIN_REFUSED,
        0,
        1008,
        ORIGIN_REFUSED,
    );
    finish(socket, end.into(), &mut faults).await;
}

/// The connection task; `faults` was taken when the upgrade request arrived.
async fn run(mut socket: WebSocket, shared: Arc<Shared>, mut faults: FaultWatch) {
    let _connection = Gauge::connection(&shared);
    let limits = Limits {
        max_message_bytes: shared.config.max_message_bytes,
    };
    let handshake_timeout = Duration::from_millis(shared.config.handshake_timeout_ms);

    let mut probed = false;
    let hello = loop {
        let hello = tokio::select! {
            event = faults.next() => return finish(socket, End::Fault(event), &mut faults).await,
            read = timeout(handshake_timeout, read_hello(&mut socket, &limits)) => match read {
                Ok(Ok(hello)) => hello,
                Ok(Err(end)) => return finish(socket, end, &mut faults).await,
                Err(_) => {
                    let end = End::Close {
                        frames: vec![close_frame(1002, "handshake timeout")],
                        code: 1002,
                        reason: "handshake timeout".to_owned(),
                    };
                    return finish(socket, end, &mut faults).await;
                }
            },
        };
        if !hello.probe {
            break hello;
        }
        // A probe (upgrade back, PROTOCOL.md §4): WELCOME without attaching, then wait for the
        // plain HELLO that takes the session over on this connection. One probe per connection.
        let probe = if probed {
            None
        } else {
            Some(lifecycle::probe(&shared, &hello).await)
        };
        let welcome = match (probed, probe) {
            (false, Some(Ok(welcome))) => welcome,
            (true, _) | (false, None) => {
                let refusal = Refusal::new(
                    ErrorCode::BadFrame,
                    "a second probe on one connection",
                    0,
                    1002,
                    "expected HELLO",
                );
                return finish(socket, refusal.into(), &mut faults).await;
            }
            (false, Some(Err(refusal))) => {
                return finish(socket, refusal.into(), &mut faults).await
            }
        };
        probed = true;
        if let Err(end) = send_frame(&mut socket, &welcome, handshake_timeout).await {
            return finish(socket, end, &mut faults).await;
        }
    };
    let attachment = match lifecycle::open(&shared, &hello).await {
        Ok(attachment) => attachment,
        Err(refusal) => return finish(socket, refusal.into(), &mut faults).await,
    };
    let idle_timeout = Duration::from_millis(shared.config.idle_timeout_ms.max(1));
    // A panic in the app's callbacks (they run in `drive`) ends this connection with 1011 and
    // nothing else: the session detaches and may be resumed, other sessions never notice.
    let end = AssertUnwindSafe(drive(&mut socket, &attachment, &mut faults, idle_timeout))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| End::Close {
            frames: Vec::new(),
            code: SERVER_ERROR.0,
            reason: SERVER_ERROR.1.to_owned(),
        });
    // Detach (or finish an ended session, `on_close` included) before the WebSocket close
    // handshake, which may take a while.
    attachment.release().await;
    finish(socket, end, &mut faults).await;
}

/// Moves frames between the socket and the attached session until the connection is over.
async fn drive(
    socket: &mut WebSocket,
    attachment: &Attachment,
    faults: &mut FaultWatch,
    idle_timeout: Duration,
) -> End {
    // The first step drains WELCOME and whatever a resume resends.
    let mut step = attachment.step(|_, _| {}).await;
    let mut welcomed = false;
    loop {
        let Some(Step {
            frames,
            disconnect,
            deadline,
        }) = step
        else {
            // Superseded by a newer connection of the same session: stop writing, drop.
            return End::Gone;
        };
        for frame in &frames {
            if let Some(event) = faults.pending() {
                return on_fault(faults, event).await;
            }
            if attachment.is_superseded() {
                return End::Gone;
            }
            if let Err(end) = send_frame(socket, frame, idle_timeout).await {
                return end;
            }
        }
        if !welcomed {
            welcomed = true;
            attachment.welcomed().await;
        }
        if let Some(event) = faults.pending() {
            return on_fault(faults, event).await;
        }
        if let Some((code, reason)) = disconnect {
            return End::Close {
                frames: Vec::new(),
                code,
                reason,
            };
        }
        let Some(deadline) = deadline else {
            // No timer while attached cannot happen (an attached session always has its ping
            // and idle deadlines); if it did, the session is no longer this connection's.
            return End::Gone;
        };
        let sleep = tokio::time::sleep_until(clock::deadline(deadline));
        step = tokio::select! {
            // Faults first: a dropped connection must not write another frame.
            biased;
            event = faults.next() => return on_fault(faults, event).await,
            msg = socket.recv() => match msg {
                Some(Err(e)) if is_too_big(&e) => {
                    attachment.step(|s, now| s.handle_too_big(now)).await
                }
                None | Some(Err(_)) => return End::Gone,
                Some(Ok(ws::Message::Binary(bytes))) => {
                    attachment.step(|s, now| s.handle_bytes(now, &bytes)).await
                }
                Some(Ok(ws::Message::Text(_))) => {
                    attachment.step(|s, now| s.handle_non_frame(now, TEXT_MESSAGE_ERROR)).await
                }
                Some(Ok(ws::Message::Ping(_) | ws::Message::Pong(_))) => {
                    attachment.step(|s, now| s.handle_liveness(now)).await
                }
                // A WebSocket close is not a protocol CLOSE: the session waits for a resume.
                Some(Ok(ws::Message::Close(_))) => return End::PeerClosed,
            },
            () = attachment.woken() => attachment.step(|_, _| {}).await,
            () = sleep => attachment.step(|s, now| s.handle_timeout(now)).await,
        };
    }
}

/// What a fault does to an attached connection. `Silent` is a half-open link: the session stays
/// attached (the app cannot tell) while the socket is left alone; once the fault clears, the
/// link is dead and the session detaches.
async fn on_fault(faults: &mut FaultWatch, event: FaultEvent) -> End {
    match event {
        FaultEvent::Silent => {
            faults.park().await;
            End::Gone
        }
        FaultEvent::Drop => End::Fault(FaultEvent::Drop),
    }
}

/// Waits for HELLO. Unknown frame types are skipped (forward compatibility) and text messages are
/// reported with ERROR 1 and ignored; any other frame, or a malformed one, ends the connection
/// with ERROR 1 and CLOSE 1002.
async fn read_hello(socket: &mut WebSocket, limits: &Limits) -> Result<Hello, End> {
    loop {
        let msg = match socket.recv().await {
            Some(Err(e)) if is_too_big(&e) => return Err(too_big_end()),
            None | Some(Err(_)) => return Err(End::Gone),
            Some(Ok(msg)) => msg,
        };
        match msg {
            ws::Message::Binary(bytes) => match decode(&bytes, limits) {
                Ok(Decoded::Frame(Frame::Hello(hello))) => return Ok(hello),
                Ok(Decoded::Unknown(_)) => {}
                Ok(Decoded::Frame(_)) => {
                    return Err(Refusal::bad_hello("the first frame must be HELLO").into())
                }
                Err(e) => return Err(Refusal::bad_hello(format!("bad HELLO: {e}")).into()),
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

/// Ends a connection as `end` says, then drops the socket.
async fn finish(mut socket: WebSocket, end: End, faults: &mut FaultWatch) {
    match end {
        End::Gone | End::Fault(FaultEvent::Drop) => {}
        End::Fault(FaultEvent::Silent) => faults.park().await,
        End::PeerClosed => linger(&mut socket).await,
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
        reason: holdfast::protocol::clip(reason, holdfast::protocol::MAX_CLOSE_REASON_BYTES)
            .to_owned()
            .into(),
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
