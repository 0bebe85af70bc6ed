//! The simulated pair: the client `Machine` and the reference server's pure `ServerSession`,
//! joined by a simulated link that delays, drops, black-holes and kills connections, on one
//! clock (quinn-proto's `Pair` is the model). Both apps stream numbered messages while a random
//! fault schedule runs; a forced server restart (every session forgotten) is one of the faults.
//!
//! The property, for every schedule: every message either side accepted is delivered to the
//! other side's app exactly once and in order — except, after a forced expiry, the ones the
//! client's single `gap` event names (exactly the client's unacknowledged messages of the old
//! session) and the server messages after the gap's `last_seq`; the client outbox and the server
//! log stay within their bounds at every step.
#![cfg(not(target_arch = "wasm32"))]

mod sim;

use holdfast::config::{Config, TransportKind};
use holdfast::core::{Action, ConnId, Event, Input, Instant, Payload, SendOutcome};
use holdfast::protocol::{
    decode, encode, encode_base64, split_batch, Decoded, ErrorCode, ErrorFrame, Frame, Limits,
};
use holdfast_server::{Message, Output, ServerSession, SessionConfig, SessionState};
use proptest::prelude::*;
use sim::{fast, Sim};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// A fault the schedule injects at some instant.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The current connection closes abruptly on both ends (in-flight frames lost).
    Drop,
    /// The current connection silently stops carrying anything, both ways; nobody is told.
    BlackHole,
    /// The client's end closes; the server is not told (its socket is half-open until a resume
    /// takes over or the idle timeout fires).
    KillClientSide,
    /// The server forgets every session (a restart): its connections drop, resumes fail.
    Restart,
    /// One-way latency becomes this many ms.
    Latency(u64),
    /// New WebSocket connections are refused (a proxy that blocks them) / work again.
    BlockWs(bool),
    /// The upgrade probe, if one is out, dies (both ends).
    KillProbe,
    /// The data connection and the probe both die at once.
    DropBoth,
}

/// Faults for runs that start on SSE with WebSocket blocked and upgrade back when unblocked.
fn upgrade_fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        3 => Just(Fault::Drop),
        1 => Just(Fault::BlackHole),
        1 => Just(Fault::KillClientSide),
        3 => any::<bool>().prop_map(Fault::BlockWs),
        3 => Just(Fault::KillProbe),
        2 => Just(Fault::DropBoth),
        1 => (1u64..300).prop_map(Fault::Latency),
    ]
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        4 => Just(Fault::Drop),
        2 => Just(Fault::BlackHole),
        2 => Just(Fault::KillClientSide),
        1 => Just(Fault::Restart),
        2 => (1u64..300).prop_map(Fault::Latency),
    ]
}

const LIMITS: Limits = Limits {
    max_message_bytes: 1 << 20,
};

/// Which way a frame travels.
#[derive(Debug, Clone, Copy)]
enum Direction {
    /// Client → server.
    Up,
    /// Server → client.
    Down,
}

/// One simulated connection: a WebSocket, or an SSE stream with its POSTs.
struct Link {
    /// WebSocket (one message per frame) or SSE (base64 events down, batched POSTs up).
    kind: TransportKind,
    /// Client → server frames in flight, with their arrival time.
    up: VecDeque<(u64, Vec<u8>)>,
    /// Server → client frames in flight.
    down: VecDeque<(u64, Vec<u8>)>,
    /// The server-side session and attachment this connection attached to, once HELLO arrived.
    attached: Option<(String, u64)>,
    /// Carries nothing any more (black hole, or closed).
    dead: bool,
    /// The client was told it closed (or closed it itself).
    client_gone: bool,
    /// When the client learns its transport opened.
    opens_at: Option<u64>,
}

struct Pair {
    now: u64,
    latency: u64,
    client: Sim,
    links: BTreeMap<ConnId, Link>,
    sessions: HashMap<String, ServerSession>,
    /// Which connection each session's current attachment is.
    attached_conn: HashMap<String, ConnId>,
    session_config: SessionConfig,
    next_session: u64,
    /// Client transport ends to report: (when, conn).
    client_closes: Vec<(u64, ConnId)>,
    /// SSE POSTs whose answer the client gets then: (when, conn).
    posts_due: Vec<(u64, ConnId)>,
    /// New WebSocket connections are refused.
    ws_blocked: bool,
    /// Times the client moved up to WebSocket.
    upgrades: usize,

