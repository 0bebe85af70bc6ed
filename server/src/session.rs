//! [`ServerSession`]: one logical session's protocol endpoint on the server, sans IO.
//!
//! It owns everything that must outlive a socket (PROTOCOL.md §5): both sequence counters, the
//! bounded outbound log of data frames the client has not acknowledged, the inbound dedupe state,
//! and the ack / ping / idle / TTL deadlines. It reads no clock, holds no lock and does no IO:
//! callers pass `now`, feed it what arrived, and drain [`Output`]s — so a transport adapter
//! (WebSocket today, SSE and polling later) and a simulated pair driving it against the client's
//! `holdfast::core::Machine` on one clock use exactly the same code.
//!
//! A session is *attached* to at most one connection at a time. Each [`attach`] hands out a new
//! attachment number; a newer attachment silently supersedes the previous one (takeover), and
//! [`detach`] of a superseded attachment is ignored, so a stale connection cannot hurt the live
//! one.
//!
//! [`attach`]: ServerSession::attach
//! [`detach`]: ServerSession::detach

use crate::config::ServerConfig;
use crate::message::{Message, SessionId};
use holdfast::core::Instant;
use holdfast::protocol::{
    decode, next_seq, CloseFrame, DecodeError, Decoded, ErrorCode, ErrorFrame, Frame, Hello,
    Inbound, Limits, Receiver, ResumeOutcome, Welcome, ACK_DELAY_MS, VERSION,
};
use std::collections::VecDeque;
use std::fmt;

/// Close code and reason of a session whose outbound log overflowed.
pub const BUFFER_FULL: (u16, &str) = (1013, "session buffer full");
/// Close code and reason of a session whose outbound sequence numbers ran out.
pub const SEQ_EXHAUSTED: (u16, &str) = (1011, "sequence numbers exhausted");
/// Close code and reason of a session whose client sent a payload over `max_message_bytes`.
pub const TOO_BIG: (u16, &str) = (1009, "message too big");
/// `Disconnect` code and reason for a connection that was silent past `idle_timeout_ms`.
pub const IDLE: (u16, &str) = (1001, "idle timeout");
/// `Ended` code and reason of a session that stayed detached past `ttl_ms`.
pub const EXPIRED: (u16, &str) = (1001, "session expired");

/// One session's timers and bounds. [`SessionConfig::from_server`] takes them from the server's
/// configuration; `Default` is the production profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// PING after this long without sending anything (announced in WELCOME).
    pub ping_interval_ms: u64,
    /// Drop the attachment after this long without receiving anything (announced in WELCOME).
    pub idle_timeout_ms: u64,
    /// End the session after this long detached.
    pub ttl_ms: u64,
    /// Most data frames kept in the outbound log until acknowledged.
    pub max_log_messages: usize,
    /// Most payload bytes kept in the outbound log until acknowledged.
    pub max_log_bytes: usize,
    /// Largest inbound data payload (announced in WELCOME); larger ends the session with 1009.
    pub max_message_bytes: usize,
}

impl SessionConfig {
    /// The session settings of a server running with `config`.
    pub fn from_server(config: &ServerConfig) -> Self {
        SessionConfig {
            ping_interval_ms: config.ping_interval_ms,
            idle_timeout_ms: config.idle_timeout_ms,
            ttl_ms: config.session_ttl_ms,
            max_log_messages: config.max_log_messages,
            max_log_bytes: config.max_log_bytes,
            max_message_bytes: config.max_message_bytes,
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig::from_server(&ServerConfig::default())
    }
}

/// What the session asks its caller to do. Drain with [`ServerSession::poll_output`] after every
/// call, and act on each in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write this frame on the current attachment, after the ones before it.
    Transmit(Frame),
    /// Hand this client message to the app: each exactly once, in order.
    Deliver(Message),
    /// The current attachment is over: close (WebSocket close with `code` and `reason`) or drop
    /// its transport once the frames already transmitted are written. Whether the *session* is
    /// over too is in [`ServerSession::state`]: `Ended` after a protocol CLOSE either way,
    /// `Detached` after an idle timeout (a dead link; the client may resume).
    Disconnect {
        /// Close code for the transport (WebSocket close code).
        code: u16,
        /// Close reason for the transport.
        reason: String,
    },
}

/// Where a session is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    /// A connection is attached; `attachment` is the number [`ServerSession::attach`] returned.
    Attached {
        /// The current attachment.
        attachment: u64,
    },
    /// No connection since `since`; the session ends if none attaches within the TTL.
    Detached {
        /// When the last attachment ended (or the session was created).
        since: Instant,
    },
    /// Over for good: a CLOSE either way, an overflow, an expiry. Nothing is sent any more.
    Ended {
        /// The close code (the client's, the app's, or the server's reason for ending it).
        code: u16,
        /// The close reason.
        reason: String,
    },
}

/// Why a message was not accepted for a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// No such session (never existed, expired or closed and gone). Used by the [`Hub`](crate::Hub).
    UnknownSession,
    /// The session's outbound log was full: the message was refused and the session ended with
    /// CLOSE 1013 "session buffer full".
    BufferFull,
    /// The session has ended (or just ended because its sequence numbers ran out).
    Ended,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::UnknownSession => "unknown session",
            SendError::BufferFull => "session buffer full",
            SendError::Ended => "session ended",
        })
    }
}

impl std::error::Error for SendError {}

/// What a shared store keeps of a session between nodes (see [`ServerSession::durable`] and
/// [`ServerSession::restore`]). Timers are not kept: they restart on the node that restores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Durable {
    /// The last seq given to an outbound data frame.
    pub last_out: u64,
    /// The highest client seq delivered in order (WELCOME's `ack`).
    pub inbound: u64,
    /// The last attachment number handed out.
    pub attachment: u64,
    /// The lowest seq still in the outbound log (`last_out + 1` when it is empty): everything
    /// below was acknowledged and may be forgotten.
    pub log_start: u64,
    /// Logged messages by seq, in order (all of them, or only the new ones: see
    /// [`ServerSession::durable`]).
    pub log: Vec<(u64, Message)>,
    /// `Some` once the session has ended, with its code and reason.
    pub ended: Option<(u16, String)>,
}

/// The WELCOME of session `id` with `config`: `resume` as given, `ack` = the highest client
/// seq delivered in order. Also what a node answers a probe with for a session another node
/// holds.
pub fn welcome(id: &str, config: &SessionConfig, resume: ResumeOutcome, ack: u64) -> Welcome {
    Welcome {
        version: VERSION,
        session: id.to_owned(),
        resume,
        ack,
        ping_interval_ms: config.ping_interval_ms,
        idle_timeout_ms: config.idle_timeout_ms,
        max_message_bytes: u64::try_from(config.max_message_bytes).unwrap_or(u64::MAX),
    }
}

