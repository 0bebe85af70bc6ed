//! A simulated clock and a scripted fake transport for driving the pure core
//! (quinn-proto `Pair`/`drive` style): every timing rule is tested instantly.
//!
//! `Sim` checks invariants after every call: at most one data connection and one probe, no event after
//! `Close`, and every armed timer strictly in the future and finite.
#![allow(dead_code)]

use holdfast::config::{Config, TransportKind};
use holdfast::core::{Action, ConnId, Event, Input, Instant, Machine, Payload, SendOutcome};
use holdfast::protocol::{self, Decoded, Frame, Limits, ResumeOutcome, Welcome};
use std::collections::BTreeSet;

pub struct Sim {
    pub m: Machine,
    pub now: u64,
    /// Every action ever emitted, in order.
    pub actions: Vec<Action>,
    /// Every event ever emitted, in order.
    pub events: Vec<Event>,
    /// Connections the glue would hold open right now.
    pub live: BTreeSet<ConnId>,
    closed_seen: bool,
    /// Index into `actions`/`events` of what `take_*` already returned.
    action_mark: usize,
    event_mark: usize,
}

impl Sim {
    /// A machine with `config` and jitter fixed at `sample` (0.999 ≈ the ceiling).
    pub fn with_jitter(config: Config, sample: f64) -> Sim {
        let m = Machine::new(config, 1).unwrap().with_jitter(move || sample);
        Sim::from_machine(m)
    }

    pub fn new(config: Config) -> Sim {
        Sim::with_jitter(config, 0.5)
    }

    pub fn from_machine(m: Machine) -> Sim {
        Sim {
            m,
            now: 0,
            actions: vec![],
            events: vec![],
            live: BTreeSet::new(),
            closed_seen: false,
            action_mark: 0,
            event_mark: 0,
        }
    }

    pub fn at(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    pub fn input(&mut self, input: Input) {
        // A transport-originated end makes that connection dead on the glue side too.
        match &input {
            Input::Closed { conn, .. } | Input::Failed { conn, .. } => {
                self.live.remove(conn);
            }
            _ => {}
        }
        self.m.handle_input(self.at(), input);
        self.drain();
    }

    pub fn send(&mut self, p: Payload) -> SendOutcome {
        let out = self.m.send(self.at(), p);
        self.drain();
        out
    }

    pub fn send_text(&mut self, s: &str) -> SendOutcome {
        self.send(Payload::Text(s.to_owned()))
    }

    /// Calls `handle_timeout` at the current time (a timer firing, maybe late or spuriously).
    pub fn fire(&mut self) {
        self.m.handle_timeout(self.at());
        self.drain();
    }

    /// Advances the clock by `ms`, firing every timer exactly at its deadline on the way
    /// (a well-behaved, unthrottled browser).
    pub fn advance(&mut self, ms: u64) {
        let target = self.now + ms;
        while let Some(t) = self.m.poll_timeout() {
            if t.as_millis() > target {
                break;
            }
            self.now = t.as_millis();
            self.fire();
        }
        self.now = target;
    }

    /// Jumps the clock by `ms` with no call at all (frozen page, throttled timer); the next call
    /// sees the whole gap at once.
    pub fn jump(&mut self, ms: u64) {
        self.now += ms;
    }

    fn drain(&mut self) {
        while let Some(a) = self.m.poll_action() {
            match &a {
                Action::Connect { conn, .. } => {
                    assert!(
                        self.live.len() < 2,
                        "third live connection {conn:?} while {:?} live",
                        self.live
                    );
                    self.live.insert(*conn);
                }
                Action::Disconnect { conn, .. } => {
                    self.live.remove(conn);
                }
                Action::Send { conn, .. } | Action::Poll { conn, .. } => {
                    assert!(
                        self.live.contains(conn),
                        "send on a dead connection {conn:?}"
                    );
                }
            }
            self.actions.push(a);
        }
        // At most one data connection and at most one probe (upgrade back): every connection
        // the glue holds is one of the two.
        let roles = [self.m.state().conn(), self.m.upgrade().probe_conn()];
        for conn in &self.live {
            assert!(
                roles.contains(&Some(*conn)),
                "live connection {conn:?} is neither the data connection nor the probe: {:?}",
                self.m.state()
            );
        }
        while let Some(e) = self.m.poll_event() {
            assert!(!self.closed_seen, "event after Close: {e:?}");
            if matches!(e, Event::Close { .. }) {
                self.closed_seen = true;
            }
            self.events.push(e);
        }
        if let Some(t) = self.m.poll_timeout() {
            assert!(
                t.as_millis() > self.now,
                "timer armed for the past: {t:?} at {}",
                self.now
            );
            assert!(
                t.as_millis() - self.now < (1u64 << 31),
                "timer too far: {t:?}"
            );
        }
        if self.closed_seen {
            assert!(self.m.poll_timeout().is_none(), "timer after close");
        }
    }

    /// Actions emitted since the last call.
    pub fn take_actions(&mut self) -> Vec<Action> {
        let out = self.actions[self.action_mark..].to_vec();
        self.action_mark = self.actions.len();
        out
    }

    /// Events emitted since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        let out = self.events[self.event_mark..].to_vec();
        self.event_mark = self.events.len();
        out
    }

    /// The most recent `Connect` action's connection.
    pub fn last_conn(&self) -> ConnId {
        self.actions
            .iter()
            .rev()
            .find_map(|a| match a {
                Action::Connect { conn, .. } => Some(*conn),
                _ => None,
            })
            .expect("no Connect action yet")
    }

