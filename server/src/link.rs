//! The HTTP "link": one task per HTTP attachment (an SSE stream, or a polling client), the HTTP
//! counterpart of a WebSocket connection task (`ws.rs`).
//!
//! Over HTTP one attachment is many requests: the SSE GET or the poll open that made it, then
//! every send POST and poll GET. They find the link through [`Links`], a map from session id to
//! the link's request channel, and hand it their work with a reply oneshot; the link owns the
//! [`Attachment`] and does everything for it in a single `select!` loop (requests, the session's
//! timers, the app's wake-ups, the downstream going away, the fault watch), exactly like
//! `ws::drive`. So a session's frames leave in the order it produced them, whatever the
//! transport, and two requests never race on one session.
//!
//! Downstreams: an SSE link pushes each frame as an event into the stream's body channel. A poll
//! link keeps what the session transmitted in `pending` until a poll carries it: a poll is
//! answered as soon as something is pending, or when its hold time passes (empty); one answer
//! carries at most [`MAX_BATCH_FRAMES`] frames and about [`MAX_ANSWER_BYTES`]. A poll's cursor
//! withdraws the pending data frames and lets the session queue every data frame after the
//! cursor again ([`ServerSession::handle_cursor`](crate::ServerSession::handle_cursor)), so a
//! lost answer is resent and nothing goes out twice.
//!
//! A newer attachment of the same session (over any transport) supersedes the link's: it ends,
//! and removes its registration only if that is still its own.

use crate::clock;
use crate::faults::{FaultEvent, FaultWatch};
use crate::lifecycle::{Attachment, Step};
use crate::session::ServerSession;
use crate::Shared;
use axum::body::Bytes;
use holdfast::core::Instant;
use holdfast::protocol::{encode, encode_base64, push_batch_entry, Frame, MAX_BATCH_FRAMES};
use std::collections::{HashMap, VecDeque};
use std::future::pending;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, timeout};

/// About how many bytes one poll answer carries (PROTOCOL.md §8.4); one larger frame still goes
/// alone.
pub(crate) const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Requests waiting for a busy link. Small: the client keeps one send and one poll in flight.
const REQUEST_QUEUE: usize = 8;

/// Which downstream a link has: where a poll GET may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An SSE stream.
    Sse,
    /// Long or short polling.
    Poll,
}

/// Work a request hands to its session's link.
pub(crate) enum Request {
    /// A send POST: feed these encoded frames to the session in order; the reply says they
    /// were handed over (dropped unanswered: the link is gone, `410`).
    Send {
        frames: Vec<Bytes>,
        reply: oneshot::Sender<()>,
    },
    /// A poll GET (or the poll open's first answer, `cursor: None`): acknowledge and resend
    /// from `cursor`, then answer a batch — at once, or with `hold` once something is pending
    /// or the hold time passed. Dropped unanswered: the link is gone, `410`.
    Poll {
        cursor: Option<u64>,
        hold: bool,
        reply: oneshot::Sender<Bytes>,
    },
}

/// Where a request for a session went ([`hand_send`], [`hand_poll`]).
pub(crate) enum Handed<T> {
    /// The session has no link of that kind on this node (another node may hold it).
    NoLink,
    /// The link is going away: answer `410`.
    Gone,
    /// The link has it: its answer comes here (dropped unanswered: the link went away).
    Waiting(oneshot::Receiver<T>),
}

/// Hands a send POST's `frames` to `session`'s HTTP link on this node.
pub(crate) async fn hand_send(shared: &Shared, session: &str, frames: Vec<Bytes>) -> Handed<()> {
    let Some(link) = shared.links.sender(session, None) else {
        return Handed::NoLink;
    };
    let (reply, handed) = oneshot::channel();
    match link.send(Request::Send { frames, reply }).await {
        Ok(()) => Handed::Waiting(handed),
        Err(_) => Handed::Gone,
    }
}

/// Hands a poll GET from `cursor` (held if `hold`) to `session`'s poll link on this node.
pub(crate) async fn hand_poll(
    shared: &Shared,
    session: &str,
    cursor: u64,
    hold: bool,
) -> Handed<Bytes> {
    let Some(link) = shared.links.sender(session, Some(Kind::Poll)) else {
        return Handed::NoLink;
    };
    let (reply, answer) = oneshot::channel();
    let request = Request::Poll {
        cursor: Some(cursor),
        hold,
        reply,
    };
    match link.send(request).await {
        Ok(()) => Handed::Waiting(answer),
        Err(_) => Handed::Gone,
    }
}

