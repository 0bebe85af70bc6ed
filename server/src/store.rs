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

use crate::message::SessionId;
use crate::session::{ServerSession, SessionConfig};
use holdfast::core::Instant;
use std::collections::HashMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
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

/// Which app callbacks a session has had. Guarded by the delivery lock, so that one session's
/// callbacks never overlap and keep their order.
#[derive(Debug, Default)]
pub(crate) struct Delivery {
    /// `on_open` ran.
    pub(crate) opened: bool,
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
