//! The session hub: which sessions are open, and sending to one or all of them.
//!
//! Each session owns a bounded queue ([`SESSION_QUEUE`] entries) drained by its connection task.
//! Sending never waits: a full queue means the client cannot keep up, so the session is closed
//! with `1013` (try again later) instead of growing memory without bound. The hub only holds
//! queue handles, so it could later be backed by a shared broker.

use crate::app::Message;
use holdfast::protocol::CloseFrame;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, Notify};

/// Most messages queued for one session before it is closed as too slow.
pub const SESSION_QUEUE: usize = 1024;

/// What a session task is asked to do.
#[derive(Debug)]
pub(crate) enum Command {
    /// Send a data frame.
    Send(Message),
    /// Send CLOSE with this code and reason, then close the connection.
    Close(CloseFrame),
}

struct Entry {
    tx: mpsc::Sender<Command>,
    overflow: Arc<Notify>,
}

/// The receiving half a session task owns.
pub(crate) struct SessionQueue {
    /// Commands for this session, in order.
    pub(crate) rx: mpsc::Receiver<Command>,
    /// Signalled when a send found the queue full.
    pub(crate) overflow: Arc<Notify>,
}

/// The open sessions. Cheap to clone; every clone sees the same sessions.
#[derive(Clone, Default)]
pub struct Hub {
    sessions: Arc<Mutex<HashMap<String, Entry>>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("sessions", &self.session_count())
            .finish()
    }
}

impl Hub {
    /// Creates an empty hub.
    pub fn new() -> Self {
        Hub::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // A panic elsewhere while holding the lock leaves the map consistent (every operation is
        // a single insert/remove/lookup), so a poisoned lock is safe to keep using.
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `msg` for `session`. Returns `false` if the session is not open or its queue is
    /// full (the session is then closed with 1013).
    pub fn send(&self, session: &str, msg: Message) -> bool {
        let map = self.lock();
        match map.get(session) {
            Some(entry) => push(entry, Command::Send(msg)),
            None => false,
        }
    }

    /// Queues `msg` for every open session; returns how many accepted it.
    pub fn broadcast(&self, msg: Message) -> usize {
        let map = self.lock();
        map.values()
            .filter(|entry| push(entry, Command::Send(msg.clone())))
            .count()
    }

    /// Asks `session` to send CLOSE with `code` and `reason` (after the messages already queued)
    /// and close. Codes 4000–4499 are final for the client. Returns `false` if it is not open.
    pub fn close(&self, session: &str, code: u16, reason: &str) -> bool {
        let map = self.lock();
        match map.get(session) {
            Some(entry) => push(
                entry,
                Command::Close(CloseFrame {
                    code,
                    reason: reason.to_owned(),
                }),
            ),
            None => false,
        }
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.lock().len()
    }

    /// The ids of the open sessions.
    pub fn sessions(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Registers a new session under a fresh random id.
    pub(crate) fn register(&self) -> (String, SessionQueue) {
        let (tx, rx) = mpsc::channel(SESSION_QUEUE);
        let overflow = Arc::new(Notify::new());
        let mut map = self.lock();
        let mut id = new_session_id();
        while map.contains_key(&id) {
            id = new_session_id();
        }
        map.insert(
            id.clone(),
            Entry {
                tx,
                overflow: Arc::clone(&overflow),
            },
        );
        (id, SessionQueue { rx, overflow })
    }

    /// Removes a session (its task ended).
    pub(crate) fn unregister(&self, session: &str) {
        self.lock().remove(session);
    }
}

fn push(entry: &Entry, cmd: Command) -> bool {
    match entry.tx.try_send(cmd) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            entry.overflow.notify_one();
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

const ID_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A fresh session id: 22 characters of `[A-Za-z0-9_-]` (132 bits from the OS random source),
/// valid for [`holdfast::protocol::is_valid_session_id`].
pub fn new_session_id() -> String {
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
mod tests {
    use super::new_session_id;
    use holdfast::protocol::is_valid_session_id;

    #[test]
    fn session_ids_are_valid_and_distinct() {
        let a = new_session_id();
        let b = new_session_id();
        assert_eq!(a.len(), 22);
        assert!(is_valid_session_id(&a));
        assert_ne!(a, b);
    }
}
