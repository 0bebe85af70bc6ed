//! The pump: the only place the core and JS meet.
//!
//! Every JS callback captures a `Weak<Shared>` (never the owner) and calls [`dispatch`]. The pump
//! pushes the work to the inbox; if a pump is already running further up the stack it returns and
//! that pump drains it. Otherwise it loops: borrow the machine, feed one piece of work, take every
//! action and event, **release the borrow**, then perform the actions (JS calls) and deliver the
//! events (user code). User code may therefore call `send()` or `close()` from inside any handler
//! without re-entering a borrowed `RefCell`. The single timer is re-armed at the end.

use super::clock;
use super::counts::{bump, Kind};
use super::lifecycle::Lifecycle;
use super::remember::Remembered;
use super::text_identity::TextKey;
use super::timer::Timeout;
use super::transport::http::{HttpTransport, Limits as HttpLimits};
use super::transport::websocket::{js_message, send as ws_send, WsTransport};
use super::transport::Transport;
use super::UrlSource;
use crate::config::{Protocol, TransportKind};
use crate::core::{
    Action, ConnId, DisconnectReason, Event, Input, Instant, Machine, Payload, SendOutcome,
    TransportError,
};
use crate::endpoint::transport_url;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use wasm_bindgen::{JsCast, JsValue};

/// A piece of work for the pump.
pub(crate) enum Work {
    Input(Input),
    Timeout,
    /// Something called the machine directly (`send`): take what it produced.
    Flush,
    /// The URL function's promise resolved for attempt `conn`.
    UrlResolved {
        conn: ConnId,
        transport: TransportKind,
        url: String,
        hello: Option<Vec<u8>>,
    },
}

/// The app's event callback.
type EventCallback = Box<dyn FnMut(Event)>;

/// The one armed timer.
struct Armed {
    at: Instant,
    /// Set from inside our own timer's callback. The browser counts such a timer as part of a
    /// chain, and Chromium throttles chained timers in a tab hidden for minutes to one wake-up a
    /// minute; a timer set from a network callback or the app starts a new chain.
    chained: bool,
    _timeout: Timeout,
}

/// Everything one client owns, shared between the handle and the callbacks (which hold `Weak`).
pub(crate) struct Shared {
    pub(crate) machine: RefCell<Machine>,
    inbox: RefCell<VecDeque<Work>>,
    pumping: Cell<bool>,
    /// The live transports: the data connection and, while upgrading, a probe (the core keeps
    /// at most one of each).
    transports: RefCell<Vec<(ConnId, Transport)>>,
    timer: RefCell<Option<Armed>>,
    lifecycle: RefCell<Option<Lifecycle>>,
    url: UrlSource,
    /// Where the transport that opened is remembered for the tab.
    remembered: Remembered,
    /// `None` only while the callback runs (see the pump).
    on_event: RefCell<Option<EventCallback>>,
    /// The pump's buffers, kept between turns so a turn allocates nothing: only the one running
    /// pump uses them (taken out for the turn, put back empty with their capacity).
    scratch: RefCell<(Vec<Action>, Vec<Event>)>,
    /// Raw mode: the JS strings of texts sent in this pump with outcome `Sent`, in order, so
    /// their `Action::Send` hands the socket the page's own string (`text_identity`). Cleared
    /// when the pump ends.
    sent_js: RefCell<VecDeque<(TextKey, JsValue)>>,
    /// Whether the protocol is raw mode (the only one whose `Action::Send` is the app's text).
    raw: bool,
    this: Weak<Shared>,
}

impl Shared {
    /// Builds the shared state and attaches the lifecycle listeners.
    pub(crate) fn new(
        machine: Machine,
        url: UrlSource,
        remembered: Remembered,
        on_event: Box<dyn FnMut(Event)>,
    ) -> Rc<Shared> {
        bump(Kind::Client, 1);
        let raw = matches!(machine.config().protocol, Protocol::Raw(_));
        let shared = Rc::new_cyclic(|this| Shared {
            machine: RefCell::new(machine),
            inbox: RefCell::new(VecDeque::new()),
            pumping: Cell::new(false),
            transports: RefCell::new(Vec::new()),
            timer: RefCell::new(None),
            lifecycle: RefCell::new(None),
            url,
            remembered,
            on_event: RefCell::new(Some(on_event)),
            scratch: RefCell::new((Vec::new(), Vec::new())),
            sent_js: RefCell::new(VecDeque::new()),
            raw,
            this: this.clone(),
        });
        let lifecycle = Lifecycle::attach(shared.sink());
        *shared.lifecycle.borrow_mut() = Some(lifecycle);
        shared
    }

