//! A session's life around its connections, for every transport adapter: attaching a handshake
//! to a new or resumed session, running the session's work for the attached connection and
//! calling the app, detaching when the connection ends, the TTL watch while detached, and the
//! one place a session's end is turned into `on_close` (exactly once).
//!
//! Ownership: at any time one task owns a live session and is woken through the entry's owner
//! [`Notify`]: the attached connection, or — while detached — a small TTL watch task spawned at
//! detach time (so there is no global reaper, and nothing to start outside a runtime). Whoever
//! owns a session when it ends removes it from the store and runs `on_close`; the hub only ends
//! sessions and wakes their owner.

use crate::clock;
use crate::message::Message;
use crate::session::{welcome, Output, ServerSession, SessionConfig, SessionState};
use crate::store::{Delivery, Persisted, RemoteReply, SessionEntry, StoreError, StoreFull};
use crate::Shared;
use holdfast::core::Instant;
use holdfast::protocol::{CloseFrame, ErrorCode, ErrorFrame, Frame, Hello, ResumeOutcome, VERSION};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::Notify;

/// The retry hint sent with ERROR 5 when the store is full.
const STORE_FULL_RETRY_AFTER_MS: u64 = 1_000;
/// The retry hint sent with ERROR 5 when a shared store cannot be reached.
const STORE_DOWN_RETRY_AFTER_MS: u64 = 1_000;
/// The transport close of a connection whose session could not be persisted: try again later
/// (a transport close, not a protocol CLOSE: the session goes on, the client resumes it).
const STORE_DOWN: (u16, &str) = (1013, "session store unavailable");
/// How sessions end when `/_fault/restart` forgets them.
const RESTART: (u16, &str) = (1012, "server restart");

/// One connection's hold on a session, from its WELCOME to its end. Dropping it detaches the
/// session (or finishes an ended one) even if the connection task unwinds.
pub(crate) struct Attachment {
    shared: Arc<Shared>,
    entry: Arc<SessionEntry>,
    number: u64,
    wake: Arc<Notify>,
    released: bool,
}

/// What one round of session work left for the connection to do.
#[derive(Debug, Default)]
pub(crate) struct Step {
    /// Frames to write, in order.
    pub(crate) frames: Vec<Frame>,
    /// Close (or drop) the transport with this code and reason after the frames.
    pub(crate) disconnect: Option<(u16, String)>,
    /// When to run the session's timers next.
    pub(crate) deadline: Option<Instant>,
}

/// A handshake the server will not go on with (PROTOCOL.md §4): the transport sends ERROR
/// `error` then CLOSE `code` `reason`, and ends. The same refusal travels as WebSocket messages,
/// SSE events or a poll batch, so every adapter builds it here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) error: ErrorFrame,
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
}

impl Refusal {
    /// ERROR `error` `message` (with a retry hint), then CLOSE `code` `reason`.
    pub(crate) fn new(
        error: ErrorCode,
        message: impl Into<String>,
        retry_after_ms: u64,
        code: u16,
        reason: &'static str,
    ) -> Self {
        Refusal {
            error: ErrorFrame {
                code: error,
                message: message.into(),
                retry_after_ms,
            },
            code,
            reason,
        }
    }

    /// The refusal of a first frame that is not a (well-formed) HELLO: ERROR 1, CLOSE 1002.
    pub(crate) fn bad_hello(message: impl Into<String>) -> Self {
        Refusal::new(ErrorCode::BadFrame, message, 0, 1002, "expected HELLO")
    }

    /// The frames to send, in order: ERROR, CLOSE.
    pub(crate) fn frames(&self) -> Vec<Frame> {
        vec![
            Frame::Error(self.error.clone()),
            Frame::Close(CloseFrame {
                code: self.code,
                reason: self.reason.to_owned(),
            }),
        ]
    }
}

