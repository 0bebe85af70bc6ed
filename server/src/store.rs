//! Where sessions live: the [`SessionStore`] trait and the in-memory [`MemoryStore`] (the
//! default), plus [`SessionEntry`], the handle a store keeps per session.
//!
//! A store owns sessions by id and enforces `max_sessions`. Each entry holds its
//! [`ServerSession`] behind a short-lived lock, a wake-up for whichever task currently owns the
//! session (its attached connection, or the TTL watch while detached), and a delivery guard that
//! keeps one session's app callbacks in order even across a connection takeover.
//!
//! The trait is the seam for a shared store later (Redis: a stream per session with the seq as
//! cursor, TTL keys for expiry): such a store would keep node-local entries for the sessions
//! attached here and persist what [`ServerSession`] keeps (seqs, log, receiver position) so
//! another node can resume them.

use crate::message::{Message, SessionId};
use crate::session::{Durable, ServerSession, SessionConfig};
use holdfast::core::Instant;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// Why a store cannot create a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreFull;

impl fmt::Display for StoreFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("too many sessions")
    }
}

impl std::error::Error for StoreFull {}

/// The sessions of one server, by id. Object-safe; every method is quick and never waits on
/// app code, and no implementation may call back into the server while holding its own locks.
pub trait SessionStore: Send + Sync + 'static {
    /// Creates a session under a fresh unique id, detached since `now`, or `Err(StoreFull)` when
    /// the store is at its bound. Call when a handshake asks for a new session (or for one that
    /// is unknown), then attach it at once.
    fn create(&self, config: SessionConfig, now: Instant) -> Result<Arc<SessionEntry>, StoreFull>;

    /// The live session `id`, if any. Call to resume it or to send to it.
    fn get(&self, id: &str) -> Option<Arc<SessionEntry>>;

    /// Removes session `id`. Exactly one caller gets `Some` for a session: that caller runs the
    /// app's `on_close`. Call when a session has ended.
    fn remove(&self, id: &str) -> Option<Arc<SessionEntry>>;

    /// Every live session (a snapshot: call for broadcasts and counts).
    fn all(&self) -> Vec<Arc<SessionEntry>>;

    /// Removes and returns every session (a restart forgets them all).
    fn clear(&self) -> Vec<Arc<SessionEntry>>;

    /// How many sessions are alive, attached or not.
    fn len(&self) -> usize;

    /// Whether no session is alive.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether sessions are shared with other nodes (a Redis store): then the server persists
    /// every change before it reaches the client ([`persist`](SessionStore::persist)), takes
    /// sessions over from other nodes ([`claim`](SessionStore::claim)) and forwards requests
    /// for sessions held elsewhere ([`forward`](SessionStore::forward)). `false` (the default):
    /// every other method below keeps its default and costs nothing.
    fn is_shared(&self) -> bool {
        false
    }

    /// The session `id` brought to this node, if it is alive anywhere: the local entry, or —
    /// for a shared store — the session another node holds (it is asked to hand it over, or,
    /// if that node is dead, taken from it) restored from the shared state. `Ok(None)`: no such
    /// live session. `Err`: the shared store cannot answer now (the caller says try-later).
    /// Call when a handshake names a session.
    fn claim<'a>(
        &'a self,
        id: &'a str,
        _config: &'a SessionConfig,
        _now: Instant,
    ) -> BoxFuture<'a, Result<Option<Arc<SessionEntry>>, StoreError>> {
        Box::pin(async move { Ok(self.get(id)) })
    }

    /// Records `state` (the session's [`Durable`] state, with the log entries not recorded
    /// yet) and whether `on_open` ran, so that any node can restore the session. With
    /// `hand_to`, ownership passes to that node in the same write. `Err(NotOwner)`: another
    /// node took the session over; drop it here. Call (shared stores only) before anything the
    /// change produced reaches the client.
    fn persist<'a>(
        &'a self,
        _id: &'a str,
        _state: Durable,
        _opened: bool,
        _hand_to: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    /// Forgets the shared state of ended session `id` (after [`remove`](SessionStore::remove)).
    fn forget<'a>(&'a self, _id: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }

    /// Hands `request` for session `id` to the node that holds the session, and waits for its
    /// answer. Call when a request names a session this node does not hold. The default (one
    /// node): [`RemoteReply::Gone`].
    fn forward<'a>(
        &'a self,
        _id: &'a str,
        _request: RemoteRequest,
    ) -> BoxFuture<'a, Result<RemoteReply, StoreError>> {
        Box::pin(async { Ok(RemoteReply::Gone) })
    }

    /// The inbound position (WELCOME's `ack`) of live session `id` held by another node,
    /// without taking it over: what a probe is answered with. `Ok(None)`: no such session.
    fn peek<'a>(&'a self, _id: &'a str) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        Box::pin(async { Ok(None) })
    }

    /// Sends `msg` to the sessions every other node holds (a broadcast's remote half).
    fn publish(&self, _msg: &Message) {}

    /// What answers the requests other nodes forward here. Called once, by the router.
    fn serve_remote(&self, _handler: Arc<dyn RemoteHandler>) {}

    /// A fault for tests: makes the shared store go away (Redis: `SHUTDOWN NOSAVE`; the test
    /// harness restarts it). `false` when there is none.
    fn fault_outage<'a>(&'a self) -> BoxFuture<'a, bool> {
        Box::pin(async { false })
    }
}