    /// A callback-safe way to feed inputs: holds only a `Weak`, so dropping the client really
    /// stops everything.
    pub(crate) fn sink(&self) -> impl Fn(Input) + Clone + 'static {
        let weak = self.this.clone();
        move |input| {
            if let Some(shared) = weak.upgrade() {
                dispatch(&shared, Some(Work::Input(input)));
            }
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        bump(Kind::Client, -1);
    }
}

/// Queues `work` (`None`: the machine was called directly and has output to take) and pumps
/// until the inbox is empty.
///
/// Each turn feeds the machine one piece of work and takes everything it produced, so the
/// machine has nothing left to say when the inbox is empty: the pump stops there, with no idle
/// turn. Whatever performing an action or an event callback causes arrives as new work (a
/// callback's `send` pushes `Work::Flush`).
pub(crate) fn dispatch(shared: &Rc<Shared>, work: Option<Work>) {
    shared
        .inbox
        .borrow_mut()
        .push_back(work.unwrap_or(Work::Flush));
    if shared.pumping.replace(true) {
        return; // the pump further up the stack will drain it
    }
    // Only our timer's callback feeds `Timeout`, so this pump runs in a timer task.
    let in_timer_task = matches!(shared.inbox.borrow().front(), Some(Work::Timeout));
    let (mut actions, mut events) = std::mem::take(&mut *shared.scratch.borrow_mut());
    loop {
        let Some(next) = shared.inbox.borrow_mut().pop_front() else {
            break;
        };
        let mut resolved = None;
        {
            let mut m = shared.machine.borrow_mut();
            match next {
                Work::Input(input) => m.handle_input(clock::now(), input),
                Work::Timeout => m.handle_timeout(clock::now()),
                // A promise that resolves for an attempt already abandoned is ignored.
                // Still the data connection's attempt, or the probe's.
                Work::UrlResolved {
                    conn,
                    transport,
                    url,
                    hello,
                } if m.state().conn() == Some(conn) || m.upgrade().probe_conn() == Some(conn) => {
                    resolved = Some((conn, transport, url, hello));
                }
                Work::UrlResolved { .. } | Work::Flush => {}
            }
            actions.extend(std::iter::from_fn(|| m.poll_action()));
            events.extend(std::iter::from_fn(|| m.poll_event()));
        } // machine borrow released before any JS or user code runs
        if let Some((conn, kind, url, hello)) = resolved {
            open_transport(shared, conn, kind, hello, &url);
        }
        for action in actions.drain(..) {
            perform(shared, action);
        }
        for event in events.drain(..) {
            match &event {
                Event::Open { transport }
                | Event::Transport {
                    to: transport,
                    reason: DisconnectReason::Upgrade,
                    ..
                } => shared.remembered.store(*transport),
                _ => {}
            }
            // The callback is taken out for the call so no borrow is held while user code runs.
            let taken = shared.on_event.borrow_mut().take();
            if let Some(mut cb) = taken {
                cb(event);
                *shared.on_event.borrow_mut() = Some(cb);
            }
        }
    }
    *shared.scratch.borrow_mut() = (actions, events);
    // Every recorded send's action was performed (and matched) by now.
    let unused = std::mem::take(&mut *shared.sent_js.borrow_mut());
    drop(unused);
    rearm(shared, in_timer_task);
    shared.pumping.set(false);
}

fn enqueue(shared: &Shared, input: Input) {
    shared.inbox.borrow_mut().push_back(Work::Input(input));
}

/// A cheap handle on the live transport for `conn`, taken out of the slot so the JS call that
/// follows runs without the borrow.
enum Handle {
    Ws(web_sys::WebSocket),
    Http(Rc<HttpTransport>),
}

fn handle(shared: &Shared, conn: ConnId) -> Option<Handle> {
    let transports = shared.transports.borrow();
    match transports.iter().find(|(c, _)| *c == conn) {
        Some((_, Transport::Ws(t))) => Some(Handle::Ws(t.socket())),
        Some((_, Transport::Http(t))) => Some(Handle::Http(Rc::clone(t))),
        None => None,
    }
}

/// The session id the HTTP routes need (known from WELCOME on, which is before any POST or poll).
fn session_id(shared: &Shared) -> String {
    shared
        .machine
        .borrow()
        .session_id()
        .unwrap_or_default()
        .to_owned()
}