/// A data frame kept until the client acknowledges it.
#[derive(Debug, Clone)]
struct Logged {
    seq: u64,
    msg: Message,
}

impl Logged {
    fn frame(&self) -> Frame {
        data_frame(self.seq, self.msg.clone())
    }
}

fn data_frame(seq: u64, msg: Message) -> Frame {
    match msg {
        Message::Text(text) => Frame::Text { seq, text },
        Message::Binary(data) => Frame::Binary { seq, data },
    }
}

fn error_frame(message: String) -> Frame {
    Frame::Error(ErrorFrame {
        code: ErrorCode::BadFrame,
        message,
        retry_after_ms: 0,
    })
}

/// One logical session's protocol endpoint. See the module docs.
#[derive(Debug)]
pub struct ServerSession {
    id: SessionId,
    config: SessionConfig,
    state: SessionState,
    /// The last attachment number handed out (0 = never attached).
    attachment: u64,
    /// Client → server: last seq delivered, data frames not yet acknowledged.
    inbound: Receiver,
    /// When the pending ACK is due.
    ack_due: Option<Instant>,
    /// The last seq given to an outbound data frame.
    last_out: u64,
    /// Outbound data frames not yet acknowledged, in seq order.
    log: VecDeque<Logged>,
    /// Sum of the payload sizes in `log`.
    log_bytes: usize,
    /// When anything was last transmitted (ping timer).
    last_sent: Instant,
    /// When anything was last received (idle timer).
    last_recv: Instant,
    next_ping_id: u64,
    outputs: VecDeque<Output>,
}

impl ServerSession {
    /// A new session named `id`, detached since `now` until a connection [`attach`]es (the TTL
    /// runs from `now`). Call when a handshake asks for a new session, then `attach` at once.
    ///
    /// [`attach`]: ServerSession::attach
    pub fn new(id: SessionId, config: SessionConfig, now: Instant) -> Self {
        ServerSession {
            id,
            config,
            state: SessionState::Detached { since: now },
            attachment: 0,
            inbound: Receiver::default(),
            ack_due: None,
            last_out: 0,
            log: VecDeque::new(),
            log_bytes: 0,
            last_sent: now,
            last_recv: now,
            next_ping_id: 1,
            outputs: VecDeque::new(),
        }
    }

    /// For tests of sequence exhaustion: the session behaves as if it had already sent (and had
    /// acknowledged) every data frame up to `last_seq`.
    #[doc(hidden)]
    pub fn starting_at_seq(mut self, last_seq: u64) -> Self {
        self.last_out = last_seq;
        self
    }

    /// A session restored from what a shared store kept of it ([`ServerSession::durable`] on
    /// the node that had it): detached since `now` (its TTL restarts here), with its sequence
    /// counters, inbound position and outbound log. Call when a node takes a session over.
    pub fn restore(id: SessionId, config: SessionConfig, now: Instant, state: Durable) -> Self {
        let mut session = ServerSession::new(id, config, now);
        session.attachment = state.attachment;
        session.last_out = state.last_out;
        session.inbound = Receiver::resumed(state.inbound);
        for (seq, msg) in state.log {
            if seq >= state.log_start && seq <= state.last_out {
                session.log_bytes = session.log_bytes.saturating_add(msg.len());
                session.log.push_back(Logged { seq, msg });
            }
        }
        if let Some((code, reason)) = state.ended {
            session.log.clear();
            session.log_bytes = 0;
            session.state = SessionState::Ended { code, reason };
        }
        session
    }

    /// What a shared store must keep so another node can [`restore`](ServerSession::restore)
    /// the session: the counters, the inbound position, and the logged messages with a seq
    /// above `after` (what was kept before is still kept, unless acknowledged since: entries
    /// below `log_start` are gone). Call after every change that reaches the client.
    pub fn durable(&self, after: u64) -> Durable {
        Durable {
            last_out: self.last_out,
            inbound: self.inbound.last,
            attachment: self.attachment,
            log_start: self
                .log
                .front()
                .map_or(self.last_out.saturating_add(1), |entry| entry.seq),
            log: self
                .log
                .iter()
                .filter(|entry| entry.seq > after)
                .map(|entry| (entry.seq, entry.msg.clone()))
                .collect(),
            ended: match &self.state {
                SessionState::Ended { code, reason } => Some((*code, reason.clone())),
                SessionState::Attached { .. } | SessionState::Detached { .. } => None,
            },
        }
    }

    /// The session moves to another node: the current attachment, if any, is superseded (its
    /// connection stops at its next step, as on a takeover) and the session is detached here.
    /// Call before handing the [`durable`](ServerSession::durable) state over. An ended
    /// session stays ended.
    pub fn hand_off(&mut self, now: Instant) {
        if !matches!(self.state, SessionState::Ended { .. }) {
            self.attachment = self.attachment.saturating_add(1);
            self.become_detached(now);
        }
    }

    /// The session id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The session's settings.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Where the session is in its life.
    pub fn state(&self) -> &SessionState {
        &self.state
    }

    /// The last attachment number handed out (0 = never attached): a detached session whose
    /// `attachment()` is still yours was detached by your attachment.
    pub fn attachment(&self) -> u64 {
        self.attachment
    }

    /// Whether `attachment` is the current one. Check before feeding a connection's input: the
    /// input methods act on whichever attachment is current.
    pub fn is_current(&self, attachment: u64) -> bool {
        self.state == SessionState::Attached { attachment }
    }

    /// Data frames in the outbound log (sent but unacknowledged, or waiting for a resume).
    pub fn log_len(&self) -> usize {
        self.log.len()
    }

    /// Payload bytes in the outbound log.
    pub fn log_bytes(&self) -> usize {
        self.log_bytes
    }

