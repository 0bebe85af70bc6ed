//! The connection brain: a pure, sans-IO state machine that makes every decision.
//!
//! [`Machine`] never performs I/O and never reads a clock. The caller (the browser glue in
//! `web/`, or a test on a simulated clock) drives it:
//!
//! ```text
//!   app / transport / page ──Input──▶ handle_input(now, input)
//!   timer fired (maybe late) ────────▶ handle_timeout(now)
//!   app calls send ─────────────────▶ send(now, payload) → SendOutcome
//!                                     poll_action() ──▶ Connect / Send / Disconnect (do them)
//!                                     poll_event()  ──▶ Open / Message / … / Close (tell the app)
//!                                     poll_timeout() ─▶ arm one timer for this instant
//! ```
//!
//! After every call, drain `poll_action` and `poll_event` completely, then re-arm the single timer
//! to `poll_timeout()`. Deadlines are compared with `now` on every call, so a timer that fires late
//! (a throttled background tab) still detects a dead link at once, and `handle_timeout` may be
//! called spuriously.
//!
//! ```
//! use holdfast::core::{Machine, Input, Action, Instant};
//! use holdfast::config::Config;
//!
//! let mut m = Machine::new(Config::default(), 42).unwrap();
//! m.handle_input(Instant::from_millis(0), Input::Connect);
//! assert!(matches!(m.poll_action(), Some(Action::Connect { .. })));
//! ```

mod action;
mod backoff;
pub mod close;
mod event;
pub mod fallback;
mod heartbeat;
mod input;
mod link;
mod mode;
mod outbox;
mod session;
mod state;
mod time;
mod timers;
mod transport;
mod types;
mod upgrade;

pub use action::Action;
pub use backoff::{ceiling_ms, full_jitter, Jitter, RetryContext, RetryPolicy, XorShift};
pub use event::{ClientError, Event};
pub use input::{Input, TransportError};
pub use state::{DisconnectReason, Phase, State, StateKind};
pub use time::Instant;
pub use timers::Timer;
pub use types::{ConnId, Payload, RejectReason, SendOutcome, Stats};
pub use upgrade::{ProbePhase, Upgrade};

pub use close::{CLOSE_GAVE_UP, CLOSE_POLICY, CLOSE_PROTOCOL, CLOSE_TRY_LATER, FINAL_CLOSE_CODES};

use crate::config::{Config, ConfigError, TransportKind, MAX_TIMER_MS};
use crate::protocol::{
    self, CloseFrame, ErrorCode, ErrorFrame, Frame, Hello, Inbound, Limits, ResumeOutcome,
    ACK_DELAY_MS, MAX_FRAME_BYTES,
};
use crate::text::dec;
use fallback::Next;
use heartbeat::Heartbeat;
use link::{Link, Request};
use mode::{Mode, Received};
use outbox::{Offer, Outbox};
use session::Session;
use std::collections::VecDeque;
use std::fmt;
use timers::TimerTable;
use transport::Downstream;

/// A server's hint about when to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hint {
    /// Wait at least this long (`Retry-After`, ERROR `retry_after_ms`).
    After(u64),
    /// "Try later" without a number (close 1013): wait in the upper half of the cap.
    Later,
}

/// The client state machine. See the module docs for how to drive it.
pub struct Machine {
    config: Config,
    mode: Mode,
    state: State,
    timers: TimerTable,
    outbox: Outbox,
    heartbeat: Heartbeat,
    session: Session,
    limits: Limits,
    jitter: Box<dyn Jitter>,
    retry_policy: Option<Box<dyn RetryPolicy>>,
    next_conn: u64,
    /// The current connection's transport bookkeeping (POST and poll in flight).
    link: Link,
    /// Consecutive failures of the current rung after it had been trusted; at
    /// `fallback_after_failures` the chain is walked down.
    rung_failures: u32,
    /// Where the first attempt starts in the chain (a remembered transport).
    start_at: usize,
    /// Upgrade back: the probe beside an open session on a lower rung.
    upgrade: Upgrade,
    /// Last instant any entry point was called; detects gaps in which we could not run.
    last_call: Option<Instant>,
    /// The page is hidden: timers may be throttled, network callbacks are not.
    hidden: bool,
    /// The browser says it is offline: attempts wait for `Online`.
    offline: bool,
    /// The page was left (`pagehide`): attempts wait for `Resumed`.
    suspended: bool,
    /// Consecutive 401/403 answers; the second one is final.
    auth_failures: u32,
    pending_hint: Option<Hint>,
    disconnected_since: Option<Instant>,
    ever_opened: bool,
    stats: Stats,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
}

impl fmt::Debug for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Machine")
            .field("state", &self.state)
            .field("timers", &self.timers)
            .field("outbox", &self.outbox.len())
            .finish_non_exhaustive()
    }
}

impl Machine {
    /// Builds a machine in [`State::Idle`] after validating `config`. `seed` seeds the default
    /// jitter source; give every client a different one (the glue uses `Math.random()`), or
    /// reconnect storms stay synchronised.
    pub fn new(config: Config, seed: u64) -> Result<Self, ConfigError> {
        config.validate()?;
        let outbox = Outbox::new(
            config.queue_max_messages,
            config.queue_max_bytes,
            config.overflow,
        );
        let limits = Limits {
            max_message_bytes: config.max_message_bytes,
        };
        Ok(Machine {
            mode: Mode::new(&config.protocol),
            config,
            state: State::Idle,
            timers: TimerTable::default(),
            outbox,
            heartbeat: Heartbeat::default(),
            session: Session::default(),
            limits,
            jitter: Box::new(XorShift::new(seed)),
            retry_policy: None,
            next_conn: 0,
            link: Link::new(TransportKind::WebSocket),
            rung_failures: 0,
            start_at: 0,
            upgrade: Upgrade::Off,
            last_call: None,
            hidden: false,
            offline: false,
            suspended: false,
            auth_failures: 0,
            pending_hint: None,
            disconnected_since: None,
            ever_opened: false,
            stats: Stats::default(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    /// Replaces the jitter source (tests inject fixed samples). Call before `Connect`.
    pub fn with_jitter(mut self, jitter: impl Jitter + 'static) -> Self {
        self.jitter = Box::new(jitter);
        self
    }

    /// Starts the first attempt at `kind` instead of the top of the chain, if the chain has it
    /// (the transport remembered for this tab). Later rounds start from the top as usual.
    pub fn with_start(mut self, kind: TransportKind) -> Self {
        if let Some(i) = self.config.transports.iter().position(|t| *t == kind) {
            self.start_at = i;
        }
        self
    }

    /// Installs a custom retry schedule. Call before `Connect`.
    pub fn with_retry_policy(mut self, policy: impl RetryPolicy + 'static) -> Self {
        self.retry_policy = Some(Box::new(policy));
        self
    }

    // ----- entry points ---------------------------------------------------------------------

    /// Feeds one input that happened at `now`. Call whenever the app, a transport or the page
    /// reports something; then drain actions and events and re-arm the timer. Expired deadlines
    /// are judged first, against `now`.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        if self.is_closed() {
            return;
        }
        // A transport that reports its own end is gone: nothing may go out on it any more, not
        // even a ping that fell due in the same instant or a freeze probe. Apply its end first;
        // the connection's timers stop with it.
        let ends_current = match &input {
            Input::Closed { conn, .. } | Input::Failed { conn, .. } => {
                self.state.conn() == Some(*conn)
            }
            _ => false,
        };
        if ends_current {
            let (now, _) = self.tick(now);
            self.apply(now, input);
            self.run_timers(now);
            self.settle(now);
            return;
        }
        let now = self.observe(now, matches!(input, Input::Resumed));
        self.run_timers(now);
        if !self.is_closed() {
            self.apply(now, input);
        }
        self.settle(now);
    }

    /// Call when the timer armed to [`Machine::poll_timeout`] fires — late or early, even
    /// spuriously: every deadline is compared with `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        let now = self.observe(now, false);
        self.run_timers(now);
        self.settle(now);
    }

    /// Sends `payload` if open, queues it if not, or rejects it; the outcome says which. Deadlines
    /// are checked first, so a send never goes out on a link already known dead.
    pub fn send(&mut self, now: Instant, payload: Payload) -> SendOutcome {
        if self.is_closed() {
            return SendOutcome::Rejected(RejectReason::Closed);
        }
        let now = self.observe(now, false);
        self.run_timers(now);
        // A deadline that expired meanwhile may have closed the client for good (it gave up
        // reconnecting): the message must not slip into an outbox nothing will ever send.
        if self.is_closed() {
            return SendOutcome::Rejected(RejectReason::Closed);
        }
        let outcome = self.send_now(now, payload);
        self.settle(now);
        outcome
    }

    /// The next action for the glue, in order. Drain completely after every call.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next event for the app, in order. Drain completely after every call.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Machine::handle_timeout`] must be called next; `None` when nothing is pending.
    /// Always later than the `now` of the last call.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }
        self.timers.next()
    }