fn perform(shared: &Rc<Shared>, action: Action) {
    match action {
        Action::Connect {
            conn,
            transport,
            hello,
        } => match &shared.url {
            UrlSource::Fixed(base) => open_transport(shared, conn, transport, hello, base),
            UrlSource::Function(f) => resolve_url(shared, conn, transport, hello, f),
            UrlSource::Rust(f) => super::builder::resolve_url_fn(shared, conn, transport, hello, f),
        },
        Action::Send { conn, payload } => {
            // Matched whatever the transport, so a recorded send is consumed by its own action
            // even if it goes nowhere: an entry must never outlive its allocation.
            let js = sent_js(shared, &payload);
            send_on(shared, conn, payload, js)
        }
        Action::Poll { conn, cursor } => {
            if let Some(Handle::Http(http)) = handle(shared, conn) {
                http.poll(&session_id(shared), cursor);
            }
        }
        Action::Disconnect { conn, code, reason } => {
            let taken = {
                let mut transports = shared.transports.borrow_mut();
                let at = transports.iter().position(|(c, _)| *c == conn);
                at.map(|i| transports.swap_remove(i))
            }; // the borrow ends before the transport's Drop calls into JS
            match taken {
                Some((_, Transport::Ws(mut t))) => {
                    t.set_close(code, reason);
                    drop(t); // detaches the handlers, then closes
                }
                Some((_, Transport::Http(t))) => drop(t), // closes the stream, aborts the polls
                None => {}
            }
        }
    }
}

/// Performs `Action::Send` on the live transport for `conn` (`js`: the page's string for a text).
fn send_on(shared: &Rc<Shared>, conn: ConnId, payload: Payload, js: Option<JsValue>) {
    match handle(shared, conn) {
        Some(Handle::Ws(ws)) => {
            if let Err(msg) = ws_send(&ws, &payload, js.as_ref()) {
                enqueue(
                    shared,
                    Input::Failed {
                        conn,
                        error: TransportError::Network(msg),
                    },
                );
            }
        }
        Some(Handle::Http(http)) => {
            let body = match payload {
                Payload::Binary(b) => b,
                Payload::Text(t) => t.into_bytes(),
            };
            http.post(&session_id(shared), body);
        }
        None => {}
    }
}

/// The page's JS string for `payload`, if it is the text of the oldest send recorded in this pump.
fn sent_js(shared: &Shared, payload: &Payload) -> Option<JsValue> {
    let Payload::Text(text) = payload else {
        return None;
    };
    let mut sent = shared.sent_js.borrow_mut();
    match sent.front() {
        Some((key, _)) if *key == TextKey::of(text) => sent.pop_front().map(|(_, js)| js),
        _ => None,
    }
}

/// Calls the app's URL function (before every attempt: token refresh). A string is used at once;
/// a promise is awaited and its result fed back as work, checked against the then-current attempt.
fn resolve_url(
    shared: &Rc<Shared>,
    conn: ConnId,
    transport: TransportKind,
    hello: Option<Vec<u8>>,
    f: &js_sys::Function,
) {
    let fail = move |msg: String| Input::Failed {
        conn,
        error: TransportError::Url(msg),
    };
    let value = match f.call0(&JsValue::UNDEFINED) {
        Ok(v) => v,
        Err(e) => {
            return enqueue(
                shared,
                fail(["url function threw: ", &js_message(&e)].concat()),
            )
        }
    };
    if let Some(url) = value.as_string() {
        return open_transport(shared, conn, transport, hello, &url);
    }
    let Ok(promise) = value.dyn_into::<js_sys::Promise>() else {
        return enqueue(
            shared,
            fail("url function returned neither a string nor a Promise".into()),
        );
    };
    let weak = Rc::downgrade(shared);
    wasm_bindgen_futures::spawn_local(async move {
        let result = wasm_bindgen_futures::JsFuture::from(promise).await;
        let Some(shared) = weak.upgrade() else { return };
        let work = match result.map(|v| v.as_string()) {
            Ok(Some(url)) => Work::UrlResolved {
                conn,
                transport,
                url,
                hello,
            },
            Ok(None) => Work::Input(fail("url promise resolved to a non-string".into())),
            Err(e) => Work::Input(fail(["url promise rejected: ", &js_message(&e)].concat())),
        };
        dispatch(&shared, Some(work));
    });
}