/// The handshake of every transport once HELLO is in: refuses a version range without v1
/// (ERROR 2, CLOSE 1002) and a full store (ERROR 5 with a retry hint, CLOSE 1013); otherwise
/// attaches (see [`attach`]) and counts the handshake. The WELCOME comes out of the first
/// [`Attachment::step`]; call [`Attachment::welcomed`] once it is written. With a shared store
/// that cannot be reached: ERROR 5 with a retry hint, CLOSE 1013.
pub(crate) async fn open(shared: &Arc<Shared>, hello: &Hello) -> Result<Attachment, Refusal> {
    check_version(hello)?;
    if hello.probe {
        // Probes exist for moving a session up to WebSocket; an HTTP route must never mistake
        // one for a takeover.
        return Err(Refusal::new(
            ErrorCode::BadFrame,
            "probes are answered over WebSocket only",
            0,
            1002,
            "unexpected probe",
        ));
    }
    let attachment = attach(shared, hello)
        .await
        .map_err(|refused| match refused {
            Refused::Full(full) => Refusal::new(
                ErrorCode::TryLater,
                full.to_string(),
                STORE_FULL_RETRY_AFTER_MS,
                1013,
                "too many sessions",
            ),
            Refused::Store => Refusal::new(
                ErrorCode::TryLater,
                STORE_DOWN.1,
                STORE_DOWN_RETRY_AFTER_MS,
                STORE_DOWN.0,
                STORE_DOWN.1,
            ),
        })?;
    shared.handshakes.fetch_add(1, Ordering::Relaxed);
    Ok(attachment)
}

fn check_version(hello: &Hello) -> Result<(), Refusal> {
    if hello.min_version > VERSION || hello.max_version < VERSION {
        return Err(Refusal::new(
            ErrorCode::VersionUnsupported,
            "this server speaks protocol version 1 only",
            0,
            1002,
            "version unsupported",
        ));
    }
    Ok(())
}

/// Answers a probe HELLO (PROTOCOL.md §4): the WELCOME of the live session it names, without
/// attaching — delivery stays on the session's current connection until a plain HELLO on the
/// probing connection takes it over. A probe for no live session is refused (ERROR 3, CLOSE
/// 1000): there is nothing to move. A session another node holds is answered from the shared
/// store (it moves here only with the plain HELLO).
pub(crate) async fn probe(shared: &Shared, hello: &Hello) -> Result<Frame, Refusal> {
    check_version(hello)?;
    let unknown = || {
        Refusal::new(
            ErrorCode::SessionUnknown,
            "no live session to probe",
            0,
            1000,
            "probe: no session",
        )
    };
    let Some(id) = hello.session.as_deref() else {
        return Err(unknown());
    };
    let store = shared.hub.store();
    if let Some(entry) = store.get(id) {
        return entry
            .lock()
            .probe_welcome()
            .map(Frame::Welcome)
            .ok_or_else(unknown);
    }
    match store.peek(id).await {
        Ok(Some(ack)) => {
            let config = SessionConfig::from_server(&shared.config);
            Ok(Frame::Welcome(welcome(
                id,
                &config,
                ResumeOutcome::Resumed,
                ack,
            )))
        }
        Ok(None) => Err(unknown()),
        Err(_) => Err(Refusal::new(
            ErrorCode::TryLater,
            STORE_DOWN.1,
            STORE_DOWN_RETRY_AFTER_MS,
            STORE_DOWN.0,
            STORE_DOWN.1,
        )),
    }
}

/// Why a handshake could not attach.
enum Refused {
    Full(StoreFull),
    /// The shared store cannot be reached (the cause stays on the server).
    Store,
}