/// The registry of live links, by session id.
#[derive(Default)]
pub(crate) struct Links {
    map: Mutex<HashMap<String, Registered>>,
    next: AtomicU64,
}

#[derive(Clone)]
struct Registered {
    number: u64,
    kind: Kind,
    tx: mpsc::Sender<Request>,
}

impl Links {
    /// The request channel of `session`'s live link, if it has one (of `kind`, if given).
    pub(crate) fn sender(
        &self,
        session: &str,
        kind: Option<Kind>,
    ) -> Option<mpsc::Sender<Request>> {
        self.map()
            .get(session)
            .filter(|link| kind.is_none_or(|k| k == link.kind))
            .map(|link| link.tx.clone())
    }

    fn map(&self) -> MutexGuard<'_, HashMap<String, Registered>> {
        // Every operation is one insert, lookup or remove: a poisoned map is still consistent.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A link's entry in [`Links`], removed on drop if it is still this link's.
struct Registration {
    shared: Arc<Shared>,
    session: String,
    number: u64,
}

impl Registration {
    /// Registers `tx` for `session`, replacing an older link's entry (that link's attachment
    /// was already superseded by ours, so it is ending).
    fn new(shared: &Arc<Shared>, session: &str, kind: Kind, tx: mpsc::Sender<Request>) -> Self {
        let number = shared.links.next.fetch_add(1, Ordering::Relaxed);
        let entry = Registered { number, kind, tx };
        shared.links.map().insert(session.to_owned(), entry);
        Registration {
            shared: Arc::clone(shared),
            session: session.to_owned(),
            number,
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut map = self.shared.links.map();
        if map
            .get(&self.session)
            .is_some_and(|r| r.number == self.number)
        {
            map.remove(&self.session);
        }
    }
}

/// Where a link's frames go.
pub(crate) enum Downstream {
    /// SSE: one `data:` event per frame into the stream body's channel.
    Sse(mpsc::Sender<Bytes>),
    /// Polling: frames wait for a poll.
    Poll,
}

/// Starts the link task for a fresh `attachment` (whose first step yields WELCOME) and
/// registers it; `first` is handled right after WELCOME (the poll open's answer). `faults` was
/// taken when the request arrived, so a fault since then is not missed.
pub(crate) fn spawn(
    shared: &Arc<Shared>,
    attachment: Attachment,
    downstream: Downstream,
    faults: FaultWatch,
    first: Option<Request>,
) {
    let (tx, rx) = mpsc::channel(REQUEST_QUEUE);
    let (kind, down) = match downstream {
        Downstream::Sse(events) => (Kind::Sse, Down::Sse(events)),
        Downstream::Poll => (Kind::Poll, Down::Poll(Polls::default())),
    };
    let registration = Registration::new(shared, attachment.id(), kind, tx);
    let link = Link {
        attachment: Some(attachment),
        down,
        faults,
        hold: Duration::from_millis(shared.config.poll_hold_ms),
        idle_timeout: Duration::from_millis(shared.config.idle_timeout_ms.max(1)),
        deadline: None,
        drain: None,
        shared: Arc::clone(shared),
        _registration: registration,
    };
    tokio::spawn(link.run(rx, first));
}

/// How long a draining poll link stays after a poll carried its last words.
const LINGER: Duration = Duration::from_secs(2);

/// A released poll link waiting for a poll to carry the session's last words.
struct Drain {
    /// When to stop waiting (and, once they were carried, to stop lingering).
    until: tokio::time::Instant,
    /// The CLOSE or ERROR that says why, answered again to a poll while the link lingers.
    last_words: Vec<Frame>,
    /// The session ended (its last words are final). Only then does the link take the
    /// session's POSTs and linger: a session that lives on may be taken over by a new
    /// attachment, here or on another node, and requests for it that reach this node must not
    /// be swallowed here (they get `410` and the client resumes).
    session_ended: bool,
}

/// How a link ends.
enum End {
    /// Superseded, the stream's reader went away, or the session's last frames are out.
    Over,
    /// A fault: drop everything (after parking, for `Silent`).
    Fault(FaultEvent),
}

struct Link {
    /// `None` once released while the last frames (a CLOSE) wait for a poll.
    attachment: Option<Attachment>,
    down: Down,
    faults: FaultWatch,
    /// How long a long poll is held.
    hold: Duration,
    /// How long an SSE event may wait for the stream to take it.
    idle_timeout: Duration,
    /// When the session's timers are due next.
    deadline: Option<Instant>,
    /// Set once released while the last frames (a CLOSE or ERROR) wait for a poll.
    drain: Option<Drain>,
    shared: Arc<Shared>,
    _registration: Registration,
}

enum Down {
    Sse(mpsc::Sender<Bytes>),
    Poll(Polls),
}

#[derive(Default)]
struct Polls {
    /// Transmitted by the session, not yet carried by a poll answer.
    pending: VecDeque<Frame>,
    /// The poll waiting for frames, and until when.
    held: Option<(oneshot::Sender<Bytes>, tokio::time::Instant)>,
}

/// What woke the link.
enum Event {
    Request(Request),
    Woken,
    Timer,
    HoldOver,
    PollGone,
}

impl Link {
    async fn run(mut self, mut rx: mpsc::Receiver<Request>, first: Option<Request>) {
        let end = self.drive(&mut rx, first).await;
        if let End::Fault(FaultEvent::Silent) = end {
            // A half-open link, as over WebSocket: the session stays attached (the app cannot
            // tell) while nothing moves; once the fault clears, the link is dead.
            self.faults.park().await;
        }
        if let Some(attachment) = self.attachment.take() {
            attachment.release().await;
        }
        // Dropping the link ends the SSE body (it aborts by itself on a fault), answers nothing
        // to a held poll (its request watches the faults, or answers 410), and unregisters.
    }

