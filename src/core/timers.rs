//! The timer table: one optional deadline per [`Timer`]; the earliest is what the glue arms.

use super::time::Instant;

/// Every deadline the machine keeps. Order matters only for ties: earlier variants run first,
/// so a dead-link verdict is reached before a ping would be sent at the same instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// The current connection attempt must be trusted (handshake answered) by then.
    Connect,
    /// Nothing arrived since `heartbeat_timeout` (or a probe window): the link is dead.
    Liveness,
    /// Time to send a heartbeat ping.
    Ping,
    /// A delayed cumulative ACK is due.
    Ack,
    /// The connection stayed up long enough: reset the attempt counter.
    MinUptime,
    /// The backoff delay is over: start the next attempt.
    Backoff,
    /// Short polling: the next poll is due.
    Poll,
    /// The POST in flight must be answered by then, or the upstream is dead (a request stuck
    /// behind the browser's per-origin connection limit ends here too).
    Post,
    /// Upgrade back: the next probe of WebSocket is due.
    Probe,
    /// The probe out must have completed its round trip by then.
    ProbeDeadline,
}

const ALL: [Timer; 10] = [
    Timer::Connect,
    Timer::Liveness,
    Timer::Ping,
    Timer::Ack,
    Timer::MinUptime,
    Timer::Backoff,
    Timer::Poll,
    Timer::Post,
    Timer::Probe,
    Timer::ProbeDeadline,
];

/// Deadlines keyed by [`Timer`].
#[derive(Debug, Default, Clone)]
pub struct TimerTable {
    slots: [Option<Instant>; 10],
}

impl TimerTable {
    fn slot(&mut self, t: Timer) -> Option<&mut Option<Instant>> {
        self.slots.get_mut(t as usize)
    }

    /// Arms `t` at `at`, replacing any earlier deadline.
    pub fn set(&mut self, t: Timer, at: Instant) {
        if let Some(slot) = self.slot(t) {
            *slot = Some(at);
        }
    }

    /// Disarms `t`.
    pub fn stop(&mut self, t: Timer) {
        if let Some(slot) = self.slot(t) {
            *slot = None;
        }
    }

    /// The deadline of `t`, if armed.
    pub fn get(&self, t: Timer) -> Option<Instant> {
        self.slots.get(t as usize).copied().flatten()
    }

    /// Disarms every timer.
    pub fn clear(&mut self) {
        self.slots = Default::default();
    }

    /// The earliest armed deadline.
    pub fn next(&self) -> Option<Instant> {
        self.slots.iter().flatten().min().copied()
    }

    /// The first timer (by deadline, then by variant order) whose deadline is at or before `now`;
    /// it is disarmed and returned. Call in a loop until `None`.
    pub fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        let mut best: Option<(Instant, Timer)> = None;
        for t in ALL {
            if let Some(at) = self.get(t) {
                if at <= now && best.is_none_or(|(b, _)| at < b) {
                    best = Some((at, t));
                }
            }
        }
        let (_, t) = best?;
        self.stop(t);
        Some(t)
    }
}