/// A boxed future, as the store's async methods return (the trait stays object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a shared store could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The shared store (or the node holding the session) cannot be reached now: the client is
    /// told to try later, nothing is lost.
    Unavailable(String),
    /// Another node holds the session now: this node's copy is stale.
    NotOwner,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(why) => write!(f, "session store unavailable: {why}"),
            StoreError::NotOwner => f.write_str("session held by another node"),
        }
    }
}

impl std::error::Error for StoreError {}

/// A request one node hands to the node that holds a session ([`SessionStore::forward`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteRequest {
    /// A send POST's body (a batch) for the session's HTTP link.
    Send(Vec<u8>),
    /// A poll GET for the session's poll link.
    Poll {
        /// The poll's cursor.
        cursor: u64,
        /// Whether the poll may be held (long polling).
        hold: bool,
    },
    /// Hand the session over to node `to` (it has a handshake for it).
    Release {
        /// The node taking the session.
        to: String,
    },
}

/// What the node holding a session answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteReply {
    /// Done (a send handed over, a session released).
    Done,
    /// A poll's answer: the batch body.
    Batch(Vec<u8>),
    /// The session has no live link there (`410`: the client opens again), or — for a release
    /// — is not held there.
    Gone,
    /// It could not be done now (the shared store failed): try later.
    Busy,
}

/// Answers requests forwarded from other nodes; the server implements it.
pub trait RemoteHandler: Send + Sync + 'static {
    /// Does `request` for session `id` here and answers it.
    fn handle(&self, id: String, request: RemoteRequest) -> BoxFuture<'static, RemoteReply>;

    /// Sends `msg` to every session this node holds (a broadcast from another node).
    fn broadcast(&self, msg: Message);
}

/// One session as a store holds it. Lock it with [`SessionEntry::lock`] for a few session calls;
/// never hold the lock across app code or an `.await`.
pub struct SessionEntry {
    id: SessionId,
    inner: Mutex<Inner>,
    delivery: tokio::sync::Mutex<Delivery>,
}

struct Inner {
    session: ServerSession,
    /// Wakes the task that owns the session now (its connection, or its TTL watch).
    owner: Option<Arc<Notify>>,
}

/// Which app callbacks a session has had, and what a shared store has recorded of it. Guarded
/// by the delivery lock, so that one session's callbacks never overlap and keep their order,
/// and its writes to a shared store never race.
#[derive(Debug, Default)]
pub(crate) struct Delivery {
    /// `on_open` ran.
    pub(crate) opened: bool,
    /// Shared stores: what the last successful persist recorded.
    pub(crate) persisted: Option<Persisted>,
}

/// What a shared store holds of a session: persisting again is needed when any of it changed
/// (or, to refresh the record's expiry, when it is old).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Persisted {
    pub(crate) last_out: u64,
    pub(crate) inbound: u64,
    pub(crate) attachment: u64,
    pub(crate) log_start: u64,
    pub(crate) ended: bool,
    pub(crate) opened: bool,
    pub(crate) at: std::time::Instant,
}

impl fmt::Debug for SessionEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionEntry")
            .field("id", &self.id)
            .finish()
    }
}

impl SessionEntry {
    /// Wraps `session` for a store.
    pub fn new(session: ServerSession) -> Self {
        SessionEntry {
            id: session.id().to_owned(),
            inner: Mutex::new(Inner {
                session,
                owner: None,
            }),
            delivery: tokio::sync::Mutex::new(Delivery::default()),
        }
    }

    /// Wraps a session restored from a shared store: `opened` says whether `on_open` already
    /// ran for it (on another node), `persisted` what the store holds.
    pub(crate) fn restored(
        session: ServerSession,
        opened: bool,
        persisted: Option<Persisted>,
    ) -> Self {
        let entry = SessionEntry::new(session);
        if let Ok(mut delivery) = entry.delivery.try_lock() {
            delivery.opened = opened;
            delivery.persisted = persisted;
        }
        entry
    }

    /// The session id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Locks the session.
    pub fn lock(&self) -> Locked<'_> {
        // Every session call leaves the session consistent before it could panic (and none
        // should), so a poisoned lock is safe to keep using.
        Locked(self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The delivery guard: held while the app's callbacks for this session run.
    pub(crate) async fn delivery(&self) -> tokio::sync::MutexGuard<'_, Delivery> {
        self.delivery.lock().await
    }
}

/// A locked session: derefs to the [`ServerSession`].
pub struct Locked<'a>(MutexGuard<'a, Inner>);

impl Deref for Locked<'_> {
    type Target = ServerSession;
    fn deref(&self) -> &ServerSession {
        &self.0.session
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut ServerSession {
        &mut self.0.session
    }
}