/// Attaches a connection that sent `hello` (version already checked): to the session it names
/// if that is alive, else to a new session (WELCOME `resume` = failed if it asked for one). The
/// WELCOME and any resent frames come out of the first [`Attachment::step`]. A session another
/// node holds is claimed first (see [`crate::SessionStore::claim`]).
async fn attach(shared: &Arc<Shared>, hello: &Hello) -> Result<Attachment, Refused> {
    let store = shared.hub.store();
    let config = SessionConfig::from_server(&shared.config);
    let attach_to = |entry: Arc<SessionEntry>| -> Option<Attachment> {
        let wake = Arc::new(Notify::new());
        let number = {
            let mut session = entry.lock();
            // Checked under the same lock as the attach: an ended session is as good as unknown.
            if matches!(session.state(), SessionState::Ended { .. }) {
                return None;
            }
            let number = session.attach(clock::now(), hello);
            // Wakes the previous owner: a superseded connection stops, a TTL watch ends.
            session.set_owner(Arc::clone(&wake));
            number
        };
        Some(Attachment {
            shared: Arc::clone(shared),
            entry,
            number,
            wake,
            released: false,
        })
    };
    if let Some(id) = hello.session.as_deref() {
        let claimed = store
            .claim(id, &config, clock::now())
            .await
            .map_err(|_| Refused::Store)?;
        if let Some(resumed) = claimed.and_then(attach_to) {
            return Ok(resumed);
        }
    }
    let entry = store.create(config, clock::now()).map_err(Refused::Full)?;
    // Only a broadcast overflowing a tiny log in the instant before the attach could have ended
    // it; it never opened, so it goes without `on_close`.
    attach_to(Arc::clone(&entry)).ok_or_else(|| {
        store.remove(entry.id());
        Refused::Full(StoreFull)
    })
}

/// How often an unchanged session's shared record is written anyway, to renew its expiry.
fn refresh_every(shared: &Shared) -> std::time::Duration {
    std::time::Duration::from_millis((shared.config.session_ttl_ms / 3).max(1))
}

/// Shared stores: records what changed in `entry`'s session since the last write (see
/// [`crate::SessionStore::persist`]), handing it to node `hand_to` if given. Call with the
/// delivery guard held (it serializes one session's writes) and before what the change produced
/// reaches the client. Nothing to do for a store that is not shared.
async fn persist(
    shared: &Shared,
    entry: &SessionEntry,
    delivery: &mut Delivery,
    hand_to: Option<&str>,
) -> Result<(), StoreError> {
    let store = shared.hub.store();
    if !store.is_shared() {
        return Ok(());
    }
    let after = delivery.persisted.as_ref().map_or(0, |p| p.last_out);
    let state = entry.lock().durable(after);
    let record = Persisted {
        last_out: state.last_out,
        inbound: state.inbound,
        attachment: state.attachment,
        log_start: state.log_start,
        ended: state.ended.is_some(),
        opened: delivery.opened,
        at: std::time::Instant::now(),
    };
    let unchanged = delivery.persisted.as_ref().is_some_and(|p| {
        Persisted {
            at: p.at,
            ..record.clone()
        } == *p
            && p.at.elapsed() < refresh_every(shared)
    });
    if unchanged && hand_to.is_none() {
        return Ok(());
    }
    store
        .persist(entry.id(), state, delivery.opened, hand_to)
        .await?;
    delivery.persisted = Some(record);
    Ok(())
}

impl Attachment {
    /// The id of the attached session.
    pub(crate) fn id(&self) -> &str {
        self.entry.id()
    }

