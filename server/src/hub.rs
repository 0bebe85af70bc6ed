//! The hub: how the app (and anything else holding a [`ServerHandle`](crate::ServerHandle))
//! talks to sessions. A facade over the [`SessionStore`].
//!
//! Nothing here waits. Sending records the message in the session's bounded outbound log and
//! wakes the task that owns the session (its connection, which writes the frame; or its TTL
//! watch, while the client is away and the message waits for a resume). A session whose log is
//! full is ended with CLOSE 1013 instead of growing memory without bound; its owner then runs
//! `on_close`, never the hub, so an app calling the hub from a callback is never re-entered.

use crate::clock;
use crate::message::{Message, SessionId};
use crate::session::{SendError, SessionState};
use crate::store::{MemoryStore, SessionEntry, SessionStore};
use std::sync::Arc;

pub use crate::store::new_session_id;

/// The live sessions. Cheap to clone; every clone sees the same sessions.
#[derive(Clone)]
pub struct Hub {
    store: Arc<dyn SessionStore>,
}

impl Default for Hub {
    /// A hub over an in-memory store with the default `max_sessions`.
    fn default() -> Self {
        Hub::with_store(Arc::new(MemoryStore::new(
            crate::ServerConfig::default().max_sessions,
        )))
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("sessions", &self.session_count())
            .finish()
    }
}

impl Hub {
    /// A hub over an in-memory store with the default `max_sessions` (what [`crate::router`]
    /// builds, with the configured bound).
    pub fn new() -> Self {
        Hub::default()
    }

    /// A hub over `store`.
    pub fn with_store(store: Arc<dyn SessionStore>) -> Self {
        Hub { store }
    }

    /// The store behind the hub.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    /// Sends `msg` to `session`: `Ok` once it is accepted (it then reaches the client exactly
    /// once, now or after a resume, unless the session ends first). `Err(UnknownSession)` if no
    /// such session is alive; `Err(BufferFull)` if its outbound log is full — the message is
    /// refused and the session ends with CLOSE 1013; `Err(Ended)` if it is ending.
    pub fn send(&self, session: &str, msg: Message) -> Result<(), SendError> {
        let entry = self.store.get(session).ok_or(SendError::UnknownSession)?;
        send_to(&self.store, &entry, msg)
    }

    /// Sends `msg` to every live session (attached or waiting for a resume); returns how many
    /// accepted it.
    ///
    /// With a shared store (several nodes), the message also goes to every other node, which
    /// sends it to the sessions it holds; the count is this node's.
    pub fn broadcast(&self, msg: Message) -> usize {
        self.store.publish(&msg);
        self.broadcast_here(msg)
    }

    /// Sends `msg` to every session this node holds; returns how many accepted it.
    pub(crate) fn broadcast_here(&self, msg: Message) -> usize {
        self.store
            .all()
            .iter()
            .filter(|entry| send_to(&self.store, entry, msg.clone()).is_ok())
            .count()
    }

    /// Ends `session` for good: CLOSE `code` `reason` goes to the client after what was already
    /// sent (if it is attached; a detached session just ends), then `on_close` runs. Codes
    /// 4000–4499 are final for the client. Returns `false` if it is not alive.
    pub fn close(&self, session: &str, code: u16, reason: &str) -> bool {
        let Some(entry) = self.store.get(session) else {
            return false;
        };
        let mut locked = entry.lock();
        if matches!(locked.state(), SessionState::Ended { .. }) {
            return false;
        }
        locked.close(code, reason);
        locked.wake_owner();
        true
    }

    /// How many sessions are alive, attached or waiting for a resume.
    pub fn session_count(&self) -> usize {
        self.store.len()
    }

    /// How many sessions have a connection attached right now.
    pub fn attached_count(&self) -> usize {
        self.store
            .all()
            .iter()
            .filter(|entry| matches!(entry.lock().state(), SessionState::Attached { .. }))
            .count()
    }

    /// The ids of the live sessions.
    pub fn sessions(&self) -> Vec<SessionId> {
        self.store
            .all()
            .iter()
            .map(|entry| entry.id().to_owned())
            .collect()
    }
}

/// Records `msg` in `entry`'s session and wakes whoever must act on it.
fn send_to(
    store: &Arc<dyn SessionStore>,
    entry: &SessionEntry,
    msg: Message,
) -> Result<(), SendError> {
    let mut locked = entry.lock();
    let result = locked.send(clock::now(), msg);
    // Attached: the connection has a frame to write. Ended: the owner runs `on_close`.
    // Detached and accepted: the message waits in the log; only a shared store's TTL watch
    // needs waking (it writes the message to the store).
    if store.is_shared() || !matches!(locked.state(), SessionState::Detached { .. }) {
        locked.wake_owner();
    }
    result.map(drop)
}