    /// The exact state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The coarse state the app sees.
    pub fn state_kind(&self) -> StateKind {
        match &self.state {
            State::Idle => StateKind::Connecting,
            State::Connecting { attempt, .. } if *attempt == 0 && !self.ever_opened => {
                StateKind::Connecting
            }
            State::Connecting { .. } | State::Backoff { .. } | State::Paused { .. } => {
                StateKind::Reconnecting
            }
            State::Open { .. } => StateKind::Open,
            State::Closed => StateKind::Closed,
        }
    }

    /// The transport of the current attempt or connection.
    pub fn transport(&self) -> Option<TransportKind> {
        match &self.state {
            State::Connecting { transport, .. } | State::Open { transport, .. } => {
                self.config.transports.get(*transport).copied()
            }
            State::Idle | State::Backoff { .. } | State::Paused { .. } | State::Closed => None,
        }
    }

    /// Bytes accepted by `send` and not yet acknowledged by the server (queued or in flight; in
    /// raw mode, which has no acks, queued only). Product spec §1's `bufferedAmount`.
    pub fn buffered_amount(&self) -> usize {
        self.outbox.bytes()
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        Stats {
            rtt_ms: self.heartbeat.srtt_ms,
            transport: self.transport(),
            queued: self.outbox.len(),
            queued_bytes: self.outbox.bytes(),
            attempt: self.attempt(),
            ..self.stats.clone()
        }
    }

    /// The largest single transport message the glue should read (a WebSocket message, an SSE
    /// event's data in bytes of base64 is 4/3 of it): one frame carrying the largest payload
    /// `maxMessageBytes` allows, and never less than the largest control frame. Anything larger
    /// is dropped unread with `Input::Oversized`.
    pub fn max_inbound_bytes(&self) -> usize {
        match self.config.protocol {
            // A raw message is the app's own: its limit is the option, exactly.
            crate::config::Protocol::Raw(_) => self.config.max_message_bytes,
            // A data frame's header is its type byte and a varint seq (at most 10 bytes). WELCOME
            // and ERROR (with its message of up to 1 KiB) must fit however small the option is,
            // or the handshake could never finish; data payloads above the option are still
            // refused, by the decoder.
            _ => self
                .config
                .max_message_bytes
                .saturating_add(16)
                .max(protocol::MAX_ERROR_MESSAGE_BYTES + 64),
        }
    }

    /// The largest HTTP answer body the glue should read (a poll answer, PROTOCOL.md §8.4):
    /// the server's about 1 MiB of frames plus one frame of [`Machine::max_inbound_bytes`] and
    /// the batch envelope. A larger body fails the request unread.
    pub fn max_answer_bytes(&self) -> usize {
        self.max_inbound_bytes()
            .saturating_add(1 << 20)
            .saturating_add(64 * 1024)
    }

    /// The upgrade state: whether a probe is scheduled or out.
    pub fn upgrade(&self) -> &Upgrade {
        &self.upgrade
    }