    async fn drive(&mut self, rx: &mut mpsc::Receiver<Request>, first: Option<Request>) -> End {
        // WELCOME and whatever a resume resends, then the poll open's answer.
        let step = self.step(|_, _| {}).await;
        if let Err(end) = self.absorb(step).await {
            return end;
        }
        if let Some(request) = first {
            if let Err(end) = self.request(request).await {
                return end;
            }
        }
        if let Some(attachment) = &self.attachment {
            attachment.welcomed().await;
        }
        loop {
            let event = tokio::select! {
                // Faults first: a dropped link must not carry another frame.
                biased;
                event = self.faults.next() => return End::Fault(event),
                request = rx.recv() => match request {
                    Some(request) => Event::Request(request),
                    // Cannot happen while registered (the registry holds a sender).
                    None => return End::Over,
                },
                () = woken(self.attachment.as_ref()) => Event::Woken,
                () = until(self.deadline.map(clock::deadline)) => Event::Timer,
                () = until(self.drain.as_ref().map(|d| d.until)) => return End::Over,
                gone = self.down.gone() => match gone {
                    Gone::Stream => return End::Over,
                    Gone::HoldOver => Event::HoldOver,
                    Gone::Poll => Event::PollGone,
                },
            };
            let result = match event {
                Event::Request(request) => self.request(request).await,
                Event::Woken => {
                    let step = self.step(|_, _| {}).await;
                    self.absorb(step).await
                }
                Event::Timer => {
                    let step = self.step(ServerSession::handle_timeout).await;
                    self.absorb(step).await
                }
                Event::HoldOver => {
                    // Counts the held poll as life up to its answer, then answers it empty
                    // (unless something arrived in this very instant).
                    let step = self.step(|_, _| {}).await;
                    let result = self.absorb(step).await;
                    self.answer_held();
                    result
                }
                Event::PollGone => {
                    // Its request gave up (gateway-timeout, kill-polls, the client went away).
                    if let Down::Poll(polls) = &mut self.down {
                        polls.held = None;
                    }
                    Ok(())
                }
            };
            if let Err(end) = result {
                return end;
            }
        }
    }