    /// A connection sent `hello` naming this session (`Resumed`), another session the caller did
    /// not find (`Failed`: this is its replacement) or none (`New`): attach it, superseding any
    /// current attachment without an output (the caller tells the old connection by the returned
    /// number). The caller has already checked `hello`'s version range.
    ///
    /// Queues WELCOME as the first `Transmit` (`ack` = highest client seq delivered in order).
    /// On `Resumed`, log entries with seq ≤ `hello.last_seq` are freed (a `last_seq` beyond what
    /// was sent is ignored); then every logged data frame the client lacks is re-transmitted in
    /// order right after WELCOME. Returns the new attachment number.
    ///
    /// Attaching to an `Ended` session transmits its CLOSE and `Disconnect` instead (callers
    /// should treat ended sessions as unknown).
    pub fn attach(&mut self, now: Instant, hello: &Hello) -> u64 {
        self.attachment = self.attachment.saturating_add(1);
        if let SessionState::Ended { code, reason } = &self.state {
            let (code, reason) = (*code, reason.clone());
            self.outputs
                .push_back(Output::Transmit(Frame::Close(CloseFrame {
                    code,
                    reason: reason.clone(),
                })));
            self.outputs.push_back(Output::Disconnect { code, reason });
            return self.attachment;
        }
        // Frames queued for the superseded attachment are not written anywhere now; every data
        // frame among them is still in the log and goes out again below.
        self.forget_transport_outputs();
        self.state = SessionState::Attached {
            attachment: self.attachment,
        };
        self.last_recv = now;
        self.clear_ack();
        let resume = match hello.session.as_deref() {
            None => ResumeOutcome::New,
            Some(asked) if asked == self.id => ResumeOutcome::Resumed,
            Some(_) => ResumeOutcome::Failed,
        };
        let welcome = Frame::Welcome(self.welcome(resume));
        self.transmit(now, welcome);
        // A client starting fresh has received nothing: everything logged goes out (normally
        // nothing; a broadcast may have reached the session before its first WELCOME).
        let received = if resume == ResumeOutcome::Resumed {
            self.acknowledge(hello.last_seq);
            hello.last_seq
        } else {
            0
        };
        self.transmit_logged_after(now, received);
        self.attachment
    }

    /// The WELCOME for a probe HELLO (PROTOCOL.md §4): `resumed`, with the session's current
    /// ack, and nothing else — the probe does not attach, so delivery stays where it is. `None`
    /// once the session has ended (the probe is refused like an unknown session).
    pub fn probe_welcome(&self) -> Option<Welcome> {
        match self.state {
            SessionState::Ended { .. } => None,
            SessionState::Attached { .. } | SessionState::Detached { .. } => {
                Some(self.welcome(ResumeOutcome::Resumed))
            }
        }
    }

    fn welcome(&self, resume: ResumeOutcome) -> Welcome {
        welcome(&self.id, &self.config, resume, self.inbound.last)
    }

    /// The transport of `attachment` ended (socket closed, dropped or failed). Ignored unless it
    /// is the current attachment. Starts the TTL: the session ends (expired) unless a connection
    /// attaches within `ttl_ms`.
    pub fn detach(&mut self, now: Instant, attachment: u64) {
        if self.is_current(attachment) {
            self.become_detached(now);
        }
    }