    /// Resolves when the session has something for this connection: output after a hub call,
    /// a state change, or a newer attachment taking over. Cancel-safe (for `select!`).
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Whether a newer connection took the session over. (A session this attachment ended or
    /// detached is not superseded: its last frames and `Disconnect` are still this
    /// connection's to handle.)
    pub(crate) fn is_superseded(&self) -> bool {
        self.entry.lock().attachment() != self.number
    }

    /// Whether the session has ended (closed for good, not merely let go of this connection).
    pub(crate) fn session_ended(&self) -> bool {
        matches!(self.entry.lock().state(), SessionState::Ended { .. })
    }

    /// Runs `op` on the session unless this attachment was superseded, delivers what it
    /// produced to the app (without holding the session lock), and returns the rest for the
    /// connection. `None`: superseded; stop writing and drop the transport.
    pub(crate) async fn step(&self, op: impl FnOnce(&mut ServerSession, Instant)) -> Option<Step> {
        // Taken before the session lock and held through delivery, so that a connection that
        // takes over cannot deliver newer messages before this one delivered older ones.
        let mut delivery = self.entry.delivery().await;
        let mut step = Step::default();
        let mut deliver: Vec<Message> = Vec::new();
        {
            let mut session = self.entry.lock();
            if session.attachment() != self.number {
                return None;
            }
            op(&mut session, clock::now());
            while let Some(output) = session.poll_output() {
                match output {
                    Output::Transmit(frame) => step.frames.push(frame),
                    Output::Deliver(msg) => deliver.push(msg),
                    Output::Disconnect { code, reason } => step.disconnect = Some((code, reason)),
                }
            }
            step.deadline = session.poll_timeout();
        }
        if !deliver.is_empty() {
            let (app, hub, id) = (&self.shared.app, &self.shared.hub, self.entry.id());
            if !delivery.opened {
                delivery.opened = true;
                app.on_open(hub, id);
            }
            for msg in deliver {
                app.on_message(hub, id, msg);
            }
        }
        // After the app: what it sent in reply is in the log and recorded with the inbound
        // position that caused it, so a node taking over neither repeats nor loses it.
        if let Err(e) = persist(&self.shared, &self.entry, &mut delivery, None).await {
            return self.store_failed(e);
        }
        Some(step)
    }

    /// A shared store refused or failed a write: nothing of this step may reach the client.
    /// Another node holds the session now → this copy is dropped and the connection stops
    /// (`None`, as superseded). The store is unreachable → the connection is told to try later
    /// (ERROR 5 with a hint, then a transport close 1013) and the session stays here, detached:
    /// everything not written is still in its memory, so nothing is lost.
    fn store_failed(&self, e: StoreError) -> Option<Step> {
        match e {
            StoreError::NotOwner => {
                self.entry.lock().hand_off(clock::now());
                self.shared.hub.store().remove(self.entry.id());
                None
            }
            // The cause (a Redis error) stays on the server: the client only needs "later".
            StoreError::Unavailable(_) => Some(Step {
                frames: vec![Frame::Error(ErrorFrame {
                    code: ErrorCode::TryLater,
                    message: STORE_DOWN.1.to_owned(),
                    retry_after_ms: STORE_DOWN_RETRY_AFTER_MS,
                })],
                disconnect: Some((STORE_DOWN.0, STORE_DOWN.1.to_owned())),
                deadline: None,
            }),
        }
    }

    /// The first WELCOME of a new session was written: `on_open`, once per session.
    pub(crate) async fn welcomed(&self) {
        let mut delivery = self.entry.delivery().await;
        if !delivery.opened {
            delivery.opened = true;
            self.shared.app.on_open(&self.shared.hub, self.entry.id());
            // Recorded at the next step's write if this one fails: at worst another node runs
            // `on_open` again.
            let _ = persist(&self.shared, &self.entry, &mut delivery, None).await;
        }
    }

    /// The connection is over: detach (the TTL watch takes the session over) or, if the session
    /// ended, remove it and run `on_close`. Call before closing the transport.
    pub(crate) async fn release(mut self) {
        self.released = true;
        if self.detach() {
            finish(&self.shared, &self.entry).await;
        }
    }

    /// Detaches; returns whether the session has ended and must be finished.
    fn detach(&self) -> bool {
        let mut session = self.entry.lock();
        session.detach(clock::now(), self.number);
        match session.state() {
            SessionState::Ended { .. } => true,
            // Detached by this attachment (now, or by its idle timeout): watch the TTL.
            SessionState::Detached { .. } if session.attachment() == self.number => {
                let wake = Arc::new(Notify::new());
                session.set_owner(Arc::clone(&wake));
                drop(session);
                spawn(watch_detached(
                    Arc::clone(&self.shared),
                    Arc::clone(&self.entry),
                    self.number,
                    wake,
                ));
                false
            }
            // Superseded: the newer attachment owns the session.
            _ => false,
        }
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        if !self.released && self.detach() {
            let (shared, entry) = (Arc::clone(&self.shared), Arc::clone(&self.entry));
            spawn(async move { finish(&shared, &entry).await });
        }
    }
}

/// Spawns on the current runtime; without one (only while the process shuts down) the work is
/// dropped.
fn spawn(task: impl std::future::Future<Output = ()> + Send + 'static) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(task);
    }
}