    /// Runs `op` on the session, preceded by a liveness mark while a poll is held (a held poll
    /// counts as life until it is answered, PROTOCOL.md §8.4). `None`: superseded.
    async fn step(&self, op: impl FnOnce(&mut ServerSession, Instant)) -> Option<Step> {
        let Some(attachment) = &self.attachment else {
            // Draining: the session is released, nothing more comes from it.
            return Some(Step::default());
        };
        let holding = matches!(&self.down, Down::Poll(Polls { held: Some(_), .. }));
        attachment
            .step(|session, now| {
                if holding {
                    session.handle_liveness(now);
                }
                op(session, now);
            })
            .await
    }

    /// A request for this link.
    async fn request(&mut self, request: Request) -> Result<(), End> {
        match request {
            Request::Send { frames, reply } => {
                if self.attachment.is_none() {
                    // Draining. The session ended, and the CLOSE that says why waits for the
                    // next poll: a 410 here could reach the client first (a short-polling client
                    // POSTs between polls) and it would take the link for lost and resume into
                    // a session that is gone. Accepted and dropped instead (the session is over).
                    // A session that lives on: dropping the reply answers 410, and the client
                    // resumes, as the CLOSE or ERROR would have told it to.
                    if self.drain.as_ref().is_some_and(|d| d.session_ended) {
                        let _ = reply.send(());
                    }
                    return Ok(());
                }
                let step = self
                    .step(|session, now| {
                        // Even an empty batch is proof of life.
                        session.handle_liveness(now);
                        for frame in &frames {
                            session.handle_bytes(now, frame);
                        }
                    })
                    .await;
                if step.is_some() {
                    // Every frame was handed to the session (and the app saw what it
                    // delivered): the send succeeded, whatever happens to the downstream.
                    let _ = reply.send(());
                }
                self.absorb(step).await
            }
            Request::Poll {
                cursor,
                hold,
                reply,
            } => {
                let Down::Poll(polls) = &mut self.down else {
                    // Registered as SSE: polls are never routed here.
                    return Ok(());
                };
                if let Some((held, _)) = polls.held.take() {
                    // One poll in flight per session: the newer one wins, the older one ends
                    // with an empty batch. One whose request already gave up (killed, a 504)
                    // was not in flight any more, whether or not we saw it go.
                    if !held.is_closed() {
                        self.shared.poll_overlaps.fetch_add(1, Ordering::Relaxed);
                        let _ = held.send(Bytes::new());
                    }
                }
                if let Some(drain) = self.drain.as_ref().filter(|d| d.session_ended) {
                    if polls.pending.is_empty() {
                        // Lingering: the last words again (the answer that carried them may be
                        // lost, or this poll crossed it).
                        polls.pending.extend(drain.last_words.iter().cloned());
                    }
                }
                if cursor.is_some() && self.attachment.is_some() {
                    // Frames drained but not carried yet: the session queues every data
                    // frame after the cursor again, these among them. (While draining there
                    // is no session to queue them again: what is pending goes as it is.)
                    polls
                        .pending
                        .retain(|f| !matches!(f, Frame::Text { .. } | Frame::Binary { .. }));
                }
                let wait = if hold { self.hold } else { Duration::ZERO };
                polls.held = Some((reply, tokio::time::Instant::now() + wait));
                let step = self
                    .step(|session, now| {
                        session.handle_liveness(now);
                        if let Some(cursor) = cursor {
                            session.handle_cursor(now, cursor);
                        }
                    })
                    .await;
                let result = self.absorb(step).await;
                if !hold {
                    self.answer_held();
                }
                result?;
                self.drained()
            }
        }
    }

    /// Hands what a session step produced to the downstream, and acts on a disconnect.
    async fn absorb(&mut self, step: Option<Step>) -> Result<(), End> {
        // `None`: superseded by a newer attachment, stop carrying frames.
        let step = step.ok_or(End::Over)?;
        let (frames, disconnect) = (step.frames, step.disconnect);
        self.deadline = step.deadline;
        match &mut self.down {
            Down::Sse(events) => {
                for frame in &frames {
                    if let Some(event) = self.faults.pending() {
                        return Err(End::Fault(event));
                    }
                    let event = sse_event(frame);
                    match timeout(self.idle_timeout, events.send(event)).await {
                        Ok(Ok(())) => {}
                        // The stream is gone or stopped reading for the idle timeout.
                        _ => return Err(End::Over),
                    }
                }
                if disconnect.is_some() {
                    return Err(End::Over);
                }
            }
            Down::Poll(polls) => {
                polls.pending.extend(frames);
                if !polls.pending.is_empty() {
                    self.answer_held();
                }
                if disconnect.is_some() {
                    return self.start_draining().await;
                }
            }
        }
        Ok(())
    }