    /// One inbound message of the current attachment's transport: a WebSocket binary message or
    /// one batch entry, i.e. one encoded frame. Ignored when not attached.
    ///
    /// Anything is proof of life. A malformed frame is answered with ERROR 1 and the connection
    /// goes on; a payload over `max_message_bytes` ends the session with CLOSE 1009. Data frames
    /// are deduplicated by seq (a duplicate is dropped but acknowledged again), delivered in
    /// order and acknowledged (at once when `ACK_EVERY` are unacknowledged, else within
    /// `ACK_DELAY_MS`, see [`handle_timeout`]). ACK frees the log (an ack beyond what was sent is
    /// ignored); PING is answered with PONG at once; CLOSE ends the session and disconnects;
    /// HELLO or WELCOME is answered with ERROR 1; unknown frame types are ignored.
    ///
    /// [`handle_timeout`]: ServerSession::handle_timeout
    pub fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        if !self.is_attached() {
            return;
        }
        self.last_recv = now;
        let limits = Limits {
            max_message_bytes: self.config.max_message_bytes,
        };
        match decode(bytes, &limits) {
            Ok(Decoded::Frame(frame)) => self.handle_frame(now, frame),
            Ok(Decoded::Unknown(_)) => {}
            Err(DecodeError::TooLarge {
                field: "payload" | "frame",
            }) => self.end(TOO_BIG.0, TOO_BIG.1, true),
            Err(e) => self.transmit(now, error_frame(format!("bad frame: {e}"))),
        }
    }

    /// The current attachment's transport showed life without carrying a frame (a WebSocket
    /// ping or pong). Call so the idle timer does not drop a connection that is merely quiet.
    pub fn handle_liveness(&mut self, now: Instant) {
        if self.is_attached() {
            self.last_recv = now;
        }
    }

    /// A poll of the current attachment's transport (PROTOCOL.md §8.4) said the client delivered
    /// every server data frame up to `cursor` in order. Call before answering a poll.
    ///
    /// `cursor` is a cumulative ACK (log entries ≤ `cursor` are freed; a cursor beyond what was
    /// sent frees nothing). Every data frame after it is marked as not yet transmitted: queued
    /// data transmits are withdrawn and every logged frame after `cursor` is queued again, in seq
    /// order, so a poll answer lost on the way (a killed response, a gateway that gave up) costs
    /// nothing. The caller must likewise forget data frames it drained but has not carried yet,
    /// or they would go out twice. Counts as proof of life. Ignored when not attached.
    pub fn handle_cursor(&mut self, now: Instant, cursor: u64) {
        if !self.is_attached() {
            return;
        }
        self.last_recv = now;
        self.acknowledge(cursor);
        // Only data frames are withdrawn: control frames (ACK, PONG, PING, ERROR) carry no seq,
        // are not logged, and still have to go out once.
        self.outputs.retain(|o| {
            !matches!(
                o,
                Output::Transmit(Frame::Text { .. } | Frame::Binary { .. })
            )
        });
        self.transmit_logged_after(now, cursor);
    }

    /// The current attachment's transport delivered something that cannot be a frame (a text
    /// WebSocket message): proof of life, reported to the client with ERROR 1 `detail`.
    pub fn handle_non_frame(&mut self, now: Instant, detail: &str) {
        if self.is_attached() {
            self.last_recv = now;
            self.transmit(now, error_frame(detail.to_owned()));
        }
    }

    /// The current attachment's transport refused an inbound message over the size limit before
    /// reading it (its header declared too many bytes): the session ends with CLOSE 1009, as
    /// for a payload over `max_message_bytes` that was read. Ignored when not attached.
    pub fn handle_too_big(&mut self, now: Instant) {
        if self.is_attached() {
            self.last_recv = now;
            self.end(TOO_BIG.0, TOO_BIG.1, true);
        }
    }

    /// The app sends `msg` to the client. Call whenever the app has something to say, attached
    /// or not.
    ///
    /// The message gets the next seq and stays in the bounded outbound log until the client
    /// acknowledges it; it is transmitted at once when attached, after a resume otherwise.
    /// A full log (`max_log_messages`, or `max_log_bytes` with this message) refuses it with
    /// `Err(BufferFull)` and ends the session with CLOSE 1013 "session buffer full": a client
    /// that never acknowledges cannot grow server memory, and when it comes back its resume
    /// fails (a gap it is told about). Sequence numbers exhausted: CLOSE 1011, `Err(Ended)`.
    /// After the end: `Err(Ended)`. Returns the message's seq.
    pub fn send(&mut self, now: Instant, msg: Message) -> Result<u64, SendError> {
        if matches!(self.state, SessionState::Ended { .. }) {
            return Err(SendError::Ended);
        }
        let Some(seq) = next_seq(self.last_out) else {
            self.end(SEQ_EXHAUSTED.0, SEQ_EXHAUSTED.1, true);
            return Err(SendError::Ended);
        };
        let size = msg.len();
        if self.log.len() >= self.config.max_log_messages
            || self.log_bytes.saturating_add(size) > self.config.max_log_bytes
        {
            self.end(BUFFER_FULL.0, BUFFER_FULL.1, true);
            return Err(SendError::BufferFull);
        }
        self.last_out = seq;
        self.log_bytes = self.log_bytes.saturating_add(size);
        if self.is_attached() {
            self.transmit(now, data_frame(seq, msg.clone()));
        }
        self.log.push_back(Logged { seq, msg });
        Ok(seq)
    }

    /// The app closes the session for good: CLOSE `code` `reason` is transmitted after
    /// everything already queued, then `Disconnect`; the session is `Ended`. Codes 4000–4499 are
    /// final for the client. Nothing happens if it already ended.
    pub fn close(&mut self, code: u16, reason: &str) {
        if !matches!(self.state, SessionState::Ended { .. }) {
            self.end(code, reason, true);
        }
    }

    /// The server ends the current connection cleanly but keeps the session (a node shutting
    /// down gracefully, a balancer draining it): CLOSE `code` `reason` after everything already
    /// queued, then `Disconnect`. The session detaches once the connection is released and waits
    /// for the client's resume as after any lost link; the log still holds what was not
    /// acknowledged. `code` should not be final (4000–4499), or the client stops. Nothing
    /// happens unless attached.
    pub fn close_connection(&mut self, code: u16, reason: &str) {
        if self.is_attached() {
            self.disconnect(code, reason, true);
        }
    }

    /// Ends the attached connection: CLOSE first (with `tell`), then `Disconnect`.
    fn disconnect(&mut self, code: u16, reason: &str, tell: bool) {
        if tell {
            self.outputs
                .push_back(Output::Transmit(Frame::Close(CloseFrame {
                    code,
                    reason: reason.to_owned(),
                })));
        }
        self.outputs.push_back(Output::Disconnect {
            code,
            reason: reason.to_owned(),
        });
    }

    /// The server forgets the session without telling the client (a restart, an eviction): it
    /// is `Ended` at once and the current attachment, if any, gets `Disconnect` but no CLOSE, so
    /// the client sees a lost link and its resume fails.
    pub fn abandon(&mut self, code: u16, reason: &str) {
        if !matches!(self.state, SessionState::Ended { .. }) {
            self.end(code, reason, false);
        }
    }

    /// The next thing to do, in order. Drain after every call.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](ServerSession::handle_timeout) must next be called: the earliest
    /// of the ACK due, the PING due and the idle deadline while attached; the TTL expiry while
    /// detached; `None` once ended. Ask again after every call.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            SessionState::Attached { .. } => {
                let mut at = self.ping_due().min(self.idle_due());
                if let Some(ack) = self.ack_due {
                    at = at.min(ack);
                }
                Some(at)
            }
            SessionState::Detached { since } => Some(since.plus(self.config.ttl_ms)),
            SessionState::Ended { .. } => None,
        }
    }

    /// The time from [`poll_timeout`](ServerSession::poll_timeout) came (spurious or late calls
    /// are fine: every deadline is compared with `now`).
    ///
    /// ACK due → ACK. Nothing sent for `ping_interval_ms` → PING (the server's pings are what
    /// keeps a throttled background tab's link alive). Nothing received for `idle_timeout_ms`
    /// while attached → `Disconnect` 1001 "idle timeout" and the session detaches: a dead link,
    /// not an end (no CLOSE frame: a protocol CLOSE would end the session), so the client can
    /// resume within the TTL. Detached for `ttl_ms` → `Ended` (expired).
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            SessionState::Ended { .. } => {}
            SessionState::Detached { since } => {
                if now >= since.plus(self.config.ttl_ms) {
                    self.end(EXPIRED.0, EXPIRED.1, false);
                }
            }
            SessionState::Attached { .. } => {
                if now >= self.idle_due() {
                    self.become_detached(now);
                    self.outputs.push_back(Output::Disconnect {
                        code: IDLE.0,
                        reason: IDLE.1.to_owned(),
                    });
                    return;
                }
                if self.ack_due.is_some_and(|due| now >= due) {
                    self.send_ack(now);
                }
                if now >= self.ping_due() {
                    let id = self.next_ping_id;
                    self.next_ping_id = self.next_ping_id.wrapping_add(1);
                    self.transmit(now, Frame::Ping { id });
                }
            }
        }
    }

    fn is_attached(&self) -> bool {
        matches!(self.state, SessionState::Attached { .. })
    }

    fn ping_due(&self) -> Instant {
        self.last_sent.plus(self.config.ping_interval_ms.max(1))
    }

    fn idle_due(&self) -> Instant {
        self.last_recv.plus(self.config.idle_timeout_ms.max(1))
    }

    /// Queues every logged data frame after `seq` for transmission, in order (a resume, a poll
    /// cursor).
    fn transmit_logged_after(&mut self, now: Instant, seq: u64) {
        let resend: Vec<Frame> = self
            .log
            .iter()
            .filter(|entry| entry.seq > seq)
            .map(Logged::frame)
            .collect();
        for frame in resend {
            self.transmit(now, frame);
        }
    }

    fn transmit(&mut self, now: Instant, frame: Frame) {
        self.last_sent = now;
        self.outputs.push_back(Output::Transmit(frame));
    }

    /// Drops queued frames and disconnects meant for an attachment that is over. Deliveries
    /// stay: the client's messages were accepted and must reach the app.
    fn forget_transport_outputs(&mut self) {
        self.outputs.retain(|o| matches!(o, Output::Deliver(_)));
    }

    /// The WELCOME of the next attachment carries the inbound position, so no ACK is owed.
    fn clear_ack(&mut self) {
        self.inbound.take_ack();
        self.ack_due = None;
    }

    fn become_detached(&mut self, now: Instant) {
        self.forget_transport_outputs();
        self.clear_ack();
        self.state = SessionState::Detached { since: now };
    }

    /// Ends the session with `code` and `reason`; with `tell`, the attached client gets CLOSE
    /// first. The attached transport gets `Disconnect` either way.
    fn end(&mut self, code: u16, reason: &str, tell: bool) {
        if self.is_attached() {
            self.disconnect(code, reason, tell);
        } else {
            self.forget_transport_outputs();
        }
        // Nothing will ever be resent: free the log now rather than at removal.
        self.log.clear();
        self.log_bytes = 0;
        self.ack_due = None;
        self.state = SessionState::Ended {
            code,
            reason: reason.to_owned(),
        };
    }

    /// Frees log entries up to `seq`, unless `seq` is beyond what was ever sent (a confused or
    /// hostile client must not make the server drop frames it has not got).
    fn acknowledge(&mut self, seq: u64) {
        if seq > self.last_out {
            return;
        }
        while self.log.front().is_some_and(|entry| entry.seq <= seq) {
            if let Some(entry) = self.log.pop_front() {
                self.log_bytes = self.log_bytes.saturating_sub(entry.msg.len());
            }
        }
    }

    fn send_ack(&mut self, now: Instant) {
        let owed = self.inbound.take_ack().is_some();
        self.ack_due = None;
        if owed {
            self.transmit(
                now,
                Frame::Ack {
                    seq: self.inbound.last,
                },
            );
        }
    }

    fn handle_frame(&mut self, now: Instant, frame: Frame) {
        match frame {
            Frame::Text { seq, text } => self.handle_data(now, seq, Message::Text(text)),
            Frame::Binary { seq, data } => self.handle_data(now, seq, Message::Binary(data)),
            // Answered at once, from the receive path (PROTOCOL.md §6).
            Frame::Ping { id } => self.transmit(now, Frame::Pong { id }),
            Frame::Ack { seq } => self.acknowledge(seq),
            // Liveness only (already counted).
            Frame::Pong { .. } | Frame::Error(_) => {}
            Frame::Close(close) => {
                // The client ends the session: stop sending, close the transport normally.
                self.outputs.push_back(Output::Disconnect {
                    code: 1000,
                    reason: String::new(),
                });
                self.log.clear();
                self.log_bytes = 0;
                self.ack_due = None;
                self.state = SessionState::Ended {
                    code: close.code,
                    reason: close.reason,
                };
            }
            Frame::Hello(_) | Frame::Welcome(_) => {
                self.transmit(now, error_frame("unexpected handshake frame".to_owned()));
            }
        }
    }

    fn handle_data(&mut self, now: Instant, seq: u64, msg: Message) {
        match self.inbound.accept(seq) {
            // Above 2^63 (PROTOCOL.md §5): malformed, answered as a bad frame.
            Inbound::OutOfRange => {
                self.transmit(now, error_frame("seq above 2^63".to_owned()));
            }
            Inbound::Duplicate => {
                // A resend after resume, or the client missed our ACK: the receiver owes it
                // again.
                self.ack_due.get_or_insert(now.plus(ACK_DELAY_MS));
            }
            // A gap cannot happen with resume short of a client bug; the frame is delivered
            // and the receiver moves on from it (PROTOCOL.md §5).
            Inbound::InOrder | Inbound::Gap { .. } => {
                self.outputs.push_back(Output::Deliver(msg));
                if self.inbound.ack_now() {
                    self.send_ack(now);
                } else {
                    self.ack_due.get_or_insert(now.plus(ACK_DELAY_MS));
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)] // a failing test may panic
mod tests {
    use super::*;
    use holdfast::protocol::{encode, ACK_EVERY, MAX_SEQ};

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn config() -> SessionConfig {
        SessionConfig {
            ping_interval_ms: 1_000,
            idle_timeout_ms: 2_500,
            ttl_ms: 5_000,
            max_log_messages: 4,
            max_log_bytes: 100,
            max_message_bytes: 64,
        }
    }

    fn hello(session: Option<&str>, last_seq: u64) -> Hello {
        Hello {
            min_version: 1,
            max_version: 1,
            session: session.map(str::to_owned),
            last_seq,
            probe: false,
        }
    }

    fn text(seq: u64, t: &str) -> Frame {
        Frame::Text {
            seq,
            text: t.to_owned(),
        }
    }

    fn drain(s: &mut ServerSession) -> Vec<Output> {
        std::iter::from_fn(|| s.poll_output()).collect()
    }

    fn frames(outputs: &[Output]) -> Vec<Frame> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Transmit(f) => Some(f.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_probe_welcome_leaves_the_attachment_and_the_log_alone() {
        let (mut s, number) = attached();
        s.send(at(10), Message::Text("m".into())).unwrap();
        let before = drain(&mut s);
        let w = s.probe_welcome().unwrap();
        assert_eq!(w.resume, ResumeOutcome::Resumed);
        assert_eq!(w.session, s.id());
        assert!(s.is_current(number), "a probe does not take over");
        assert!(s.poll_output().is_none(), "a probe transmits nothing");
        assert_eq!(s.log_len(), 1);
        assert!(!before.is_empty());
        s.close(1000, "bye");
        assert_eq!(s.probe_welcome(), None, "an ended session refuses probes");
    }

    #[test]
    fn a_session_restored_from_its_durable_state_resumes_where_the_client_is() {
        let (mut s, number) = attached();
        s.handle_bytes(at(5), &encode(&text(1, "in")));
        for t in ["a", "b", "c"] {
            s.send(at(10), Message::Text(t.into())).unwrap();
        }
        s.handle_bytes(at(20), &encode(&Frame::Ack { seq: 1 }));
        drain(&mut s);
        // Only what is above `after` is listed; everything acknowledged is below `log_start`.
        let new = s.durable(2);
        assert_eq!(new.log, vec![(3, Message::Text("c".into()))]);
        let all = s.durable(0);
        assert_eq!((all.last_out, all.inbound, all.log_start), (3, 1, 2));
        assert_eq!(all.log.len(), 2);
        // Another node restores it: a resume from seq 2 resends exactly seq 3, and the client's
        // resent seq 1 is a duplicate.
        let mut r = ServerSession::restore("sess".into(), config(), at(100), all);
        assert!(matches!(r.state(), SessionState::Detached { .. }));
        let a = r.attach(at(100), &hello(Some("sess"), 2));
        assert!(a > number, "attachment numbers keep growing across nodes");
        let out = drain(&mut r);
        assert_eq!(welcome_of(&out).ack, 1);
        assert_eq!(frames(&out).get(1..), Some(&[text(3, "c")][..]));
        r.handle_bytes(at(110), &encode(&text(1, "in")));
        assert!(!drain(&mut r)
            .iter()
            .any(|o| matches!(o, Output::Deliver(_))));
        assert_eq!(r.send(at(120), Message::Text("d".into())), Ok(4));
    }

    #[test]
    fn a_hand_off_supersedes_the_attachment_and_an_ended_session_stays_ended() {
        let (mut s, number) = attached();
        s.hand_off(at(50));
        assert!(!s.is_current(number), "the old connection is superseded");
        assert!(matches!(s.state(), SessionState::Detached { .. }));
        assert_eq!(s.durable(0).attachment, number + 1);
        s.close(4000, "bye");
        drain(&mut s);
        s.hand_off(at(60));
        assert_eq!(
            s.durable(0).ended,
            Some((4000, "bye".to_owned())),
            "an ended session is not revived by a hand-off"
        );
        let r = ServerSession::restore("sess".into(), config(), at(70), s.durable(0));
        assert!(matches!(r.state(), SessionState::Ended { .. }));
    }

    fn welcome_of(outputs: &[Output]) -> Welcome {
        match outputs.first() {
            Some(Output::Transmit(Frame::Welcome(w))) => w.clone(),
            other => panic!("expected WELCOME first, got {other:?}"),
        }
    }

    /// A session attached by a fresh HELLO at t = 0, WELCOME drained.
    fn attached() -> (ServerSession, u64) {
        attached_with(config())
    }

    /// [`attached`] with settings `cfg`.
    fn attached_with(cfg: SessionConfig) -> (ServerSession, u64) {
        let mut s = ServerSession::new("sess".into(), cfg, at(0));
        let a = s.attach(at(0), &hello(None, 0));
        let out = drain(&mut s);
        assert_eq!(welcome_of(&out).resume, ResumeOutcome::New);
        (s, a)
    }

    fn feed(s: &mut ServerSession, now: u64, frame: &Frame) -> Vec<Output> {
        s.handle_bytes(at(now), &encode(frame));
        drain(s)
    }

    #[test]
    fn welcome_announces_the_session_and_its_settings() {
        let mut s = ServerSession::new("sess".into(), config(), at(0));
        assert!(matches!(s.state(), SessionState::Detached { .. }));
        let a = s.attach(at(10), &hello(None, 0));
        assert_eq!(s.state(), &SessionState::Attached { attachment: a });
        let w = welcome_of(&drain(&mut s));
        assert_eq!(w.session, "sess");
        assert_eq!((w.version, w.ack), (1, 0));
        assert_eq!(
            (w.ping_interval_ms, w.idle_timeout_ms, w.max_message_bytes),
            (1_000, 2_500, 64)
        );
        let mut other = ServerSession::new("fresh".into(), config(), at(0));
        other.attach(at(0), &hello(Some("gone"), 3));
        let w = welcome_of(&drain(&mut other));
        assert_eq!(
            (w.resume, w.session.as_str()),
            (ResumeOutcome::Failed, "fresh")
        );
    }

    #[test]
    fn data_is_delivered_in_order_once_and_acked_after_the_delay() {
        let (mut s, _) = attached();
        let out = feed(&mut s, 100, &text(1, "a"));
        assert_eq!(out, vec![Output::Deliver(Message::Text("a".into()))]);
        assert_eq!(s.poll_timeout(), Some(at(300)));
        let dup = feed(&mut s, 150, &text(1, "a again"));
        assert!(dup.is_empty(), "{dup:?}");
        s.handle_timeout(at(299));
        assert!(drain(&mut s).is_empty());
        s.handle_timeout(at(300));
        assert_eq!(frames(&drain(&mut s)), vec![Frame::Ack { seq: 1 }]);
        // A lone duplicate is acknowledged again (the client may have missed the ACK).
        assert!(feed(&mut s, 400, &text(1, "a")).is_empty());
        s.handle_timeout(at(600));
        assert_eq!(frames(&drain(&mut s)), vec![Frame::Ack { seq: 1 }]);
    }

    #[test]
    fn ack_every_frames_are_acked_at_once() {
        let mut cfg = config();
        cfg.max_message_bytes = 1024;
        let mut s = ServerSession::new("s".into(), cfg, at(0));
        s.attach(at(0), &hello(None, 0));
        drain(&mut s);
        let mut acks = Vec::new();
        for seq in 1..=u64::from(ACK_EVERY) {
            acks.extend(
                frames(&feed(&mut s, 5, &text(seq, "x")))
                    .into_iter()
                    .filter(|f| matches!(f, Frame::Ack { .. })),
            );
        }
        assert_eq!(acks, vec![Frame::Ack { seq: 32 }]);
    }

    #[test]
    fn sends_are_logged_until_acked_and_acks_beyond_what_was_sent_are_ignored() {
        let (mut s, _) = attached();
        for (i, t) in ["a", "bb", "ccc"].iter().enumerate() {
            assert_eq!(s.send(at(1), Message::Text((*t).into())), Ok(i as u64 + 1));
        }
        assert_eq!(
            frames(&drain(&mut s)),
            vec![text(1, "a"), text(2, "bb"), text(3, "ccc")]
        );
        assert_eq!((s.log_len(), s.log_bytes()), (3, 6));
        feed(&mut s, 2, &Frame::Ack { seq: 9 });
        assert_eq!(s.log_len(), 3, "an ack beyond what was sent frees nothing");
        feed(&mut s, 2, &Frame::Ack { seq: 2 });
        assert_eq!((s.log_len(), s.log_bytes()), (1, 3));
        feed(&mut s, 2, &Frame::Ack { seq: 3 });
        assert_eq!((s.log_len(), s.log_bytes()), (0, 0));
    }

    #[test]
    fn resume_resends_exactly_what_follows_last_seq() {
        let (mut s, first) = attached();
        for t in ["1", "2", "3"] {
            s.send(at(1), Message::Text(t.into())).unwrap();
        }
        feed(&mut s, 2, &text(1, "in-1"));
        feed(&mut s, 2, &text(2, "in-2"));
        s.detach(at(3), first);
        assert!(matches!(s.state(), SessionState::Detached { .. }));
        // Sent while detached: logged, transmitted after the resume.
        s.send(at(4), Message::Text("4".into())).unwrap();
        assert!(drain(&mut s).is_empty());
        let second = s.attach(at(5), &hello(Some("sess"), 1));
        assert_ne!(first, second);
        let out = drain(&mut s);
        let w = welcome_of(&out);
        assert_eq!((w.resume, w.ack), (ResumeOutcome::Resumed, 2));
        assert_eq!(
            frames(&out).get(1..).map(<[Frame]>::to_vec),
            Some(vec![text(2, "2"), text(3, "3"), text(4, "4")])
        );
        assert_eq!(s.log_len(), 3, "last_seq freed seq 1");
        // The client resends what the server did not acknowledge: duplicates are dropped.
        assert!(feed(&mut s, 6, &text(2, "in-2")).is_empty());
        assert_eq!(
            feed(&mut s, 6, &text(3, "in-3")),
            vec![Output::Deliver(Message::Text("in-3".into()))]
        );
        // The next server message continues the sequence.
        assert_eq!(s.send(at(7), Message::Text("5".into())), Ok(5));
    }

    #[test]
    fn detach_of_a_superseded_attachment_is_ignored_and_takeover_resends() {
        let (mut s, first) = attached();
        s.send(at(1), Message::Text("a".into())).unwrap();
        // Not drained: the takeover forgets frames queued for the old attachment…
        let second = s.attach(at(2), &hello(Some("sess"), 0));
        let out = drain(&mut s);
        // …and the new one gets WELCOME plus the logged frame, exactly once.
        assert_eq!(frames(&out).len(), 2);
        assert_eq!(frames(&out).get(1), Some(&text(1, "a")));
        s.detach(at(3), first);
        assert_eq!(s.state(), &SessionState::Attached { attachment: second });
        assert!(!s.is_current(first));
        assert!(s.is_current(second));
    }

    #[test]
    fn a_full_log_refuses_the_message_and_ends_with_1013() {
        let (mut s, _) = attached();
        for _ in 0..4 {
            s.send(at(1), Message::Binary(vec![0; 10])).unwrap();
        }
        drain(&mut s);
        assert_eq!(
            s.send(at(1), Message::Binary(vec![0; 1])),
            Err(SendError::BufferFull)
        );
        assert_eq!(
            drain(&mut s),
            vec![
                Output::Transmit(Frame::Close(CloseFrame {
                    code: 1013,
                    reason: "session buffer full".into()
                })),
                Output::Disconnect {
                    code: 1013,
                    reason: "session buffer full".into()
                }
            ]
        );
        assert!(matches!(s.state(), SessionState::Ended { code: 1013, .. }));
        assert_eq!((s.log_len(), s.log_bytes()), (0, 0));
        assert_eq!(
            s.send(at(2), Message::Text("x".into())),
            Err(SendError::Ended)
        );
    }

    #[test]
    fn the_byte_bound_counts_payloads() {
        let (mut s, _) = attached();
        s.send(at(1), Message::Binary(vec![0; 60])).unwrap();
        s.send(at(1), Message::Binary(vec![0; 40])).unwrap();
        assert_eq!(s.log_bytes(), 100);
        assert_eq!(
            s.send(at(1), Message::Binary(vec![0; 1])),
            Err(SendError::BufferFull)
        );
        // Detached, the same bound holds and the session simply ends.
        let mut d = ServerSession::new("d".into(), config(), at(0));
        assert_eq!(
            d.send(at(1), Message::Binary(vec![0; 101])),
            Err(SendError::BufferFull)
        );
        assert!(drain(&mut d).is_empty());
        assert!(matches!(d.state(), SessionState::Ended { code: 1013, .. }));
    }

    #[test]
    fn an_idle_connection_is_disconnected_but_the_session_lives_on() {
        let (mut s, a) = attached();
        // Pings go out on outbound silence; the client never answers.
        s.handle_timeout(at(1_000));
        assert_eq!(frames(&drain(&mut s)), vec![Frame::Ping { id: 1 }]);
        assert_eq!(s.poll_timeout(), Some(at(2_000)));
        s.handle_timeout(at(2_000));
        assert_eq!(frames(&drain(&mut s)), vec![Frame::Ping { id: 2 }]);
        assert_eq!(s.poll_timeout(), Some(at(2_500)));
        s.handle_timeout(at(2_500));
        assert_eq!(
            drain(&mut s),
            vec![Output::Disconnect {
                code: 1001,
                reason: "idle timeout".into()
            }]
        );
        assert_eq!(s.state(), &SessionState::Detached { since: at(2_500) });
        // The connection's own detach afterwards changes nothing.
        s.detach(at(2_600), a);
        assert_eq!(s.state(), &SessionState::Detached { since: at(2_500) });
        assert_eq!(s.poll_timeout(), Some(at(7_500)));
    }

    #[test]
    fn a_seq_above_2_63_is_a_bad_frame_and_does_not_move_the_receiver() {
        let (mut s, _) = attached();
        let out = feed(&mut s, 10, &text(MAX_SEQ + 1, "hostile"));
        assert!(
            matches!(frames(&out).as_slice(), [Frame::Error(e)] if e.code == ErrorCode::BadFrame),
            "{out:?}"
        );
        assert!(!out.iter().any(|o| matches!(o, Output::Deliver(_))));
        // The next good message is still delivered, and acknowledged as seq 1.
        let out = feed(&mut s, 20, &text(1, "good"));
        assert!(out.contains(&Output::Deliver(Message::Text("good".into()))));
        s.handle_timeout(at(20 + ACK_DELAY_MS));
        assert_eq!(frames(&drain(&mut s)), vec![Frame::Ack { seq: 1 }]);
    }

    #[test]
    fn any_inbound_bytes_keep_the_connection_alive() {
        let (mut s, _) = attached();
        s.handle_bytes(at(2_000), &[0x7f, 1, 2]); // unknown frame type
        s.handle_timeout(at(2_500));
        assert!(s.is_current(1));
        s.handle_liveness(at(4_000));
        s.handle_timeout(at(4_600));
        assert!(s.is_current(1));
        s.handle_timeout(at(6_500));
        assert!(!s.is_current(1));
    }

    #[test]
    fn a_detached_session_expires_after_the_ttl() {
        let (mut s, a) = attached();
        s.detach(at(100), a);
        assert_eq!(s.poll_timeout(), Some(at(5_100)));
        s.handle_timeout(at(5_099));
        assert!(matches!(s.state(), SessionState::Detached { .. }));
        s.handle_timeout(at(5_100));
        assert_eq!(
            s.state(),
            &SessionState::Ended {
                code: 1001,
                reason: "session expired".into()
            }
        );
        assert!(drain(&mut s).is_empty());
        assert_eq!(s.poll_timeout(), None);
        // Attaching to an ended session tells the client it is over.
        s.attach(at(6_000), &hello(Some("sess"), 0));
        assert!(matches!(
            drain(&mut s).as_slice(),
            [Output::Transmit(Frame::Close(_)), Output::Disconnect { .. }]
        ));
    }

    #[test]
    fn sequence_numbers_never_wrap() {
        let mut s = ServerSession::new("s".into(), config(), at(0)).starting_at_seq(MAX_SEQ - 1);
        s.attach(at(0), &hello(None, 0));
        drain(&mut s);
        assert_eq!(s.send(at(1), Message::Text("last".into())), Ok(MAX_SEQ));
        assert_eq!(
            s.send(at(1), Message::Text("one too many".into())),
            Err(SendError::Ended)
        );
        let out = drain(&mut s);
        assert!(matches!(
            out.as_slice(),
            [
                Output::Transmit(Frame::Text { .. }),
                Output::Transmit(Frame::Close(CloseFrame { code: 1011, .. })),
                Output::Disconnect { code: 1011, .. }
            ]
        ));
    }

    #[test]
    fn bad_input_is_reported_and_the_connection_goes_on() {
        let (mut s, _) = attached();
        for bad in [vec![], vec![0x05], vec![0x03, 0x01, 0xff, 0xfe]] {
            s.handle_bytes(at(1), &bad);
            assert!(matches!(
                frames(&drain(&mut s)).as_slice(),
                [Frame::Error(ErrorFrame {
                    code: ErrorCode::BadFrame,
                    ..
                })]
            ));
        }
        assert!(matches!(
            frames(&feed(&mut s, 1, &Frame::Hello(hello(None, 0)))).as_slice(),
            [Frame::Error(_)]
        ));
        s.handle_non_frame(at(1), "text");
        assert_eq!(frames(&drain(&mut s)).len(), 1);
        assert_eq!(
            feed(&mut s, 2, &Frame::Ping { id: 7 }),
            vec![Output::Transmit(Frame::Pong { id: 7 })]
        );
        assert!(s.is_current(1));
    }

    #[test]
    fn a_poll_cursor_acks_and_queues_everything_after_it_again_in_order() {
        let (mut s, _) = attached_with(SessionConfig {
            max_log_messages: 16,
            ..config()
        });
        for t in ["1", "2", "3"] {
            s.send(at(1), Message::Text(t.into())).unwrap();
        }
        // Seqs 1–3 went out in a poll answer that was lost; 4 is still queued, not drained.
        assert_eq!(frames(&drain(&mut s)).len(), 3);
        s.send(at(2), Message::Text("4".into())).unwrap();
        s.handle_bytes(at(2), &encode(&Frame::Ping { id: 9 }));
        s.send(at(2), Message::Text("5".into())).unwrap();
        s.handle_cursor(at(3), 1);
        assert_eq!(s.log_len(), 4, "the cursor acknowledged seq 1");
        // Control frames stay queued once; every data frame after the cursor follows once, in
        // order: the queued 5 is not sent twice.
        assert_eq!(
            frames(&drain(&mut s)),
            vec![
                Frame::Pong { id: 9 },
                text(2, "2"),
                text(3, "3"),
                text(4, "4"),
                text(5, "5"),
            ]
        );
        s.handle_cursor(at(4), 5);
        assert!(drain(&mut s).is_empty());
        assert_eq!(s.log_len(), 0);
        // A cursor beyond what was sent frees nothing and resends nothing.
        s.send(at(5), Message::Text("6".into())).unwrap();
        drain(&mut s);
        s.handle_cursor(at(6), 99);
        assert_eq!(s.log_len(), 1);
        assert!(drain(&mut s).is_empty());
    }

    #[test]
    fn a_poll_cursor_is_proof_of_life_and_ignored_when_detached() {
        let (mut s, a) = attached();
        s.handle_cursor(at(2_000), 0);
        s.handle_timeout(at(2_500));
        assert!(s.is_current(a));
        s.send(at(2_600), Message::Text("x".into())).unwrap();
        s.detach(at(2_700), a);
        s.handle_cursor(at(2_800), 0);
        assert!(drain(&mut s).is_empty());
        assert_eq!(s.log_len(), 1);
    }

    #[test]
    fn a_payload_over_the_limit_ends_the_session_with_1009() {
        let (mut s, _) = attached();
        let out = feed(&mut s, 1, &text(1, &"x".repeat(65)));
        assert!(matches!(
            out.as_slice(),
            [
                Output::Transmit(Frame::Close(CloseFrame { code: 1009, .. })),
                Output::Disconnect { code: 1009, .. }
            ]
        ));
        assert!(matches!(s.state(), SessionState::Ended { code: 1009, .. }));
    }

    #[test]
    fn close_either_way_ends_the_session() {
        let (mut s, _) = attached();
        s.send(at(1), Message::Text("last words".into())).unwrap();
        s.close(4001, "bye");
        assert_eq!(
            drain(&mut s),
            vec![
                Output::Transmit(text(1, "last words")),
                Output::Transmit(Frame::Close(CloseFrame {
                    code: 4001,
                    reason: "bye".into()
                })),
                Output::Disconnect {
                    code: 4001,
                    reason: "bye".into()
                }
            ]
        );
        s.close(4002, "again");
        assert!(drain(&mut s).is_empty());

        let (mut c, _) = attached();
        let close = Frame::Close(CloseFrame {
            code: 1000,
            reason: "done".into(),
        });
        assert_eq!(
            feed(&mut c, 1, &close),
            vec![Output::Disconnect {
                code: 1000,
                reason: String::new()
            }]
        );
        assert_eq!(
            c.state(),
            &SessionState::Ended {
                code: 1000,
                reason: "done".into()
            }
        );
        // Input after the end is ignored.
        assert!(feed(&mut c, 2, &text(1, "late")).is_empty());
    }

    #[test]
    fn abandon_disconnects_without_a_close_frame() {
        let (mut s, _) = attached();
        s.abandon(1012, "server restart");
        assert_eq!(
            drain(&mut s),
            vec![Output::Disconnect {
                code: 1012,
                reason: "server restart".into()
            }]
        );
        assert!(matches!(s.state(), SessionState::Ended { code: 1012, .. }));
    }
}
