//! Heartbeat bookkeeping: when we last sent and heard anything, the ping in flight, the RTT.
//!
//! Deadlines are timestamps; [`super::Machine`] compares them with `now` on every input, so a
//! throttled or late timer never hides a dead link.

use super::time::Instant;

/// Per-connection heartbeat state (reset on every open).
#[derive(Debug, Clone, Default)]
pub struct Heartbeat {
    /// Effective ping interval for this connection.
    pub interval_ms: u64,
    /// Effective dead-link timeout for this connection.
    pub timeout_ms: u64,
    /// Last time anything was sent.
    pub last_sent: Instant,
    /// Last time anything was received.
    pub last_heard: Instant,
    /// Last time a ping was sent.
    pub last_pinged: Instant,
    /// Next ping id.
    pub next_id: u64,
    /// The ping in flight and when it was sent, for RTT.
    pub outstanding: Option<(u64, Instant)>,
    /// Smoothed RTT (RFC 6298 style, α = 1/8).
    pub srtt_ms: Option<u64>,
    /// The ping of a probe sent on resume from a freeze. Until its pong (or a later ping's)
    /// arrives, inbound data is not proof of life: the network stack may have read it before
    /// the page froze and only delivered it now, so a black-holed link would look alive until
    /// the next request's deadline instead of failing the probe window.
    pub thaw_probe: Option<u64>,
}

impl Heartbeat {
    /// When the next ping is due: an interval after the quieter direction went quiet.
    pub fn ping_due(&self) -> Instant {
        // Inbound quiet counts from the last ping too, so an unanswered ping is not repeated
        // every millisecond.
        let inbound_quiet_since = self.last_heard.max(self.last_pinged);
        self.last_sent
            .min(inbound_quiet_since)
            .plus(self.interval_ms)
    }

    /// Records a pong answering `id` received at `now`. Returns true when it answers the thaw
    /// probe (which ends it): the link is alive again.
    pub fn on_pong(&mut self, id: u64, now: Instant) -> bool {
        let thawed = self.thaw_probe.is_some_and(|probe| id >= probe);
        if thawed {
            self.thaw_probe = None;
        }
        if let Some((sent_id, at)) = self.outstanding {
            if sent_id == id {
                let sample = now.since(at);
                self.srtt_ms = Some(match self.srtt_ms {
                    None => sample,
                    Some(s) => (s.saturating_mul(7).saturating_add(sample)) / 8,
                });
                self.outstanding = None;
            }
        }
        thawed
    }

    /// Allocates a ping id sent at `now`.
    pub fn next_ping(&mut self, now: Instant) -> u64 {
        self.next_id = self.next_id.wrapping_add(1);
        self.outstanding = Some((self.next_id, now));
        self.last_sent = now;
        self.last_pinged = now;
        self.next_id
    }
}