    /// The session let go of this attachment (closed, ended, idle, or the store could not be
    /// written): release it now. A CLOSE or ERROR still pending must reach the client (the
    /// ERROR of a store outage carries the retry hint), so a poll link waits for one more poll
    /// (at most the idle timeout) before it ends; without one there is nothing worth waiting for.
    async fn start_draining(&mut self) -> Result<(), End> {
        let mut session_ended = false;
        if let Some(attachment) = self.attachment.take() {
            session_ended = attachment.session_ended();
            attachment.release().await;
        }
        self.deadline = None;
        let last_words: Vec<Frame> = match &self.down {
            Down::Poll(polls) => polls
                .pending
                .iter()
                .filter(|f| matches!(f, Frame::Close(_) | Frame::Error(_)))
                .cloned()
                .collect(),
            Down::Sse(_) => Vec::new(),
        };
        if last_words.is_empty() {
            return Err(End::Over);
        }
        self.drain = Some(Drain {
            until: tokio::time::Instant::now() + self.idle_timeout,
            last_words,
            session_ended,
        });
        Ok(())
    }

    /// While draining, once a poll carried the last frames: a session that lives on ends the
    /// link; an ended one lingers [`LINGER`] (within the drain's own bound), answering POSTs
    /// `204` and polls with the last words again: a POST or poll the client sent before it read
    /// them must not get a `410` that it could see first (two requests in flight answer in
    /// either order) and take for a lost link.
    fn drained(&mut self) -> Result<(), End> {
        if let (Down::Poll(polls), Some(drain)) = (&self.down, &mut self.drain) {
            if polls.pending.is_empty() {
                if !drain.session_ended {
                    return Err(End::Over);
                }
                drain.until = drain.until.min(tokio::time::Instant::now() + LINGER);
            }
        }
        Ok(())
    }

    /// Answers the held poll, if any, with what is pending (within the answer bounds).
    fn answer_held(&mut self) {
        let Down::Poll(polls) = &mut self.down else {
            return;
        };
        let Some((reply, _)) = polls.held.take() else {
            return;
        };
        let mut body = Vec::new();
        let mut count = 0;
        while count < MAX_BATCH_FRAMES && (count == 0 || body.len() < MAX_ANSWER_BYTES) {
            let Some(frame) = polls.pending.pop_front() else {
                break;
            };
            push_batch_entry(&mut body, &encode(&frame));
            count += 1;
        }
        // If the request already gave up, these frames are lost on the way like any answer:
        // the next poll's cursor brings the data back.
        let _ = reply.send(Bytes::from(body));
    }
}

/// Why the downstream needs the link without a request.
enum Gone {
    /// The SSE stream's body was dropped (the client went away).
    Stream,
    /// The held poll's hold time passed.
    HoldOver,
    /// The held poll's request gave up.
    Poll,
}

impl Down {
    /// Resolves when the downstream needs attention. Cancel-safe (for `select!`).
    async fn gone(&mut self) -> Gone {
        match self {
            Down::Sse(events) => {
                events.closed().await;
                Gone::Stream
            }
            Down::Poll(Polls {
                held: Some((reply, until)),
                ..
            }) => {
                let until = *until;
                tokio::select! {
                    () = reply.closed() => Gone::Poll,
                    () = sleep_until(until) => Gone::HoldOver,
                }
            }
            Down::Poll(_) => pending().await,
        }
    }
}

/// One SSE event carrying `frame` (PROTOCOL.md §8.3).
pub(crate) fn sse_event(frame: &Frame) -> Bytes {
    Bytes::from(format!("data: {}\n\n", encode_base64(&encode(frame))))
}

/// Resolves when the attachment is woken; never without one.
async fn woken(attachment: Option<&Attachment>) {
    match attachment {
        Some(attachment) => attachment.woken().await,
        None => pending().await,
    }
}

/// Resolves at `at`; never without one.
pub(crate) async fn until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => pending().await,
    }
}