impl Locked<'_> {
    /// Makes `owner` the task to wake from now on, waking the previous owner so it notices it
    /// was superseded (a taken-over connection, a TTL watch whose session was resumed).
    pub(crate) fn set_owner(&mut self, owner: Arc<Notify>) {
        if let Some(previous) = self.0.owner.replace(owner) {
            previous.notify_one();
        }
    }

    /// Wakes the owner: the session has output for it, or changed state.
    pub(crate) fn wake_owner(&self) {
        if let Some(owner) = &self.0.owner {
            owner.notify_one();
        }
    }
}

/// The default store: sessions in a map in this process, at most `max_sessions` of them.
#[derive(Debug)]
pub struct MemoryStore {
    sessions: Mutex<HashMap<SessionId, Arc<SessionEntry>>>,
    max_sessions: usize,
}

impl MemoryStore {
    /// An empty store that holds at most `max_sessions` sessions.
    pub fn new(max_sessions: usize) -> Self {
        MemoryStore {
            sessions: Mutex::new(HashMap::new()),
            max_sessions,
        }
    }

    /// Adds `entry` (a session restored from a shared store), unless the store is full or
    /// already holds a session of that id.
    pub(crate) fn insert(&self, entry: Arc<SessionEntry>) -> Result<Arc<SessionEntry>, StoreFull> {
        let mut map = self.map();
        if let Some(existing) = map.get(entry.id()) {
            return Ok(Arc::clone(existing));
        }
        if map.len() >= self.max_sessions {
            return Err(StoreFull);
        }
        map.insert(entry.id().to_owned(), Arc::clone(&entry));
        Ok(entry)
    }

    fn map(&self) -> MutexGuard<'_, HashMap<SessionId, Arc<SessionEntry>>> {
        // Each operation is a single insert/remove/lookup: a poisoned map is still consistent.
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SessionStore for MemoryStore {
    fn create(&self, config: SessionConfig, now: Instant) -> Result<Arc<SessionEntry>, StoreFull> {
        let mut map = self.map();
        if map.len() >= self.max_sessions {
            return Err(StoreFull);
        }
        let mut id = new_session_id();
        while map.contains_key(&id) {
            id = new_session_id();
        }
        let entry = Arc::new(SessionEntry::new(ServerSession::new(
            id.clone(),
            config,
            now,
        )));
        map.insert(id, Arc::clone(&entry));
        Ok(entry)
    }

    fn get(&self, id: &str) -> Option<Arc<SessionEntry>> {
        self.map().get(id).cloned()
    }

    fn remove(&self, id: &str) -> Option<Arc<SessionEntry>> {
        self.map().remove(id)
    }

    fn all(&self) -> Vec<Arc<SessionEntry>> {
        self.map().values().cloned().collect()
    }

    fn clear(&self) -> Vec<Arc<SessionEntry>> {
        self.map().drain().map(|(_, entry)| entry).collect()
    }

    fn len(&self) -> usize {
        self.map().len()
    }
}

const ID_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A fresh session id: 22 characters of `[A-Za-z0-9_-]` (132 bits from the OS random source),
/// valid for [`holdfast::protocol::is_valid_session_id`]. Unguessable, because a session id is
/// all a client needs to resume a session.
pub fn new_session_id() -> SessionId {
    let mut bytes = [0u8; 17];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: fall back to time and a counter. Unique, not unguessable.
        fallback_bytes(&mut bytes);
    }
    let mut id = String::with_capacity(22);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 && id.len() < 22 {
            bits -= 6;
            let idx = ((acc >> bits) & 0x3f) as usize;
            id.push(char::from(ID_ALPHABET.get(idx).copied().unwrap_or(b'A')));
        }
        acc &= (1 << bits) - 1;
    }
    id
}

fn fallback_bytes(out: &mut [u8; 17]) {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut src = Vec::with_capacity(24);
    src.extend_from_slice(&t.to_le_bytes());
    src.extend_from_slice(&n.to_le_bytes());
    for (o, s) in out.iter_mut().zip(src) {
        *o = s;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)] // a failing test may panic
mod tests {
    use super::*;
    use holdfast::protocol::is_valid_session_id;

    #[test]
    fn session_ids_are_valid_and_distinct() {
        let a = new_session_id();
        let b = new_session_id();
        assert_eq!(a.len(), 22);
        assert!(is_valid_session_id(&a));
        assert_ne!(a, b);
    }

    #[test]
    fn the_memory_store_is_bounded_and_removes_once() {
        let store = MemoryStore::new(2);
        let now = Instant::from_millis(0);
        let a = store.create(SessionConfig::default(), now).unwrap();
        let b = store.create(SessionConfig::default(), now).unwrap();
        assert_ne!(a.id(), b.id());
        assert_eq!(
            store.create(SessionConfig::default(), now).unwrap_err(),
            StoreFull
        );
        assert_eq!(
            store.get(a.id()).map(|e| e.id().to_owned()),
            Some(a.id().to_owned())
        );
        assert!(store.remove(a.id()).is_some());
        assert!(store.remove(a.id()).is_none());
        assert_eq!(store.len(), 1);
        store.create(SessionConfig::default(), now).unwrap();
        assert_eq!(store.clear().len(), 2);
        assert!(store.is_empty());
    }
}