    /// The current session id (protocol mode, after the first WELCOME).
    pub fn session_id(&self) -> Option<&str> {
        self.session.id.as_deref()
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ----- time and deadlines ---------------------------------------------------------------

    fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    fn attempt(&self) -> u32 {
        match &self.state {
            State::Connecting { attempt, .. }
            | State::Open { attempt, .. }
            | State::Backoff { attempt, .. }
            | State::Paused { attempt, .. } => *attempt,
            State::Idle | State::Closed => 0,
        }
    }

    /// Ends the connection `conn` (close 1000 with `reason`) and the probe, and stops every
    /// timer that belongs to a connection; the disconnected time starts now unless it already
    /// runs. The caller picks the next state (backoff, paused).
    fn end_connection(&mut self, now: Instant, conn: ConnId, reason: &str) {
        self.disconnect(conn, 1000, reason);
        self.stop_upgrade();
        for t in [
            Timer::Connect,
            Timer::Liveness,
            Timer::Ping,
            Timer::Ack,
            Timer::MinUptime,
            Timer::Poll,
            Timer::Post,
        ] {
            self.timers.stop(t);
        }
        self.disconnected_since.get_or_insert(now);
    }

    /// Records the call time (never going backwards) and handles a gap in which we did not run.
    ///
    /// If no call at all happened for longer than the heartbeat timeout while the page was not
    /// known to be hidden (a frozen page, a sleeping laptop), or the page says it resumed, missing
    /// inbound data proves nothing: probe instead of declaring the link dead. A hidden page's
    /// timers are throttled but its network callbacks still run, so there a late timer that finds
    /// the deadline expired is a real dead link and is judged at once.
    fn observe(&mut self, now: Instant, resumed: bool) -> Instant {
        let (now, gap) = self.tick(now);
        // Before the first open the heartbeat has no timeout yet (0): the option's is the floor,
        // or every call would look like a thaw and push the connect deadline back forever.
        let quiet = self
            .heartbeat
            .timeout_ms
            .max(self.config.heartbeat_timeout_ms);
        let froze = resumed || (gap > quiet && !self.hidden);
        if froze {
            // A request deadline that expired while nothing ran proves nothing either: its answer
            // may be the next task. It gets the probe window (a frozen SSE page otherwise reported
            // a send timeout on resume before the POST's answer could be read).
            let window = now.plus(self.config.freeze_probe_ms);
            for t in [Timer::Post, Timer::Connect] {
                if self.timers.get(t).is_some_and(|d| d <= now) {
                    self.timers.set(t, window);
                }
            }
        }
        if let (true, State::Open { conn, .. }) = (froze, &self.state) {
            let conn = *conn;
            let expired = self.timers.get(Timer::Liveness).is_some_and(|d| d <= now);
            let stale = now.since(self.heartbeat.last_heard) >= self.heartbeat.interval_ms;
            if self.liveness_enabled() && (expired || stale) {
                self.probe(now, conn);
                // Only the probe's answer counts now (see `Heartbeat::thaw_probe`). Without a
                // ping of ours (raw mode without a heartbeat) any data has to do.
                if self.ping_enabled() {
                    self.heartbeat.thaw_probe = self.heartbeat.outstanding.map(|(id, _)| id);
                }
            }
        }
        now
    }

    /// Records the call time, never going backwards; returns it and how long no call happened.
    fn tick(&mut self, now: Instant) -> (Instant, u64) {
        let now = self.last_call.map_or(now, |last| now.max(last));
        let gap = self.last_call.map_or(0, |last| now.since(last));
        self.last_call = Some(now);
        (now, gap)
    }

    fn run_timers(&mut self, now: Instant) {
        while let Some(timer) = self.timers.take_expired(now) {
            self.on_timer(now, timer);
            if self.is_closed() {
                return;
            }
        }
    }

    fn on_timer(&mut self, now: Instant, timer: Timer) {
        match (timer, &self.state) {
            (Timer::Connect, State::Connecting { .. }) => {
                self.lost(now, DisconnectReason::ConnectTimeout);
            }
            (Timer::Liveness, State::Open { .. }) => self.lost(now, DisconnectReason::DeadLink),
            // Re-judged here: something may have been sent since the timer was armed.
            (Timer::Ping, State::Open { conn, .. }) if self.heartbeat.ping_due() <= now => {
                let conn = *conn;
                self.send_ping(now, conn);
            }
            (Timer::Ack, State::Open { conn, .. }) => {
                let conn = *conn;
                self.send_ack(now, conn);
            }
            (Timer::MinUptime, State::Open { attempt, .. }) if *attempt > 0 => {
                if let State::Open { attempt, .. } = &mut self.state {
                    *attempt = 0;
                }
                self.rung_failures = 0;
            }
            (Timer::Poll, State::Open { conn, .. }) => {
                let conn = *conn;
                self.poll(now, conn);
            }
            (Timer::Post, State::Open { .. } | State::Connecting { .. }) => {
                self.lost(now, DisconnectReason::SendTimeout);
            }
            (Timer::Probe, State::Open { .. }) => self.start_probe(now),
            (Timer::ProbeDeadline, State::Open { .. }) => self.probe_failed(now),
            (Timer::Backoff, State::Backoff { transport, attempt }) => {
                let (transport, attempt) = (*transport, *attempt);
                self.start_attempt(now, transport, attempt);
            }
            // A timer left over from a state that no longer exists: nothing to do.
            (
                Timer::Connect
                | Timer::Liveness
                | Timer::Ping
                | Timer::Ack
                | Timer::MinUptime
                | Timer::Backoff
                | Timer::Poll
                | Timer::Post
                | Timer::Probe
                | Timer::ProbeDeadline,
                _,
            ) => {}
        }
    }

    /// Re-arms the ping timer after every call: a ping is due an interval after the quieter
    /// direction went quiet. If it is already due, it is sent now, so no timer is ever armed for
    /// the past.
    fn settle(&mut self, now: Instant) {
        let State::Open { conn, .. } = self.state else {
            self.timers.stop(Timer::Ping);
            return;
        };
        if !self.ping_enabled() {
            return;
        }
        if self.heartbeat.ping_due() <= now {
            self.send_ping(now, conn);
        }
        self.timers.set(Timer::Ping, self.heartbeat.ping_due());
    }

    fn liveness_enabled(&self) -> bool {
        self.mode.liveness()
    }

    fn ping_enabled(&self) -> bool {
        self.mode.pings()
    }

    // ----- inputs ---------------------------------------------------------------------------

    fn apply(&mut self, now: Instant, input: Input) {
        if let Some(probe) = self.upgrade.probe_conn() {
            if input_conn(&input) == Some(probe) {
                return self.on_probe_input(now, input);
            }
        }
        match input {
            Input::Connect => {
                if let State::Idle = self.state {
                    self.disconnected_since = Some(now);
                    self.start_attempt(now, self.start_at, 0);
                }
            }
            Input::Close { code, reason } => match close::check_app_close(code, &reason) {
                Ok(()) => self.end_session(now, code, &reason, true),
                // Refused, not clamped: a `close(1006)` reported back as a clean close would be
                // a contradiction, and a browser would throw on it.
                Err(e) => self.emit(Event::Error(e)),
            },
            Input::Opened { conn } => self.on_opened(now, conn),
            Input::Received { conn, payload } => {
                if self.state.conn() == Some(conn) {
                    self.on_received(now, conn, payload);
                }
            }
            Input::Oversized { conn, size } => {
                if self.state.conn() == Some(conn) {
                    self.heard(now);
                    let limit = self.max_inbound_bytes();
                    self.emit(Event::Error(ClientError::MessageTooBig { size, limit }));
                }
            }
            Input::Sent { conn } => {
                if self.state.conn() == Some(conn) {
                    self.link.post = Request::Idle;
                    self.timers.stop(Timer::Post);
                    self.post(now, conn);
                }
            }
            Input::Polled { conn, body } => {
                if self.state.conn() == Some(conn) {
                    self.on_polled(now, conn, &body);
                }
            }
            Input::Closed { conn, code, reason } => {
                if self.state.conn() != Some(conn) {
                    return;
                }
                if self.mode.final_transport_close(code) {
                    self.terminate(code, reason, true);
                    return;
                }
                if code == CLOSE_TRY_LATER {
                    self.pending_hint.get_or_insert(Hint::Later);
                }
                self.lost(now, DisconnectReason::Closed { code, reason });
            }
            Input::Failed { conn, error } => {
                if self.state.conn() != Some(conn) {
                    return;
                }
                if let TransportError::Http {
                    retry_after_ms: Some(ms),
                    ..
                } = error
                {
                    self.pending_hint = Some(Hint::After(ms));
                }
                self.lost(now, DisconnectReason::Failed(error));
            }
            Input::Online => {
                self.offline = false;
                match self.state {
                    State::Paused { .. } if self.suspended => {}
                    State::Backoff { transport, attempt }
                    | State::Paused { transport, attempt } => {
                        self.timers.stop(Timer::Backoff);
                        self.start_attempt(now, transport, attempt);
                    }
                    // The network changed under an open link: it may be dead, make sure. A better
                    // transport may work on the new network too.
                    State::Open { conn, .. } => {
                        self.probe_if_enabled(now, conn);
                        self.upgrade_soon(now);
                    }
                    State::Idle | State::Connecting { .. } | State::Closed => {}
                }
            }
            Input::Offline => {
                self.offline = true;
                match self.state {
                    State::Backoff { transport, attempt } => {
                        self.timers.stop(Timer::Backoff);
                        self.state = State::Paused { transport, attempt };
                    }
                    State::Open { conn, .. } => self.probe_if_enabled(now, conn),
                    State::Idle
                    | State::Connecting { .. }
                    | State::Paused { .. }
                    | State::Closed => {}
                }
            }
            Input::Visible => {
                self.hidden = false;
                if let State::Open { conn, .. } = self.state {
                    if now.since(self.heartbeat.last_heard) >= self.heartbeat.interval_ms {
                        self.probe_if_enabled(now, conn);
                    }
                    self.upgrade_soon(now);
                }
            }
            Input::Hidden => self.hidden = true,
            Input::Suspend => self.suspend(now),
            // Deadlines are handled in `observe` (a resume is a gap in which nothing ran); a page
            // restored from the back/forward cache reconnects at once.
            Input::Resumed => {
                if self.suspended {
                    self.suspended = false;
                    if let State::Paused { transport, attempt } = self.state {
                        if !self.offline {
                            self.start_attempt(now, transport, attempt);
                        }
                    }
                }
            }
        }
    }

    /// `pagehide`: the page may sit in the back/forward cache, where nothing runs, or never run
    /// again. The connection is closed cleanly now (the server detaches the session at once
    /// instead of sending into a page that cannot read until its idle timeout), on the same rung
    /// and without counting a failure; no attempt is made until `Resumed`. Nothing is lost: the
    /// session resumes and each side resends what the other did not acknowledge.
    fn suspend(&mut self, now: Instant) {
        self.hidden = true;
        self.suspended = true;
        let (transport, attempt) = match self.state {
            State::Connecting {
                conn,
                transport,
                attempt,
                ..
            }
            | State::Open {
                conn,
                transport,
                attempt,
                ..
            } => {
                self.end_connection(now, conn, &DisconnectReason::PageHidden.message());
                (transport, attempt)
            }
            State::Backoff { transport, attempt } => {
                self.timers.stop(Timer::Backoff);
                (transport, attempt)
            }
            State::Idle | State::Paused { .. } | State::Closed => return,
        };
        self.state = State::Paused { transport, attempt };
        self.emit(Event::Reconnecting {
            attempt,
            delay_ms: 0,
            reason: DisconnectReason::PageHidden,
        });
    }

    fn on_opened(&mut self, now: Instant, conn: ConnId) {
        let State::Connecting {
            conn: current,
            phase: Phase::Transport,
            ..
        } = self.state
        else {
            return;
        };
        if current != conn {
            return;
        }
        if !self.mode.is_session() {
            // Raw servers have no handshake to prove the round trip: open at once.
            self.become_open(now, None);
            return;
        }
        if let State::Connecting { phase, .. } = &mut self.state {
            *phase = Phase::Handshake;
        }
        if self.link.caps.hello_in_open {
            return; // HELLO went with the opening request; WELCOME comes down next
        }
        let hello = self.hello();
        self.send_frame(now, conn, &hello);
    }

    /// HELLO for the current attempt.
    fn hello(&self) -> Frame {
        // Resume: the session we had (if any) and the last server seq delivered in order, so the
        // server resends exactly what we have not seen.
        Frame::Hello(Hello {
            min_version: protocol::VERSION,
            max_version: protocol::VERSION,
            session: self.session.id.clone(),
            last_seq: self.session.inbound.last,
            probe: false,
        })
    }

    /// Anything from the server is proof of life, except while a thaw probe waits for its pong.
    fn heard(&mut self, now: Instant) {
        if self.heartbeat.thaw_probe.is_some() {
            return;
        }
        self.heartbeat.last_heard = now;
        if let (State::Open { .. }, true) = (&self.state, self.liveness_enabled()) {
            self.timers
                .set(Timer::Liveness, now.plus(self.heartbeat.timeout_ms));
        }
    }

    /// A poll answered with `body`: each frame in order, then the next poll (at once when the
    /// server holds polls, after `poll_interval_ms` when it does not). A body that is not a
    /// batch (a proxy's error page) is reported and proves nothing about the link.
    fn on_polled(&mut self, now: Instant, conn: ConnId, body: &[u8]) {
        self.link.poll = Request::Idle;
        let frames = match protocol::split_batch(body) {
            Ok(frames) => frames,
            Err(e) => {
                self.emit(Event::Error(ClientError::BadFrame(e)));
                Vec::new()
            }
        };
        if frames.is_empty() && !body.is_empty() {
            // Broken envelope: no proof of life; the liveness deadline decides.
        } else {
            self.heard(now);
        }
        let nothing = frames.is_empty();
        for frame in frames {
            if self.state.conn() != Some(conn) {
                return; // a frame ended this connection (CLOSE, a bad WELCOME)
            }
            self.on_received(now, conn, Payload::Binary(frame.to_vec()));
        }
        if let State::Open { conn: open, .. } = self.state {
            if open == conn {
                self.schedule_poll(now, conn, nothing);
            }
        }
    }

    /// The next poll: now if the server holds polls, else after the poll interval. A held poll
    /// answered with `nothing` (no frames: an empty batch, a `504`, an error page) sooner than
    /// the poll interval after it left is followed only once that interval has passed, so a
    /// proxy or server that answers every poll at once cannot turn long polling into a busy loop.
    fn schedule_poll(&mut self, now: Instant, conn: ConnId, nothing: bool) {
        match self.link.caps.downstream {
            Downstream::Polls { held: true } => {
                let due = self.link.poll_sent.plus(self.config.poll_interval_ms);
                if nothing && due > now {
                    self.timers.set(Timer::Poll, due);
                } else {
                    self.poll(now, conn);
                }
            }
            Downstream::Polls { held: false } => {
                self.timers
                    .set(Timer::Poll, now.plus(self.config.poll_interval_ms));
            }
            Downstream::Message | Downstream::Base64Events => {}
        }
    }

    /// Issues one poll unless one is out already.
    fn poll(&mut self, now: Instant, conn: ConnId) {
        if self.link.poll == Request::InFlight || self.data_replaced() {
            return;
        }
        self.link.poll = Request::InFlight;
        self.link.poll_sent = now;
        self.actions.push_back(Action::Poll {
            conn,
            cursor: self.session.inbound.last,
        });
    }

    /// Sends the next POST if none is in flight and frames wait; its answer is due within the
    /// heartbeat timeout.
    fn post(&mut self, now: Instant, conn: ConnId) {
        if self.data_replaced() {
            return;
        }
        if let Some(body) = self.link.next_post() {
            let deadline = self
                .heartbeat
                .timeout_ms
                .max(self.config.heartbeat_timeout_ms);
            self.timers.set(Timer::Post, now.plus(deadline));
            self.actions.push_back(Action::Send {
                conn,
                payload: Payload::Binary(body),
            });
        }
    }

    fn on_received(&mut self, now: Instant, conn: ConnId, payload: Payload) {
        self.heard(now);
        let payload = match (self.link.caps.downstream, payload) {
            // SSE carries each frame as one base64 event.
            (Downstream::Base64Events, Payload::Text(text)) => {
                match protocol::decode_base64(&text, MAX_FRAME_BYTES) {
                    Ok(bytes) => Payload::Binary(bytes),
                    Err(e) => return self.emit(Event::Error(ClientError::BadFrame(e))),
                }
            }
            (_, payload) => payload,
        };
        match self.mode.receive(payload, &self.limits) {
            Received::Frame(frame) => self.on_frame(now, conn, frame),
            Received::App(payload) => self.deliver(payload),
            // A raw heartbeat's pong carries no id: it answers the ping in flight (after a
            // freeze, the thaw probe's; one read before the freeze would pass for it).
            Received::Pong => {
                if let Some((id, _)) = self.heartbeat.outstanding {
                    self.pong(now, id);
                }
            }
            // Forward compatibility: unknown frame types are ignored (they were liveness).
            Received::Ignored => {}
            Received::Bad(e) => self.emit(Event::Error(e)),
        }
    }

    /// A pong for ping `id`; one that ends a thaw probe is the proof of life the data before it
    /// could not be.
    fn pong(&mut self, now: Instant, id: u64) {
        if self.heartbeat.on_pong(id, now) {
            self.heard(now);
        }
    }

    fn on_frame(&mut self, now: Instant, conn: ConnId, frame: Frame) {
        let open = matches!(self.state, State::Open { .. });
        match frame {
            Frame::Welcome(w) if !open => {
                if w.version != protocol::VERSION {
                    self.lost(
                        now,
                        DisconnectReason::ServerError(
                            ["server chose unsupported version ", &dec(w.version)].concat(),
                        ),
                    );
                    return;
                }
                self.resume_or_start(&w);
                self.become_open(now, Some(&w));
            }
            Frame::Ping { id } => self.send_frame(now, conn, &Frame::Pong { id }),
            Frame::Close(c) => self.on_server_close(now, c),
            Frame::Error(e) => self.on_server_error(now, e),
            Frame::Text { seq, text } if open => self.on_data(now, conn, seq, Payload::Text(text)),
            Frame::Binary { seq, data } if open => {
                self.on_data(now, conn, seq, Payload::Binary(data))
            }
            Frame::Pong { id } => self.pong(now, id),
            Frame::Ack { seq } => self.outbox.ack(seq),
            Frame::Welcome(_) => self.emit(Event::Error(ClientError::UnexpectedFrame("WELCOME"))),
            Frame::Hello(_) => self.emit(Event::Error(ClientError::UnexpectedFrame("HELLO"))),
            // Data before WELCOME: the server broke the handshake rule; ignore it (PROTOCOL.md §4).
            Frame::Text { .. } | Frame::Binary { .. } => self.emit(Event::Error(
                ClientError::UnexpectedFrame("data before WELCOME"),
            )),
        }
    }

    fn on_data(&mut self, now: Instant, conn: ConnId, seq: u64, payload: Payload) {
        match self.session.inbound.accept(seq) {
            // Above 2^63 (PROTOCOL.md §5): malformed, dropped with an `error` event.
            Inbound::OutOfRange => {
                let e = protocol::DecodeError::TooLarge { field: "seq" };
                return self.emit(Event::Error(ClientError::BadFrame(e)));
            }
            Inbound::Duplicate => {
                // The server resent: it missed our ACK. The receiver owes it again.
                if self.timers.get(Timer::Ack).is_none() {
                    self.timers.set(Timer::Ack, now.plus(ACK_DELAY_MS));
                }
                return;
            }
            Inbound::Gap { expected } => self.emit(Event::Error(ClientError::SequenceGap {
                expected,
                got: seq,
            })),
            Inbound::InOrder => {}
        }
        self.deliver(payload);
        if self.session.inbound.ack_now() {
            self.send_ack(now, conn);
        } else if self.timers.get(Timer::Ack).is_none() {
            self.timers.set(Timer::Ack, now.plus(ACK_DELAY_MS));
        }
    }

    fn deliver(&mut self, payload: Payload) {
        self.stats.messages_received += 1;
        self.stats.bytes_received += payload.len() as u64;
        self.emit(Event::Message(payload));
    }

    fn on_server_close(&mut self, now: Instant, c: CloseFrame) {
        if close::is_final(c.code) {
            self.terminate(c.code, c.reason, true);
            return;
        }
        if c.code == CLOSE_TRY_LATER {
            self.pending_hint.get_or_insert(Hint::Later);
        }
        self.lost(
            now,
            DisconnectReason::ServerClose {
                code: c.code,
                reason: c.reason,
            },
        );
    }

    fn on_server_error(&mut self, now: Instant, e: ErrorFrame) {
        self.emit(Event::Error(ClientError::Server {
            code: e.code,
            message: e.message.clone(),
        }));
        match e.code {
            ErrorCode::VersionUnsupported => {
                let reason = ["protocol version unsupported: ", &e.message].concat();
                self.terminate(CLOSE_PROTOCOL, reason, false);
            }
            ErrorCode::TryLater => {
                self.pending_hint = Some(match e.retry_after_ms {
                    0 => Hint::Later,
                    ms => Hint::After(ms),
                });
                self.lost(now, DisconnectReason::ServerError(e.message));
            }
            ErrorCode::Forbidden => {
                let error = TransportError::Http {
                    status: 403,
                    retry_after_ms: None,
                };
                self.lost(now, DisconnectReason::Failed(error));
            }
            // Reported; the connection goes on (the server closes it if it must).
            ErrorCode::BadFrame
            | ErrorCode::MessageTooBig
            | ErrorCode::SessionUnknown
            | ErrorCode::Other(_) => {}
        }
    }

    // ----- transitions ----------------------------------------------------------------------

    fn start_attempt(&mut self, now: Instant, transport: usize, attempt: u32) {
        self.next_conn += 1;
        let conn = ConnId(self.next_conn);
        let kind = self.transport_at(transport);
        self.state = State::Connecting {
            conn,
            transport,
            attempt,
            phase: Phase::Transport,
        };
        self.link = Link::new(kind);
        self.timers.stop(Timer::Backoff);
        self.timers.set(
            Timer::Connect,
            now.plus(self.config.connect_timeout_for(kind)),
        );
        let hello = (self.link.caps.hello_in_open && self.mode.is_session())
            .then(|| protocol::encode(&self.hello()));
        self.actions.push_back(Action::Connect {
            conn,
            transport: kind,
            hello,
        });
    }

    fn transport_at(&self, index: usize) -> TransportKind {
        // `Config::validate` guarantees a non-empty chain and indices come from it; the fallback
        // only exists so a bug cannot panic.
        self.config
            .transports
            .get(index)
            .or(self.config.transports.first())
            .copied()
            .unwrap_or(TransportKind::WebSocket)
    }

    fn become_open(&mut self, now: Instant, welcome: Option<&protocol::Welcome>) {
        let State::Connecting {
            conn,
            transport,
            attempt,
            ..
        } = self.state
        else {
            return;
        };
        self.state = State::Open {
            conn,
            transport,
            since: now,
            attempt,
        };
        self.timers.stop(Timer::Connect);
        self.adopt(now, welcome);
        if attempt > 0 {
            self.timers
                .set(Timer::MinUptime, now.plus(self.config.min_uptime_ms.max(1)));
        }
        self.auth_failures = 0;
        self.pending_hint = None;
        self.disconnected_since = None;
        if self.ever_opened {
            self.stats.reconnects += 1;
        }
        self.ever_opened = true;
        // Flush before the app hears `open`, so queued messages (and, on a resumed session, the
        // unacknowledged ones) keep their order ahead of anything the app sends from its open
        // handler.
        self.flush(now, conn);
        if self.link.caps.polls() {
            self.poll(now, conn);
        }
        let kind = self.transport_at(transport);
        self.emit(Event::Open { transport: kind });
        self.arm_upgrade(now);
    }

    /// Takes the timers and limits a WELCOME announced for the connection that just became the
    /// data connection, and starts its heartbeat and liveness deadline from `now`.
    fn adopt(&mut self, now: Instant, welcome: Option<&protocol::Welcome>) {
        let n = session::negotiate(&self.config, welcome);
        self.limits.max_message_bytes = n.max_message_bytes;
        self.heartbeat = Heartbeat {
            interval_ms: n.interval_ms,
            timeout_ms: n.timeout_ms,
            last_sent: now,
            last_heard: now,
            last_pinged: now,
            srtt_ms: self.heartbeat.srtt_ms,
            ..Heartbeat::default()
        };
        if self.liveness_enabled() {
            self.timers
                .set(Timer::Liveness, now.plus(self.heartbeat.timeout_ms));
        }
    }

    /// The current connection or attempt ended for `reason`. An attempt that was never trusted
    /// hands over to the next transport; a trusted connection retries the same one with backoff.
    fn lost(&mut self, now: Instant, reason: DisconnectReason) {
        if self.hand_over_to_probe() {
            return;
        }
        let (conn, transport, attempt, trusted) = match self.state {
            State::Connecting {
                conn,
                transport,
                attempt,
                ..
            } => (conn, transport, attempt, false),
            State::Open {
                conn,
                transport,
                attempt,
                ..
            } => (conn, transport, attempt, true),
            State::Idle | State::Backoff { .. } | State::Paused { .. } | State::Closed => return,
        };
        self.end_connection(now, conn, &reason.message());

        if let DisconnectReason::Failed(TransportError::Http {
            status: status @ (401 | 403),
            ..
        }) = reason
        {
            self.auth_failures += 1;
            if self.auth_failures >= 2 {
                let why = [
                    "unauthorized: HTTP ",
                    &dec(status.into()),
                    " after a fresh URL",
                ]
                .concat();
                self.terminate(CLOSE_POLICY, why, false);
            } else {
                // Once: the URL function runs again before this attempt (token refresh).
                self.start_attempt(now, transport, attempt);
            }
            return;
        }

        if trusted {
            self.rung_failures = self.rung_failures.saturating_add(1);
        }
        let next = fallback::after_failure(
            self.config.transports.len(),
            transport,
            trusted,
            self.rung_failures,
            self.config.fallback_after_failures,
        );
        match next {
            Next::Retry(index) => {
                if index != transport {
                    self.rung_failures = 0;
                }
                self.schedule_retry(now, index, attempt.saturating_add(1), reason);
            }
            Next::Fallback { from, to } => {
                self.rung_failures = 0;
                let (from_kind, to_kind) = (self.transport_at(from), self.transport_at(to));
                self.emit(Event::Transport {
                    from: from_kind,
                    to: to_kind,
                    reason,
                });
                self.start_attempt(now, to, attempt);
            }
        }
    }

    fn schedule_retry(
        &mut self,
        now: Instant,
        transport: usize,
        attempt: u32,
        reason: DisconnectReason,
    ) {
        if let Some(max) = self.config.max_attempts {
            if attempt > max {
                let why = [
                    "gave up after ",
                    &dec(max.into()),
                    " reconnect attempts: ",
                    &reason.message(),
                ]
                .concat();
                self.terminate(CLOSE_GAVE_UP, why, false);
                return;
            }
        }
        let cfg = &self.config;
        let ceiling = ceiling_ms(
            cfg.reconnect_delay_ms,
            cfg.reconnect_max_delay_ms,
            cfg.reconnect_factor,
            attempt,
        );
        let default_delay = full_jitter(ceiling, self.jitter.sample());
        let mut delay = match &mut self.retry_policy {
            None => default_delay,
            Some(policy) => {
                let ctx = RetryContext {
                    attempt,
                    elapsed_ms: self.disconnected_since.map_or(0, |t| now.since(t)),
                    reason: &reason,
                    default_delay_ms: default_delay,
                };
                match policy.next_delay_ms(&ctx) {
                    Some(ms) => ms.clamp(1, MAX_TIMER_MS),
                    None => {
                        let why =
                            ["retry policy stopped reconnecting: ", &reason.message()].concat();
                        self.terminate(CLOSE_GAVE_UP, why, false);
                        return;
                    }
                }
            }
        };
        // Server hints are a floor, clamped so a hostile or buggy hint cannot park us for days.
        if let Some(hint) = self.pending_hint.take() {
            let cap = self.config.max_retry_after_ms;
            let floor = match hint {
                Hint::After(ms) => ms.min(cap),
                Hint::Later => {
                    let top = self.config.reconnect_max_delay_ms.min(cap);
                    top / 2 + full_jitter(top / 2, self.jitter.sample())
                }
            };
            delay = delay.max(floor).clamp(1, MAX_TIMER_MS);
        }
        if self.offline {
            self.state = State::Paused { transport, attempt };
        } else {
            self.state = State::Backoff { transport, attempt };
            self.timers.set(Timer::Backoff, now.plus(delay));
        }
        self.emit(Event::Reconnecting {
            attempt,
            delay_ms: delay,
            reason,
        });
    }

    /// Closes for good: releases the connection, drops the timers and the outbox (reporting what
    /// was never acknowledged), and emits the one terminal `Close`.
    fn terminate(&mut self, code: u16, reason: String, was_clean: bool) {
        self.terminate_with(code, reason, was_clean, false);
    }

    /// [`Machine::terminate`]; `closing_behind_in_flight` says we just sent CLOSE on an open
    /// connection behind the messages in flight (an app close), so those are as delivered as a
    /// WebSocket's. Otherwise (a server's final close, giving up, …) every message held was
    /// never confirmed and is reported.
    fn terminate_with(
        &mut self,
        code: u16,
        reason: String,
        was_clean: bool,
        closing_behind_in_flight: bool,
    ) {
        if let Some(conn) = self.state.conn() {
            self.disconnect(conn, code, &reason);
        }
        self.stop_upgrade();
        self.timers.clear();
        let unsent = if closing_behind_in_flight {
            self.outbox.unsent()
        } else {
            self.outbox.len()
        };
        self.outbox.clear();
        if unsent > 0 {
            self.emit(Event::Error(ClientError::QueueDiscarded { count: unsent }));
        }
        self.emit(Event::Close {
            code,
            reason,
            was_clean,
        });
        self.state = State::Closed;
    }

    // ----- output ---------------------------------------------------------------------------

    fn emit(&mut self, event: Event) {
        // Structural guarantee: nothing follows the terminal `Close`.
        if !self.is_closed() {
            self.events.push_back(event);
        }
    }

    fn disconnect(&mut self, conn: ConnId, code: u16, reason: &str) {
        // Browsers throw on close codes other than 1000 and 3000–4999.
        let code = close::transport_code(code);
        let reason = protocol::clip(reason, protocol::MAX_CLOSE_REASON_BYTES).to_owned();
        self.actions
            .push_back(Action::Disconnect { conn, code, reason });
    }

    fn send_now(&mut self, now: Instant, payload: Payload) -> SendOutcome {
        let size = payload.len();
        let limit = self.limits.max_message_bytes;
        if size > limit {
            self.emit(Event::Error(ClientError::MessageTooBig { size, limit }));
            return SendOutcome::Rejected(RejectReason::TooBig);
        }
        match self.outbox.offer(payload) {
            Offer::Accepted { dropped } => {
                if dropped > 0 {
                    self.emit(Event::Error(ClientError::QueueOverflow { dropped }));
                }
            }
            Offer::Full => {
                self.emit(Event::Error(ClientError::QueueFull));
                return SendOutcome::Rejected(RejectReason::QueueFull);
            }
            Offer::Exhausted => {
                // Sequence numbers never wrap (PROTOCOL.md §5): the session ends.
                self.end_session(now, 1011, "sequence numbers exhausted", false);
                return SendOutcome::Rejected(RejectReason::Closed);
            }
        }
        if let State::Open { conn, .. } = self.state {
            self.flush(now, conn);
            return SendOutcome::Sent;
        }
        SendOutcome::Queued
    }

    /// Hands every unsent outbox entry to `conn`, in order. In raw mode there are no acks, so an
    /// entry is done once handed over.
    fn flush(&mut self, now: Instant, conn: ConnId) {
        if !self.mode.is_session() {
            while let Some(p) = self.outbox.pop_unsent() {
                self.count_sent(p.len());
                self.push_send(now, conn, p);
            }
            return;
        }
        while let Some((entry, first)) = self.outbox.transmit_next() {
            let wire = self.mode.data(entry.seq, &entry.payload);
            let len = entry.payload.len();
            if first {
                self.count_sent(len);
            }
            self.push_send(now, conn, wire);
        }
    }

    fn count_sent(&mut self, len: usize) {
        self.stats.messages_sent += 1;
        self.stats.bytes_sent += len as u64;
    }

    /// Ends the session from our side with `code`: CLOSE to the server if open, then terminal.
    fn end_session(&mut self, now: Instant, code: u16, reason: &str, was_clean: bool) {
        let open = matches!(self.state, State::Open { .. });
        if let (State::Open { conn, .. }, true) = (&self.state, self.mode.is_session()) {
            let conn = *conn;
            let frame = Frame::Close(CloseFrame {
                code,
                reason: reason.to_owned(),
            });
            self.send_frame(now, conn, &frame);
            for body in self.link.last_posts() {
                self.actions.push_back(Action::Send {
                    conn,
                    payload: Payload::Binary(body),
                });
            }
        }
        self.terminate_with(code, reason.to_owned(), was_clean, open);
    }

    /// Applies a WELCOME's resume verdict to the session and the outbox (PROTOCOL.md §5).
    fn resume_or_start(&mut self, w: &protocol::Welcome) {
        let asked = self.session.id.clone();
        match (asked, w.resume) {
            (Some(id), ResumeOutcome::Resumed) if id == w.session => {
                // Both sides resend what the other has not acknowledged; duplicates are dropped
                // by seq on arrival.
                self.outbox.ack(w.ack);
                self.outbox.rewind();
            }
            (None, _) => self.session.start(w.session.clone()),
            // Expired, unknown (a restarted server), or a server that answered with another
            // session: what was in flight may be lost either way. Say exactly what, and start
            // the new session with only the messages that never left.
            (Some(_), _) => {
                let last_seq = self.session.inbound.last;
                let messages = self.outbox.take_in_flight();
                let bytes = messages.iter().map(Payload::len).sum();
                self.session.start(w.session.clone());
                self.emit(Event::Gap {
                    messages,
                    bytes,
                    last_seq,
                });
            }
        }
    }

    fn send_frame(&mut self, now: Instant, conn: ConnId, frame: &Frame) {
        self.push_send(now, conn, mode::encode(frame));
    }

    fn push_send(&mut self, now: Instant, conn: ConnId, payload: Payload) {
        if self.data_replaced() {
            // The old connection is gone and the probe's takeover is not answered yet: nothing
            // goes out; the outbox resends after the takeover's WELCOME.
            return;
        }
        self.heartbeat.last_sent = now;
        if !self.link.posts() {
            self.actions.push_back(Action::Send { conn, payload });
            return;
        }
        // Only protocol frames (binary) travel over the HTTP transports (raw mode is WebSocket
        // only), so a text payload cannot occur; its bytes would still be the right frame.
        let frame = match payload {
            Payload::Binary(bytes) => bytes,
            Payload::Text(text) => text.into_bytes(),
        };
        self.link.hold(frame);
        self.post(now, conn);
    }

    fn send_ping(&mut self, now: Instant, conn: ConnId) {
        let id = self.heartbeat.next_ping(now);
        if let Some(ping) = self.mode.ping(id) {
            self.push_send(now, conn, ping);
        }
    }

    fn send_ack(&mut self, now: Instant, conn: ConnId) {
        if self.data_replaced() {
            return; // kept pending: the cutover sends it on the new connection
        }
        self.timers.stop(Timer::Ack);
        if let Some(seq) = self.session.inbound.take_ack() {
            self.send_frame(now, conn, &Frame::Ack { seq });
        }
    }

    /// Sends a ping now and gives the link `freeze_probe_ms` to show life (or keeps an earlier
    /// unexpired deadline).
    fn probe(&mut self, now: Instant, conn: ConnId) {
        if self.ping_enabled() {
            self.send_ping(now, conn);
        }
        let window = now.plus(self.config.freeze_probe_ms);
        let deadline = match self.timers.get(Timer::Liveness) {
            Some(d) if d > now && d < window => d,
            _ => window,
        };
        self.timers.set(Timer::Liveness, deadline);
    }

    fn probe_if_enabled(&mut self, now: Instant, conn: ConnId) {
        if self.liveness_enabled() {
            self.probe(now, conn);
        }
    }

    // ----- upgrade back ---------------------------------------------------------------------

    /// The chain's WebSocket rung, if the session is open below it and probing is on.
    fn upgrade_target(&self) -> Option<usize> {
        let State::Open { transport, .. } = self.state else {
            return None;
        };
        let ws = self
            .config
            .transports
            .iter()
            .position(|t| *t == TransportKind::WebSocket)?;
        (ws < transport && self.mode.is_session() && self.config.upgrade_probe_ms > 0).then_some(ws)
    }

    /// Just opened: schedule the first probe if there is a better rung to climb to.
    fn arm_upgrade(&mut self, now: Instant) {
        self.stop_upgrade();
        if self.upgrade_target().is_some() {
            let delay = self.config.upgrade_probe_ms;
            self.upgrade = Upgrade::Waiting { delay };
            self.timers.set(Timer::Probe, now.plus(delay));
        }
    }

    /// `online` or visible again: a waiting probe goes out now, from a fresh schedule.
    fn upgrade_soon(&mut self, now: Instant) {
        if let Upgrade::Waiting { .. } = self.upgrade {
            self.upgrade = Upgrade::Waiting {
                delay: self.config.upgrade_probe_ms,
            };
            self.start_probe(now);
        }
    }

    /// Drops any probe and the schedule (the session left `Open`, or moved up).
    fn stop_upgrade(&mut self) {
        if let Some(conn) = self.upgrade.probe_conn() {
            self.disconnect(conn, 1000, "probe abandoned");
        }
        self.timers.stop(Timer::Probe);
        self.timers.stop(Timer::ProbeDeadline);
        self.upgrade = Upgrade::Off;
    }

    /// Opens a probe connection to the WebSocket rung; its deadline is that rung's.
    fn start_probe(&mut self, now: Instant) {
        let (Upgrade::Waiting { delay }, Some(target)) = (self.upgrade, self.upgrade_target())
        else {
            return;
        };
        self.timers.stop(Timer::Probe);
        self.next_conn += 1;
        self.stats.probes += 1;
        let conn = ConnId(self.next_conn);
        let kind = self.transport_at(target);
        self.upgrade = Upgrade::Probing {
            conn,
            transport: target,
            phase: ProbePhase::Opening,
            delay,
        };
        self.timers.set(
            Timer::ProbeDeadline,
            now.plus(self.config.connect_timeout_for(kind)),
        );
        self.actions.push_back(Action::Connect {
            conn,
            transport: kind,
            hello: None,
        });
    }

    /// The data connection ended while the probe's takeover is under way (the server closes the
    /// old connection when the takeover reaches it): the probe carries on as the session's only
    /// connection. Returns whether that happened.
    fn hand_over_to_probe(&mut self) -> bool {
        let (
            Upgrade::Probing {
                phase: ProbePhase::TakeOver,
                ..
            },
            State::Open { conn, .. },
        ) = (self.upgrade, &self.state)
        else {
            return false;
        };
        let old = *conn;
        self.disconnect(old, 1000, "replaced by an upgrade");
        self.timers.stop(Timer::Poll);
        self.timers.stop(Timer::Post);
        self.set_probe_phase(ProbePhase::Replacing);
        true
    }

    /// Whether the data connection is gone, replaced by a probe still waiting for its WELCOME.
    fn data_replaced(&self) -> bool {
        matches!(
            self.upgrade,
            Upgrade::Probing {
                phase: ProbePhase::Replacing,
                ..
            }
        )
    }

    /// The probe failed (refused, closed, silent, wrong answer): it costs nothing but its slot
    /// in the schedule, which backs off — unless it had already replaced the data connection,
    /// in which case the session lost its connection and reconnects.
    fn probe_failed(&mut self, now: Instant) {
        let Upgrade::Probing {
            conn, delay, phase, ..
        } = self.upgrade
        else {
            return;
        };
        if phase == ProbePhase::Replacing {
            let why = "the upgrade failed after the old connection had closed";
            self.stop_upgrade();
            return self.lost(
                now,
                DisconnectReason::Failed(TransportError::Network(why.to_owned())),
            );
        }
        self.disconnect(conn, 1000, "probe failed");
        self.timers.stop(Timer::ProbeDeadline);
        let delay = Upgrade::backed_off(delay, self.config.upgrade_probe_max_ms);
        self.upgrade = Upgrade::Waiting { delay };
        self.timers.set(Timer::Probe, now.plus(delay));
    }

    /// Something happened on the probe connection.
    fn on_probe_input(&mut self, now: Instant, input: Input) {
        let Upgrade::Probing {
            conn,
            transport,
            phase,
            ..
        } = self.upgrade
        else {
            return;
        };
        match (phase, input) {
            (ProbePhase::Opening, Input::Opened { .. }) => {
                let Frame::Hello(hello) = self.hello() else {
                    return;
                };
                let probe = Frame::Hello(Hello {
                    probe: true,
                    ..hello
                });
                self.actions.push_back(Action::Send {
                    conn,
                    payload: mode::encode(&probe),
                });
                self.set_probe_phase(ProbePhase::Hello);
            }
            (
                ProbePhase::Hello | ProbePhase::TakeOver | ProbePhase::Replacing,
                Input::Received { payload, .. },
            ) => {
                let welcome = match self.mode.receive(payload, &self.limits) {
                    Received::Frame(Frame::Welcome(w)) => w,
                    // The server's ping before the takeover completes, a frame type from the
                    // future: not an answer yet.
                    Received::Frame(Frame::Ping { .. } | Frame::Pong { .. })
                    | Received::Ignored => return,
                    _ => return self.probe_failed(now),
                };
                let ours = self.session.id.as_deref() == Some(welcome.session.as_str())
                    && welcome.resume == ResumeOutcome::Resumed
                    && welcome.version == protocol::VERSION;
                match (phase, ours) {
                    (ProbePhase::Hello, true) => {
                        // Trusted: take the session over on this connection with a plain
                        // resume, from what has been delivered by now.
                        let hello = self.hello();
                        self.actions.push_back(Action::Send {
                            conn,
                            payload: mode::encode(&hello),
                        });
                        self.set_probe_phase(ProbePhase::TakeOver);
                    }
                    // Resumed or not (the session may have expired in between; then the resume
                    // reports a gap like any other), this connection now has the session.
                    (ProbePhase::TakeOver | ProbePhase::Replacing, _) => {
                        self.cut_over(now, conn, transport, &welcome)
                    }
                    (ProbePhase::Opening | ProbePhase::Hello, _) => self.probe_failed(now),
                }
            }
            (_, Input::Closed { .. } | Input::Failed { .. }) => self.probe_failed(now),
            // Nothing else is expected on a probe; a stray input changes nothing.
            _ => {}
        }
    }

    fn set_probe_phase(&mut self, next: ProbePhase) {
        if let Upgrade::Probing { phase, .. } = &mut self.upgrade {
            *phase = next;
        }
    }

    /// The takeover's WELCOME arrived on the probe: it becomes the data connection. The old one
    /// is closed; whatever it had in flight either way is resent by the resume (the server's
    /// after our `last_seq`, ours after its `ack`), and duplicates are dropped by seq.
    fn cut_over(&mut self, now: Instant, conn: ConnId, target: usize, w: &protocol::Welcome) {
        let State::Open {
            conn: old,
            transport: from,
            since,
            attempt,
        } = self.state
        else {
            return;
        };
        self.disconnect(old, 1000, "upgrade");
        self.timers.stop(Timer::ProbeDeadline);
        self.timers.stop(Timer::Poll);
        self.timers.stop(Timer::Post);
        self.upgrade = Upgrade::Off;
        self.state = State::Open {
            conn,
            transport: target,
            since,
            attempt,
        };
        self.link = Link::new(self.transport_at(target));
        self.rung_failures = 0;
        self.resume_or_start(w);
        self.adopt(now, Some(w));
        self.flush(now, conn);
        // What arrived on the old connection after the takeover HELLO left is acknowledged
        // here (its ACK may have been due while the old connection was already gone).
        self.send_ack(now, conn);
        let (from, to) = (self.transport_at(from), self.transport_at(target));
        self.emit(Event::Transport {
            from,
            to,
            reason: DisconnectReason::Upgrade,
        });
    }
}

/// The connection an input is about, if any.
fn input_conn(input: &Input) -> Option<ConnId> {
    match input {
        Input::Opened { conn }
        | Input::Received { conn, .. }
        | Input::Oversized { conn, .. }
        | Input::Sent { conn }
        | Input::Polled { conn, .. }
        | Input::Closed { conn, .. }
        | Input::Failed { conn, .. } => Some(*conn),
        Input::Connect
        | Input::Close { .. }
        | Input::Online
        | Input::Offline
        | Input::Visible
        | Input::Hidden
        | Input::Suspend
        | Input::Resumed => None,
    }
}