    pub fn connects(&self) -> usize {
        self.actions
            .iter()
            .filter(|a| matches!(a, Action::Connect { .. }))
            .count()
    }

    /// Frames the client sent on `conn` (protocol mode), decoded.
    pub fn frames_sent(&self, conn: ConnId) -> Vec<Frame> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Send {
                    conn: c,
                    payload: Payload::Binary(b),
                } if *c == conn => match protocol::decode(b, &Limits::default()).unwrap() {
                    Decoded::Frame(f) => Some(f),
                    Decoded::Unknown(_) => None,
                },
                _ => None,
            })
            .collect()
    }

    pub fn pings_sent(&self, conn: ConnId) -> Vec<u64> {
        self.frames_sent(conn)
            .into_iter()
            .filter_map(|f| match f {
                Frame::Ping { id } => Some(id),
                _ => None,
            })
            .collect()
    }

    /// Data payloads the client sent on any connection, in order (protocol mode).
    pub fn data_sent(&self) -> Vec<(u64, String)> {
        let conns: Vec<ConnId> = self
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Connect { conn, .. } => Some(*conn),
                _ => None,
            })
            .collect();
        conns
            .into_iter()
            .flat_map(|c| self.frames_sent(c))
            .filter_map(|f| match f {
                Frame::Text { seq, text } => Some((seq, text)),
                _ => None,
            })
            .collect()
    }

    /// Feeds `frame` from the server on `conn`.
    pub fn server(&mut self, conn: ConnId, frame: Frame) {
        self.input(Input::Received {
            conn,
            payload: Payload::Binary(protocol::encode(&frame)),
        });
    }

    /// Opens the transport of the latest attempt and completes the handshake.
    pub fn open(&mut self) -> ConnId {
        let conn = self.last_conn();
        self.input(Input::Opened { conn });
        self.server(conn, welcome());
        conn
    }

    /// Fails the latest attempt with a network error.
    pub fn fail(&mut self) -> ConnId {
        let conn = self.last_conn();
        self.input(Input::Failed {
            conn,
            error: holdfast::core::TransportError::Network("refused".into()),
        });
        conn
    }

    /// Closes the latest connection from the network side.
    pub fn drop_conn(&mut self) -> ConnId {
        let conn = self.last_conn();
        self.input(Input::Closed {
            conn,
            code: 1006,
            reason: String::new(),
        });
        conn
    }

    /// Why each `Reconnecting` event happened, in order.
    pub fn reconnect_reasons(&self) -> Vec<holdfast::core::DisconnectReason> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Reconnecting { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn reconnecting_delays(&self) -> Vec<u64> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Reconnecting { delay_ms, .. } => Some(*delay_ms),
                _ => None,
            })
            .collect()
    }

    pub fn close_events(&self) -> Vec<&Event> {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Close { .. }))
            .collect()
    }

    pub fn messages(&self) -> Vec<Payload> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Message(p) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn opens(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Open { .. }))
            .count()
    }
}

/// A WELCOME like the test profile's: server ping 1 s (below every client timeout used here),
/// a generous idle timeout.
pub fn welcome() -> Frame {
    Frame::Welcome(Welcome {
        version: 1,
        session: "s1".into(),
        resume: ResumeOutcome::New,
        ack: 0,
        ping_interval_ms: 1_000,
        idle_timeout_ms: 60_000,
        max_message_bytes: 1 << 20,
    })
}

/// Opens the polling connection just attempted: the poll-open POST answered with a batch
/// holding WELCOME.
#[allow(dead_code)] // not every test binary that includes `sim` polls
pub fn open_poll(s: &mut Sim) -> ConnId {
    let conn = s.last_conn();
    s.input(Input::Opened { conn });
    s.input(Input::Polled {
        conn,
        body: protocol::encode_batch(&[welcome()]),
    });
    conn
}

/// The default config on a WebSocket-only chain: the sim's links behave like WebSockets.
pub fn ws_only() -> Config {
    Config {
        transports: vec![TransportKind::WebSocket],
        ..Config::default()
    }
}

/// A small, fast config for timing tests: interval 1 s, timeout 2.5 s, connect 2 s,
/// backoff 100 ms → 1600 ms, min uptime 5 s; WebSocket only.
pub fn fast() -> Config {
    Config {
        transports: vec![TransportKind::WebSocket],
        heartbeat_interval_ms: 1_000,
        heartbeat_timeout_ms: 2_500,
        freeze_probe_ms: 500,
        connect_timeout_ms: 2_000,
        reconnect_delay_ms: 100,
        reconnect_max_delay_ms: 1_600,
        min_uptime_ms: 5_000,
        ..Config::default()
    }
}

/// A sim that connected and opened once with a WELCOME changed by `edit` (hostile or unusual
/// server announcements).
pub fn opened_with_welcome(config: Config, edit: impl FnOnce(&mut Welcome)) -> (Sim, ConnId) {
    let mut s = Sim::new(config);
    s.input(Input::Connect);
    let c = s.last_conn();
    s.input(Input::Opened { conn: c });
    let mut w = match welcome() {
        Frame::Welcome(w) => w,
        _ => unreachable!(),
    };
    edit(&mut w);
    s.server(c, Frame::Welcome(w));
    (s, c)
}

/// A sim that has connected and opened once.
pub fn opened(config: Config) -> (Sim, ConnId) {
    let mut s = Sim::new(config);
    s.input(Input::Connect);
    let c = s.open();
    (s, c)
}