fn open_transport(
    shared: &Rc<Shared>,
    conn: ConnId,
    transport: TransportKind,
    hello: Option<Vec<u8>>,
    base: &str,
) {
    let (protocol, post_timeout_ms, limits) = {
        let m = shared.machine.borrow();
        // Twice the core's own POST deadline: the core decides (`SendTimeout`); this bound
        // only keeps a POST left running after its transport was dropped from living forever.
        let core_deadline = m.config().heartbeat_timeout_ms;
        (
            m.config().protocol.clone(),
            core_deadline.saturating_mul(2),
            HttpLimits {
                frame: m.max_inbound_bytes(),
                answer: m.max_answer_bytes(),
            },
        )
    };
    let opened = match (transport, hello) {
        (TransportKind::WebSocket, _) => match transport_url(base, transport, &protocol) {
            Ok(url) => {
                WsTransport::open(&url, conn, limits.frame, shared.sink()).map(Transport::Ws)
            }
            Err(msg) => {
                return enqueue(
                    shared,
                    Input::Failed {
                        conn,
                        error: TransportError::Url(msg),
                    },
                )
            }
        },
        (_, Some(hello)) => HttpTransport::open(
            base,
            transport,
            conn,
            &hello,
            post_timeout_ms,
            limits,
            shared.sink(),
        )
        .map(|t| Transport::Http(Rc::new(t))),
        // The core always gives HELLO to a transport that carries it in its opening request.
        (_, None) => Err(["transport `", transport.name(), "` needs a handshake"].concat()),
    };
    match opened {
        Ok(t) => {
            shared.transports.borrow_mut().push((conn, t));
        }
        Err(msg) => enqueue(
            shared,
            Input::Failed {
                conn,
                error: TransportError::Network(msg),
            },
        ),
    }
}

/// Re-arms the one timer to the core's earliest deadline; tears everything down once closed.
/// `in_timer_task`: the pump ran inside our timer's callback.
fn rearm(shared: &Rc<Shared>, in_timer_task: bool) {
    let (deadline, closed) = {
        let m = shared.machine.borrow();
        (
            m.poll_timeout(),
            m.state_kind() == crate::core::StateKind::Closed,
        )
    };
    if closed {
        let timer = shared.timer.borrow_mut().take();
        let lifecycle = shared.lifecycle.borrow_mut().take();
        let transports = std::mem::take(&mut *shared.transports.borrow_mut());
        drop((timer, lifecycle, transports));
        return;
    }
    let Some(deadline) = deadline else {
        let old = shared.timer.borrow_mut().take();
        drop(old);
        return;
    };
    // A timer already armed at or before the deadline stays: when it fires early the machine has
    // nothing due and the pump arms the real deadline then. Re-arming only for an earlier
    // deadline spares the per-message setTimeout, clearTimeout, closure and clock read (the
    // dead-link deadline moves with every message received).
    //
    // Except a chained one outside a timer task: it is replaced by one this task starts, so each
    // network callback restarts the chain. A silent link then has at most the few timers of one
    // dead window in its chain, too few for Chromium's intensive throttling, and is declared
    // dead on time in a tab hidden for minutes (reliability.md, "Background-tab throttling").
    // That is one extra timer per firing of ours, not one per message.
    if matches!(&*shared.timer.borrow(), Some(armed)
        if armed.at <= deadline && (in_timer_task || !armed.chained))
    {
        return;
    }
    let weak = Rc::downgrade(shared);
    let delay = deadline.since(clock::now());
    let timeout = Timeout::new(delay, move || {
        if let Some(shared) = weak.upgrade() {
            // A fired timer is spent: clear the slot so the pump always arms a fresh one. Timers
            // can fire before `performance.now()` reaches the deadline (Firefox coarsens the
            // clock); keeping the slot would make `rearm` skip the same deadline forever.
            let spent = shared.timer.borrow_mut().take();
            dispatch(&shared, Some(Work::Timeout));
            drop(spent); // after the pump: this closure is the one running
        }
    });
    let armed = Armed {
        at: deadline,
        chained: in_timer_task,
        _timeout: timeout,
    };
    // The borrow ends with this statement; the old timeout is cleared after it.
    let old = shared.timer.borrow_mut().replace(armed);
    drop(old);
}

/// Sends through the machine and pumps what it produced. Safe to call from inside any handler.
pub(crate) fn send(shared: &Rc<Shared>, payload: Payload) -> SendOutcome {
    let outcome = shared.machine.borrow_mut().send(clock::now(), payload);
    dispatch(shared, None);
    outcome
}

/// [`send`] of a text the page has as the JS string `js`: in raw mode the socket gets `js`
/// itself when the text goes out in this pump (`text_identity`).
#[cfg_attr(not(feature = "js"), allow(dead_code))]
pub(crate) fn send_text_js(shared: &Rc<Shared>, text: String, js: JsValue) -> SendOutcome {
    let key = TextKey::of(&text);
    let outcome = shared
        .machine
        .borrow_mut()
        .send(clock::now(), Payload::Text(text));
    if shared.raw && outcome == SendOutcome::Sent {
        shared.sent_js.borrow_mut().push_back((key, js));
    }
    dispatch(shared, None);
    outcome
}
