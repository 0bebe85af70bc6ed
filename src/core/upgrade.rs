//! Upgrade back (PROTOCOL.md §4 "Probes", §9): while the session runs on a rung below the
//! chain's WebSocket, a probe connection checks now and then whether WebSocket works again, and
//! when it does the session moves up without losing or duplicating anything.
//!
//! Only WebSocket is probed: it is the rung worth climbing back to, and the one whose trust a
//! probe can prove without disturbing the session (a probe HELLO is answered without a
//! takeover). Between HTTP transports the session stays until its next reconnect.

use super::ConnId;

/// Where a probe is in its round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbePhase {
    /// The probe's WebSocket is opening.
    Opening,
    /// Probe HELLO sent; waiting for its WELCOME (trust).
    Hello,
    /// Trusted; the plain HELLO that takes the session over was sent; waiting for its WELCOME.
    TakeOver,
    /// As `TakeOver`, but the old data connection has ended meanwhile (the server closes it as
    /// soon as the takeover reaches it, and that close may arrive before the WELCOME): the probe
    /// is the session's only connection now. Nothing is sent until its WELCOME; if it fails, the
    /// session reconnects like after any lost connection.
    Replacing,
}

/// The upgrade state beside an open session. Exactly one of these; only meaningful while the
/// machine is `Open`, and reset whenever it leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upgrade {
    /// Nothing to probe: on the best rung, no WebSocket above it, probing disabled, or not open.
    Off,
    /// The next probe starts when the `Probe` timer fires; `delay` is how long that wait was (it
    /// doubles after every failed probe, up to `upgradeProbeMaxMs`).
    Waiting {
        /// The current wait between probes.
        delay: u64,
    },
    /// A probe connection is out.
    Probing {
        /// The probe's connection (the data connection is the state's).
        conn: ConnId,
        /// The probed rung's index in the chain.
        transport: usize,
        /// Where its round trip is.
        phase: ProbePhase,
        /// The wait that led to it.
        delay: u64,
    },
}

impl Upgrade {
    /// The probe's connection, if one is out.
    pub fn probe_conn(&self) -> Option<ConnId> {
        match self {
            Upgrade::Probing { conn, .. } => Some(*conn),
            Upgrade::Off | Upgrade::Waiting { .. } => None,
        }
    }

    /// The wait after this one failed: doubled, capped at `max`.
    pub(crate) fn backed_off(delay: u64, max: u64) -> u64 {
        delay.saturating_mul(2).min(max).max(1)
    }
}