    // --- the apps ---
    /// Client messages accepted by `send`, by number.
    client_accepted: Vec<u64>,
    next_client_msg: u64,
    /// Client message numbers the server app received, in order.
    server_got: Vec<u64>,
    /// Server messages accepted by `ServerSession::send`: (session, seq, number).
    server_accepted: Vec<(String, u64, u64)>,
    next_server_msg: u64,
    /// Server message numbers the client app received, in order.
    client_got: Vec<u64>,
    /// Per client session (by id): data frames the client transmitted (seq → number) and the
    /// highest ack it heard, to check a gap's list exactly.
    client_tx: HashMap<String, BTreeMap<u64, u64>>,
    client_acked: HashMap<String, u64>,
    gaps: Vec<(Vec<u64>, u64, String)>,
    /// The client's session id after its previous call (a gap names the one it replaced).
    seen_session: Option<String>,
    restarts: usize,
    max_log: usize,
}

fn number(p: &Payload) -> u64 {
    match p {
        Payload::Text(t) => t.trim_start_matches(['c', 's']).parse().unwrap_or(u64::MAX),
        Payload::Binary(_) => u64::MAX,
    }
}

impl Pair {
    fn new(client_config: Config, ws_blocked: bool) -> Pair {
        let session_config = SessionConfig {
            ping_interval_ms: 1_000,
            idle_timeout_ms: 2_500,
            ttl_ms: 60_000,
            max_log_messages: 4_096,
            max_log_bytes: 1 << 22,
            max_message_bytes: 1 << 20,
        };
        let client = Sim::new(client_config);
        let mut p = Pair {
            now: 0,
            latency: 20,
            client,
            links: BTreeMap::new(),
            sessions: HashMap::new(),
            attached_conn: HashMap::new(),
            session_config,
            next_session: 0,
            client_closes: vec![],
            posts_due: vec![],
            ws_blocked: false,
            upgrades: 0,
            client_accepted: vec![],
            next_client_msg: 0,
            server_got: vec![],
            server_accepted: vec![],
            next_server_msg: 0,
            client_got: vec![],
            client_tx: HashMap::new(),
            client_acked: HashMap::new(),
            gaps: vec![],
            seen_session: None,
            restarts: 0,
            max_log: 0,
        };
        p.ws_blocked = ws_blocked;
        p.client.input(Input::Connect);
        p.route_client();
        p
    }