/// Owns a session detached by attachment `epoch`: runs its TTL, and finishes it if it ends
/// while detached (expiry, or a hub close / overflow). Stops as soon as a connection resumes it.
async fn watch_detached(
    shared: Arc<Shared>,
    entry: Arc<SessionEntry>,
    epoch: u64,
    wake: Arc<Notify>,
) {
    loop {
        let deadline = {
            let mut session = entry.lock();
            let mine = session.attachment() == epoch
                && matches!(session.state(), SessionState::Detached { .. });
            if mine {
                session.handle_timeout(clock::now());
                // Detached: there is no transport to write to and nothing is delivered.
                while session.poll_output().is_some() {}
            }
            match session.state() {
                SessionState::Ended { .. } => None,
                SessionState::Detached { .. } if mine => session.poll_timeout(),
                _ => return,
            }
        };
        if deadline.is_some() && shared.hub.store().is_shared() {
            // A message sent to the detached session is written now, not at the next resume
            // (a failure is retried at the next wake-up or at hand-over).
            let mut delivery = entry.delivery().await;
            if let Err(StoreError::NotOwner) = persist(&shared, &entry, &mut delivery, None).await {
                drop(delivery);
                entry.lock().hand_off(clock::now());
                shared.hub.store().remove(entry.id());
                return;
            }
        }
        match deadline {
            None => return finish(&shared, &entry).await,
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(clock::deadline(at)) => {}
                    () = wake.notified() => {}
                }
            }
        }
    }
}

/// A session ended: the one caller that removes it from the store runs `on_close` (after any
/// delivery still in progress), if `on_open` ran.
async fn finish(shared: &Shared, entry: &SessionEntry) {
    let store = shared.hub.store();
    if store.remove(entry.id()).is_none() {
        return;
    }
    store.forget(entry.id()).await;
    let delivery = entry.delivery().await;
    if delivery.opened {
        shared.app.on_close(&shared.hub, entry.id());
    }
}

/// `/_fault/restart`: forget every session as a restarted server would — every connection is
/// dropped without a close frame, the store is emptied and `on_close` runs for each session.
pub(crate) async fn restart(shared: &Shared) {
    shared.faults.drop_all();
    let entries = shared.hub.store().clear();
    for entry in &entries {
        let mut session = entry.lock();
        session.abandon(RESTART.0, RESTART.1);
        session.wake_owner();
    }
    for entry in entries {
        shared.hub.store().forget(entry.id()).await;
        let delivery = entry.delivery().await;
        if delivery.opened {
            shared.app.on_close(&shared.hub, entry.id());
        }
    }
}

/// `/_fault/close`: every attached session's connection gets CLOSE 1012 and ends; the sessions
/// stay, so each client resumes with nothing lost (a graceful restart of the transport layer).
pub(crate) fn close_connections(shared: &Shared) {
    for entry in shared.hub.store().all() {
        let mut session = entry.lock();
        session.close_connection(RESTART.0, "server closing connections");
        session.wake_owner();
    }
}

/// Another node has a handshake for session `id` (a shared store's release request): if it is
/// here, its connection is superseded and it is written with ownership passed to node `to`, in
/// one step, then dropped here without `on_close` (the session lives on there). `Gone`: not
/// here. `Busy`: the write failed; the session stays here, detached, under its TTL watch.
pub(crate) async fn hand_over(shared: &Arc<Shared>, id: &str, to: &str) -> RemoteReply {
    let store = shared.hub.store();
    let Some(entry) = store.get(id) else {
        return RemoteReply::Gone;
    };
    // Waits for a step in progress: its frames are written before the hand-over.
    let mut delivery = entry.delivery().await;
    let epoch = {
        let mut session = entry.lock();
        if matches!(session.state(), SessionState::Ended { .. }) {
            return RemoteReply::Gone;
        }
        session.hand_off(clock::now());
        // Wakes the connection (or TTL watch): it finds itself superseded and stops.
        session.wake_owner();
        session.attachment()
    };
    match persist(shared, &entry, &mut delivery, Some(to)).await {
        Ok(()) => {
            store.remove(id);
            RemoteReply::Done
        }
        Err(_) => {
            drop(delivery);
            let wake = Arc::new(Notify::new());
            entry.lock().set_owner(Arc::clone(&wake));
            spawn(watch_detached(Arc::clone(shared), entry, epoch, wake));
            RemoteReply::Busy
        }
    }
}