    fn at(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    fn current_conn(&self) -> Option<ConnId> {
        self.client.m.state().conn()
    }

    // ----- client side ------------------------------------------------------------------------

    fn client_input(&mut self, input: Input) {
        self.client.now = self.now;
        self.client.input(input);
        self.route_client();
    }

    /// Routes the client's new actions onto the links and records its new events.
    fn route_client(&mut self) {
        for a in self.client.take_actions() {
            match a {
                Action::Connect {
                    conn,
                    transport,
                    hello,
                } => {
                    let at = self.now + self.latency;
                    let refused = transport == TransportKind::WebSocket && self.ws_blocked;
                    let mut link = Link {
                        kind: transport,
                        up: VecDeque::new(),
                        down: VecDeque::new(),
                        attached: None,
                        dead: refused,
                        client_gone: false,
                        opens_at: (!refused).then_some(at),
                    };
                    if refused {
                        self.client_closes.push((at, conn));
                    }
                    // SSE carries HELLO in its opening request.
                    if let (Some(hello), false) = (hello, refused) {
                        link.up.push_back((at, hello));
                    }
                    self.links.insert(conn, link);
                }
                Action::Send { conn, payload } => {
                    let Payload::Binary(bytes) = payload else {
                        panic!("protocol mode sends binary frames")
                    };
                    let sse = self
                        .links
                        .get(&conn)
                        .is_some_and(|l| l.kind == TransportKind::Sse);
                    let frames: Vec<Vec<u8>> = if sse {
                        let batch = split_batch(&bytes).expect("the client POSTs batches");
                        batch.into_iter().map(<[u8]>::to_vec).collect()
                    } else {
                        vec![bytes]
                    };
                    let at = self.now + self.latency;
                    for frame in frames {
                        if let Ok(Decoded::Frame(Frame::Text { seq, text })) =
                            decode(&frame, &LIMITS)
                        {
                            if let Some(id) = self.client.m.session_id() {
                                self.client_tx
                                    .entry(id.to_owned())
                                    .or_default()
                                    .insert(seq, number(&Payload::Text(text)));
                            }
                        }
                        if let Some(link) = self.links.get_mut(&conn) {
                            if !link.dead {
                                link.up.push_back((at, frame));
                            }
                        }
                    }
                    if sse {
                        // The POST's answer comes back a round trip later.
                        self.posts_due.push((at + self.latency, conn));
                    }
                }
                Action::Poll { .. } => panic!("the pair simulates WebSocket links only"),
                Action::Disconnect { conn, .. } => {
                    if let Some(link) = self.links.get_mut(&conn) {
                        link.client_gone = true;
                        if !link.dead {
                            // The server hears the close after the latency.
                            link.dead = true;
                            link.up.push_back((self.now + self.latency, vec![]));
                        }
                    }
                }
            }
        }
        for e in self.client.take_events() {
            match e {
                Event::Message(p) => self.client_got.push(number(&p)),
                Event::Transport {
                    to: TransportKind::WebSocket,
                    reason: holdfast::core::DisconnectReason::Upgrade,
                    ..
                } => self.upgrades += 1,
                Event::Gap {
                    messages, last_seq, ..
                } => {
                    let old = self.seen_session.clone().unwrap_or_default();
                    self.gaps
                        .push((messages.iter().map(number).collect(), last_seq, old));
                }
                _ => {}
            }
        }
        self.seen_session = self.client.m.session_id().map(str::to_owned);
    }

    // ----- server side ------------------------------------------------------------------------

    /// Drains a session's outputs onto its attached connection and into the server app.
    fn route_session(&mut self, id: &str) {
        let Some(session) = self.sessions.get_mut(id) else {
            return;
        };
        let conn = self.attached_conn.get(id).copied();
        let mut disconnect = false;
        while let Some(out) = session.poll_output() {
            match out {
                Output::Deliver(m) => self.server_got.push(match m {
                    Message::Text(t) => number(&Payload::Text(t)),
                    Message::Binary(_) => u64::MAX,
                }),
                Output::Transmit(frame) => {
                    if let Some(link) = conn.and_then(|c| self.links.get_mut(&c)) {
                        if !link.dead {
                            link.down
                                .push_back((self.now + self.latency, encode(&frame)));
                        }
                    }
                }
                Output::Disconnect { .. } => disconnect = true,
            }
        }
        self.max_log = self.max_log.max(session.log_len());
        if disconnect {
            if let Some(c) = conn {
                self.attached_conn.remove(id);
                if let Some(link) = self.links.get_mut(&c) {
                    if !link.dead {
                        // Frames already written still arrive; then the close.
                        link.dead = true;
                        let last = link.down.back().map_or(self.now, |(t, _)| *t);
                        self.client_closes
                            .push((last.max(self.now + self.latency), c));
                    }
                }
            }
        }
        if matches!(session.state(), SessionState::Ended { .. }) {
            self.sessions.remove(id);
            self.attached_conn.remove(id);
        }
    }

    /// A frame (or, empty, the client's close) arrived at the server on `conn`.
    fn server_receive(&mut self, conn: ConnId, bytes: Vec<u8>) {
        let now = self.at();
        let attached = self.links.get(&conn).and_then(|l| l.attached.clone());
        match attached {
            None if bytes.is_empty() => {}
            None => {
                let Ok(Decoded::Frame(Frame::Hello(hello))) = decode(&bytes, &LIMITS) else {
                    return;
                };
                if hello.probe {
                    // Answered without attaching (PROTOCOL.md §4 "Probes").
                    let answer = hello
                        .session
                        .as_deref()
                        .and_then(|id| self.sessions.get(id))
                        .and_then(ServerSession::probe_welcome)
                        .map(Frame::Welcome)
                        .unwrap_or(Frame::Error(ErrorFrame {
                            code: ErrorCode::SessionUnknown,
                            message: String::new(),
                            retry_after_ms: 0,
                        }));
                    if let Some(link) = self.links.get_mut(&conn) {
                        if !link.dead {
                            link.down
                                .push_back((self.now + self.latency, encode(&answer)));
                        }
                    }
                    return;
                }
                let known = hello
                    .session
                    .clone()
                    .filter(|id| self.sessions.contains_key(id));
                let id = match known {
                    Some(id) => id,
                    None => {
                        self.next_session += 1;
                        let id = format!("S{}", self.next_session);
                        let s = ServerSession::new(id.clone(), self.session_config.clone(), now);
                        self.sessions.insert(id.clone(), s);
                        id
                    }
                };
                let Some(session) = self.sessions.get_mut(&id) else {
                    return;
                };
                // A takeover leaves an old WebSocket half-open (its frames go nowhere now); an
                // old SSE stream is ended by the server, as the reference server's link does —
                // and that end can reach the client before the takeover's WELCOME.
                if let Some(old) = self.attached_conn.insert(id.clone(), conn) {
                    let at = self.now + self.latency;
                    if let Some(link) = self.links.get_mut(&old) {
                        link.attached = None;
                        if link.kind == TransportKind::Sse && !link.dead {
                            link.dead = true;
                            self.client_closes.push((at, old));
                        }
                    }
                }
                let attachment = session.attach(now, &hello);
                if let Some(link) = self.links.get_mut(&conn) {
                    link.attached = Some((id.clone(), attachment));
                }
                self.route_session(&id);
            }
            Some((id, attachment)) => {
                if let Some(session) = self.sessions.get_mut(&id) {
                    if bytes.is_empty() {
                        session.detach(now, attachment);
                        if self.attached_conn.get(&id) == Some(&conn) {
                            self.attached_conn.remove(&id);
                        }
                    } else if session.state() == (&SessionState::Attached { attachment }) {
                        session.handle_bytes(now, &bytes);
                    }
                }
                self.route_session(&id);
            }
        }
    }

    // ----- faults -----------------------------------------------------------------------------

    /// Kills `conn` on both ends: the client learns of it now, the server detaches.
    fn kill(&mut self, conn: ConnId) {
        let now = self.at();
        let Some(link) = self.links.get_mut(&conn) else {
            return;
        };
        if link.dead {
            return;
        }
        link.dead = true;
        link.down.clear();
        link.up.clear();
        let attached = link.attached.clone();
        self.client_closes.push((self.now, conn));
        if let Some((id, attachment)) = attached {
            if let Some(s) = self.sessions.get_mut(&id) {
                s.detach(now, attachment);
            }
            self.route_session(&id);
        }
    }

    fn inject(&mut self, f: Fault) {
        match f {
            Fault::Latency(ms) => self.latency = ms,
            Fault::BlockWs(on) => self.ws_blocked = on,
            Fault::KillProbe | Fault::DropBoth => {
                if let Some(probe) = self.client.m.upgrade().probe_conn() {
                    self.kill(probe);
                }
                if let (Fault::DropBoth, Some(data)) = (f, self.current_conn()) {
                    self.kill(data);
                }
            }
            Fault::Restart => {
                self.restarts += 1;
                let ids: Vec<String> = self.sessions.keys().cloned().collect();
                for id in ids {
                    if let Some(s) = self.sessions.get_mut(&id) {
                        s.abandon(1012, "restart");
                    }
                    self.route_session(&id);
                }
                self.sessions.clear();
            }
            Fault::Drop | Fault::BlackHole | Fault::KillClientSide => {
                let Some(conn) = self.current_conn() else {
                    return;
                };
                if matches!(f, Fault::Drop) {
                    return self.kill(conn);
                }
                let Some(link) = self.links.get_mut(&conn) else {
                    return;
                };
                if link.dead {
                    return;
                }
                link.dead = true;
                link.down.clear();
                // A client-side kill leaves the server's socket up: what the client already
                // wrote still arrives there (possibly after the client resumed elsewhere).
                if !matches!(f, Fault::KillClientSide) {
                    link.up.clear();
                }
                if matches!(f, Fault::KillClientSide) {
                    self.client_closes.push((self.now, conn));
                }
            }
        }
    }

    // ----- the clock --------------------------------------------------------------------------

    /// The next frame on `conn` in `dir` whose arrival time has come, if any.
    fn pop_due(&mut self, conn: ConnId, dir: Direction) -> Option<Vec<u8>> {
        let link = self.links.get_mut(&conn)?;
        let queue = match dir {
            Direction::Up => &mut link.up,
            Direction::Down => &mut link.down,
        };
        if queue.front().is_some_and(|(t, _)| *t <= self.now) {
            queue.pop_front().map(|(_, bytes)| bytes)
        } else {
            None
        }
    }

    /// The next instant anything happens, at or after `now`.
    fn next_event(&self, app_due: Option<u64>, fault_due: Option<u64>) -> Option<u64> {
        let mut t: Option<u64> = None;
        let mut consider = |x: Option<u64>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        consider(self.client.m.poll_timeout().map(Instant::as_millis));
        for s in self.sessions.values() {
            consider(s.poll_timeout().map(Instant::as_millis));
        }
        for l in self.links.values() {
            consider(l.up.front().map(|(t, _)| *t));
            consider(l.down.front().map(|(t, _)| *t));
            consider(l.opens_at);
        }
        consider(self.client_closes.iter().map(|(t, _)| *t).min());
        consider(self.posts_due.iter().map(|(t, _)| *t).min());
        consider(app_due);
        consider(fault_due);
        t.map(|t| t.max(self.now))
    }

    /// Runs everything due at `now`.
    fn step_at_now(&mut self) {
        let now = self.now;
        // Transport opens and closes the client learns about.
        let opens: Vec<ConnId> = self
            .links
            .iter()
            .filter(|(_, l)| l.opens_at.is_some_and(|t| t <= now))
            .map(|(c, _)| *c)
            .collect();
        for c in opens {
            if let Some(l) = self.links.get_mut(&c) {
                l.opens_at = None;
                if l.dead || l.client_gone {
                    continue;
                }
            }
            self.client_input(Input::Opened { conn: c });
        }
        let (due, later): (Vec<_>, Vec<_>) =
            self.client_closes.drain(..).partition(|(t, _)| *t <= now);
        self.client_closes = later;
        for (_, c) in due {
            let gone = self.links.get(&c).is_none_or(|l| l.client_gone);
            if let Some(l) = self.links.get_mut(&c) {
                l.client_gone = true;
                l.down.clear();
            }
            if !gone {
                self.client_input(Input::Closed {
                    conn: c,
                    code: 1006,
                    reason: String::new(),
                });
            }
        }
        // POST answers: `204` if the link still carries anything (a black-holed one never
        // answers; the client's POST deadline decides).
        let (due, later): (Vec<_>, Vec<_>) = self.posts_due.drain(..).partition(|(t, _)| *t <= now);
        self.posts_due = later;
        for (_, c) in due {
            if self
                .links
                .get(&c)
                .is_some_and(|l| !l.dead && !l.client_gone)
            {
                self.client_input(Input::Sent { conn: c });
            }
        }
        // Frames that arrive now, in link order.
        let conns: Vec<ConnId> = self.links.keys().copied().collect();
        for c in conns {
            while let Some(bytes) = self.pop_due(c, Direction::Down) {
                if self.links.get(&c).is_some_and(|l| l.client_gone) {
                    continue;
                }
                let sse = self
                    .links
                    .get(&c)
                    .is_some_and(|l| l.kind == TransportKind::Sse);
                let payload = if sse {
                    Payload::Text(encode_base64(&bytes))
                } else {
                    Payload::Binary(bytes.clone())
                };
                self.client_input(Input::Received { conn: c, payload });
                // What the client has heard acknowledged in its session (a gap must list
                // exactly the rest).
                let acked = match decode(&bytes, &LIMITS) {
                    Ok(Decoded::Frame(Frame::Ack { seq })) => Some(seq),
                    Ok(Decoded::Frame(Frame::Welcome(w))) => Some(w.ack),
                    _ => None,
                };
                if let (Some(seq), Some(id)) = (acked, self.client.m.session_id()) {
                    let a = self.client_acked.entry(id.to_owned()).or_default();
                    *a = (*a).max(seq);
                }
            }
            while let Some(bytes) = self.pop_due(c, Direction::Up) {
                self.server_receive(c, bytes);
            }
        }
        // Timers.
        if self
            .client
            .m
            .poll_timeout()
            .is_some_and(|t| t.as_millis() <= now)
        {
            self.client.now = now;
            self.client.fire();
            self.route_client();
        }
        let ids: Vec<String> = self.sessions.keys().cloned().collect();
        for id in ids {
            if let Some(s) = self.sessions.get_mut(&id) {
                if s.poll_timeout().is_some_and(|t| t.as_millis() <= now) {
                    s.handle_timeout(Instant::from_millis(now));
                }
            }
            self.route_session(&id);
        }
    }

    fn client_send(&mut self) -> bool {
        let n = self.next_client_msg;
        self.client.now = self.now;
        let out = self.client.send(Payload::Text(format!("c{n}")));
        self.route_client();
        match out {
            SendOutcome::Sent | SendOutcome::Queued => {
                self.client_accepted.push(n);
                self.next_client_msg += 1;
                true
            }
            SendOutcome::Rejected(_) => false,
        }
    }

    fn server_send(&mut self) {
        // The app talks to the client's current session, if the server has it.
        let Some(id) = self.client.m.session_id().map(str::to_owned) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let n = self.next_server_msg;
        if let Ok(seq) = s.send(
            Instant::from_millis(self.now),
            Message::Text(format!("s{n}")),
        ) {
            self.server_accepted.push((id.clone(), seq, n));
            self.next_server_msg += 1;
        }
        self.route_session(&id);
    }
}

/// Runs one schedule and checks the property. Returns (client delivered, server delivered,
/// gaps) for reporting.
fn run(
    faults: Vec<(u64, Fault)>,
    per_side: u64,
    client_period: u64,
    server_period: u64,
) -> Result<(usize, usize, usize), TestCaseError> {
    run_with(faults, per_side, client_period, server_period, false).map(|r| (r.0, r.1, r.2))
}

/// [`run`]; with `upgrading`, the chain is WebSocket → SSE, WebSocket starts blocked (so the
/// session opens on SSE) and probes run every 300 ms → 1.2 s. Also returns the upgrades seen.
fn run_with(
    faults: Vec<(u64, Fault)>,
    per_side: u64,
    client_period: u64,
    server_period: u64,
    upgrading: bool,
) -> Result<(usize, usize, usize, usize), TestCaseError> {
    let cfg = Config {
        queue_max_messages: 64,
        transports: if upgrading {
            vec![TransportKind::WebSocket, TransportKind::Sse]
        } else {
            vec![TransportKind::WebSocket]
        },
        upgrade_probe_ms: 300,
        upgrade_probe_max_ms: 1_200,
        ..fast()
    };
    let mut p = Pair::new(cfg, upgrading);
    let mut faults: VecDeque<(u64, Fault)> = faults.into();
    let mut next_client_send = 0u64;
    let mut next_server_send = 0u64;
    let deadline = 600_000;
    while p.now < deadline {
        let client_due = (p.next_client_msg < per_side).then_some(next_client_send);
        let server_due = (p.next_server_msg < per_side).then_some(next_server_send);
        let app_due = match (client_due, server_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let fault_due = faults.front().map(|(t, _)| *t);
        let streams_done = client_due.is_none() && server_due.is_none();
        let quiet = streams_done
            && fault_due.is_none()
            && p.client.m.buffered_amount() == 0
            && p.sessions.values().all(|s| s.log_len() == 0)
            && p.client.m.state_kind() == holdfast::core::StateKind::Open
            // Settled means nothing is still on its way: no frame in flight, no close the
            // client has yet to learn of, and the server still has the client's session.
            && p.links.values().all(|l| l.up.is_empty() && l.down.is_empty())
            && p.client_closes.is_empty()
            && p.posts_due.is_empty()
            && p
                .client
                .m
                .session_id()
                .is_some_and(|id| p.sessions.contains_key(id));
        if quiet {
            break;
        }
        let Some(t) = p.next_event(app_due, fault_due) else {
            break;
        };
        p.now = t;
        while faults.front().is_some_and(|(t, _)| *t <= p.now) {
            if let Some((_, f)) = faults.pop_front() {
                p.inject(f);
            }
        }
        if client_due.is_some_and(|t| t <= p.now) {
            // A rejected send (outbox full) is retried a little later, like an app would.
            next_client_send = p.now + if p.client_send() { client_period } else { 50 };
        }
        if server_due.is_some_and(|t| t <= p.now) {
            p.server_send();
            next_server_send = p.now + server_period;
        }
        p.step_at_now();
        let stats = p.client.m.stats();
        prop_assert!(stats.queued <= 64, "client outbox over its bound");
        prop_assert!(p.max_log <= 4_096, "server log over its bound");
    }
    if p.now >= deadline {
        eprintln!(
            "DIAG state {:?} upgrade {:?} buffered {} logs {:?} attached {:?} links {:?}",
            p.client.m.state(),
            p.client.m.upgrade(),
            p.client.m.buffered_amount(),
            p.sessions
                .values()
                .map(|s| (s.id().to_owned(), s.log_len(), s.state().clone()))
                .collect::<Vec<_>>(),
            p.attached_conn,
            p.links
                .iter()
                .filter(|(_, l)| !l.dead)
                .map(|(c, l)| (
                    *c,
                    l.kind,
                    l.attached.clone(),
                    l.up.len(),
                    l.down.len(),
                    l.client_gone
                ))
                .collect::<Vec<_>>(),
        );
        eprintln!(
            "DIAG events: {:?}",
            &p.client.events[p.client.events.len().saturating_sub(6)..]
        );
        eprintln!("DIAG got {} {}", p.client_got.len(), p.server_got.len());
    }
    prop_assert!(p.now < deadline, "did not settle within {deadline} ms");

    // One gap per restart that hit a live session at most; each names exactly the client's
    // unacknowledged transmissions of the old session.
    prop_assert!(p.gaps.len() <= p.restarts, "a gap without a restart");
    let mut uncertain_client: Vec<u64> = vec![];
    for (listed, _, old) in &p.gaps {
        let acked = p.client_acked.get(old).copied().unwrap_or(0);
        let expected: Vec<u64> = p
            .client_tx
            .get(old)
            .map(|tx| tx.range(acked + 1..).map(|(_, n)| *n).collect())
            .unwrap_or_default();
        prop_assert_eq!(
            listed,
            &expected,
            "gap must list exactly the unacknowledged"
        );
        uncertain_client.extend(listed);
    }
    // Client → server: in order, no duplicate, nothing accepted missing unless uncertain.
    prop_assert!(
        p.server_got.windows(2).all(|w| w[0] < w[1]),
        "server app saw a duplicate or a reordering: {:?}",
        p.server_got
    );
    for n in &p.client_accepted {
        if !uncertain_client.contains(n) {
            prop_assert!(p.server_got.contains(n), "client message {} lost", n);
        }
    }
    // Server → client: in order, no duplicate; a message is missing only if its session was
    // lost to a restart and it came after the gap's last_seq.
    prop_assert!(
        p.client_got.windows(2).all(|w| w[0] < w[1]),
        "client app saw a duplicate or a reordering: {:?}",
        p.client_got
    );
    let lost_after: HashMap<&str, u64> = p
        .gaps
        .iter()
        .map(|(_, last, old)| (old.as_str(), *last))
        .collect();
    for (session, seq, n) in &p.server_accepted {
        let may_miss = lost_after
            .get(session.as_str())
            .is_some_and(|last| seq > last);
        if !may_miss {
            prop_assert!(p.client_got.contains(n), "server message {} lost", n);
        }
    }
    Ok((
        p.client_got.len(),
        p.server_got.len(),
        p.gaps.len(),
        p.upgrades,
    ))
}

fn schedule() -> impl Strategy<Value = Vec<(u64, Fault)>> {
    proptest::collection::vec((0u64..20_000, fault()), 0..12).prop_map(|mut v| {
        v.sort_by_key(|(t, _)| *t);
        v
    })
}

/// Faults around probing and cutover, in the first 10 s; WebSocket is unblocked at the end so
/// the run can settle either way.
fn upgrade_schedule() -> impl Strategy<Value = Vec<(u64, Fault)>> {
    proptest::collection::vec((0u64..10_000, upgrade_fault()), 0..14).prop_map(|mut v| {
        v.sort_by_key(|(t, _)| *t);
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// 256 random schedules of up to 12 faults in the first 20 s, both apps streaming 150
    /// messages at random rates.
    #[test]
    fn nothing_is_lost_or_duplicated_under_random_faults(
        faults in schedule(),
        client_period in 5u64..200,
        server_period in 5u64..200,
    ) {
        run(faults, 150, client_period, server_period)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// 256 random schedules of probes killed mid-handshake, data connections killed during
    /// cutover, both killed, WebSocket blocked and unblocked, while both apps stream 150
    /// messages: every message once, in order (no restarts here, so no gap is allowed).
    #[test]
    fn nothing_is_lost_or_duplicated_while_probing_and_cutting_over(
        faults in upgrade_schedule(),
        client_period in 5u64..100,
        server_period in 5u64..100,
    ) {
        let (client, server, gaps, _) = run_with(faults, 150, client_period, server_period, true)?;
        prop_assert_eq!((client, server, gaps), (150, 150, 0));
    }
}

#[test]
fn an_upgrade_mid_stream_delivers_everything_once_and_ends_on_websocket() {
    let (client, server, gaps, upgrades) =
        run_with(vec![(1_500, Fault::BlockWs(false))], 300, 10, 10, true).unwrap();
    assert_eq!((client, server, gaps), (300, 300, 0));
    assert_eq!(upgrades, 1);
}

#[test]
fn probes_killed_and_cutovers_interrupted_in_a_row() {
    let faults = vec![
        (400, Fault::BlockWs(false)),
        (450, Fault::KillProbe),
        (1_200, Fault::DropBoth),
        (2_500, Fault::KillProbe),
        (4_000, Fault::Drop),
    ];
    let (client, server, gaps, _) = run_with(faults, 300, 15, 15, true).unwrap();
    assert_eq!((client, server, gaps), (300, 300, 0));
}

#[test]
fn a_clean_run_delivers_everything_both_ways() {
    let (client, server, gaps) = run(vec![], 300, 10, 10).unwrap();
    assert_eq!((client, server, gaps), (300, 300, 0));
}

#[test]
fn a_restart_mid_stream_yields_one_gap_and_the_streams_go_on() {
    let (client, server, gaps) = run(
        vec![(1_000, Fault::Latency(150)), (1_500, Fault::Restart)],
        300,
        10,
        10,
    )
    .unwrap();
    assert_eq!(gaps, 1);
    assert!(client > 0 && server > 0);
}

#[test]
fn every_fault_kind_in_a_row() {
    let faults = vec![
        (500, Fault::Drop),
        (2_000, Fault::BlackHole),
        (9_000, Fault::KillClientSide),
        (12_000, Fault::Latency(250)),
        (13_000, Fault::Drop),
    ];
    let (client, server, gaps) = run(faults, 300, 20, 20).unwrap();
    assert_eq!((client, server, gaps), (300, 300, 0));
}

/// Found by the property test: an ACK due while the old connection was already gone (the probe
/// replacing it) was lost, so the server kept two acknowledged messages in its log forever.
#[test]
fn an_ack_due_during_the_replacement_is_sent_after_the_cutover() {
    let faults = vec![
        (0, Fault::Drop),
        (6356, Fault::DropBoth),
        (6447, Fault::Latency(127)),
        (8085, Fault::BlackHole),
        (8801, Fault::BlockWs(false)),
    ];
    let (client, server, gaps, upgrades) = run_with(faults, 150, 43, 77, true).unwrap();
    assert_eq!((client, server, gaps), (150, 150, 0));
    assert!(upgrades >= 1);
}
