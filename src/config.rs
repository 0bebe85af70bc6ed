//! Client options: every option the core uses, its default, and validation that names the option.
//!
//! Option names in errors are the camelCase names JavaScript users write (`heartbeatIntervalMs`),
//! so a `TypeError` thrown at construction points at the exact key.

use crate::text::dec;
use core::fmt;

/// One way of carrying the connection. The order in [`Config::transports`] is the fallback chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum TransportKind {
    /// Browser `WebSocket`.
    #[cfg_attr(feature = "serde", serde(rename = "websocket"))]
    WebSocket,
    /// `EventSource` down, `fetch` POST up.
    #[cfg_attr(feature = "serde", serde(rename = "sse"))]
    Sse,
    /// Held `fetch` GET down, POST up.
    #[cfg_attr(feature = "serde", serde(rename = "long-polling"))]
    LongPolling,
    /// `fetch` GET every interval down, POST up.
    #[cfg_attr(feature = "serde", serde(rename = "polling"))]
    Polling,
}

impl TransportKind {
    /// The name used in options and events (`"websocket"`, `"sse"`, `"long-polling"`, `"polling"`).
    pub fn name(self) -> &'static str {
        match self {
            TransportKind::WebSocket => "websocket",
            TransportKind::Sse => "sse",
            TransportKind::LongPolling => "long-polling",
            TransportKind::Polling => "polling",
        }
    }

    /// Every kind, best first: the default chain.
    pub const ALL: [TransportKind; 4] = [
        TransportKind::WebSocket,
        TransportKind::Sse,
        TransportKind::LongPolling,
        TransportKind::Polling,
    ];

    /// This kind's position in [`TransportKind::ALL`] (indexes per-kind settings).
    pub fn index(self) -> usize {
        match self {
            TransportKind::WebSocket => 0,
            TransportKind::Sse => 1,
            TransportKind::LongPolling => 2,
            TransportKind::Polling => 3,
        }
    }

    /// Parses an option name; `None` when it is not one of the four names.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "websocket" => Some(TransportKind::WebSocket),
            "sse" => Some(TransportKind::Sse),
            "long-polling" => Some(TransportKind::LongPolling),
            "polling" => Some(TransportKind::Polling),
            _ => None,
        }
    }
}

impl TransportKind {
    /// The option naming this kind's connect deadline, for error messages.
    pub fn connect_timeout_option(self) -> &'static str {
        match self {
            TransportKind::WebSocket => "connectTimeouts.websocket",
            TransportKind::Sse => "connectTimeouts.sse",
            TransportKind::LongPolling => "connectTimeouts.long-polling",
            TransportKind::Polling => "connectTimeouts.polling",
        }
    }
}

impl Config {
    /// The connect deadline for `kind`: its override, else `connect_timeout_ms`.
    pub fn connect_timeout_for(&self, kind: TransportKind) -> u64 {
        self.connect_timeouts
            .get(kind.index())
            .copied()
            .flatten()
            .unwrap_or(self.connect_timeout_ms)
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the client speaks over the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Protocol {
    /// The holdfast protocol (PROTOCOL.md): handshake, sequence numbers, acks, ping/pong.
    Holdfast,
    /// Plain messages to any WebSocket server: no envelope, no session. Heartbeat is optional.
    Raw(Option<RawHeartbeat>),
}

/// Heartbeat for raw mode, where the server does not speak the holdfast protocol.
///
/// With a raw heartbeat configured, any inbound message counts as liveness and inbound silence
/// for `heartbeatTimeoutMs` declares the link dead. Without one, raw mode cannot detect a silent
/// dead link (it still reconnects when the transport reports a close).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct RawHeartbeat {
    /// Text message sent every heartbeat interval of outbound or inbound quiet; `None` sends
    /// nothing and relies on the server's own traffic ("any inbound message counts").
    pub ping: Option<String>,
    /// An inbound text message equal to this is a heartbeat reply and is not delivered to the
    /// app; `None` delivers every message.
    pub pong: Option<String>,
}

/// What `send` does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
#[non_exhaustive]
pub enum OverflowPolicy {
    /// Refuse the new message (`send` returns `"rejected"`) and emit an `error` event.
    #[default]
    Reject,
    /// Drop the oldest queued messages to make room and emit an `error` event saying how many.
    DropOldest,
}

/// Every option of the client core, with documented defaults (see [`Config::default`]).
///
/// With the `serde` feature it (de)serializes with these Rust field names; a missing field takes
/// its default and an unknown one is an error. Call [`Config::validate`] on what you read.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Config {
    /// Fallback chain, best first. Default `[websocket, sse, long-polling, polling]`. Must be
    /// non-empty, without repeats. Raw mode supports `[websocket]` only (the JS options default
    /// to that in raw mode; a Rust `Config` must say so).
    pub transports: Vec<TransportKind>,
    /// Per-kind connect deadlines overriding `connect_timeout_ms`, indexed by
    /// [`TransportKind::index`] (`connectTimeouts: { sse: 3000 }` in JS). Default: none.
    pub connect_timeouts: [Option<u64>; 4],
    /// After this many consecutive failures of a transport that had been trusted (without
    /// `min_uptime_ms` of uptime in between), walk down the chain. Default 3.
    pub fallback_after_failures: u32,
    /// Short polling: how long after one poll answered the next one goes out. Default 1000 ms.
    /// Must be below `heartbeat_timeout_ms` (each answer is the link's proof of life).
    pub poll_interval_ms: u64,
    /// How long the transport that opened is remembered for the tab (`sessionStorage`), so the
    /// next client starts there. 0 disables. Default 600000 ms (10 minutes).
    pub remember_transport_ms: u64,
    /// Upgrade back: after opening on a rung below the chain's WebSocket, the first probe of
    /// WebSocket goes out this long after open (and at once on `online` or when the page becomes
    /// visible). 0 disables probing. Default 2000 ms.
    pub upgrade_probe_ms: u64,
    /// The wait between probes doubles after each failed one, up to this. Default 300000 ms.
    pub upgrade_probe_max_ms: u64,
    /// Protocol mode. Default [`Protocol::Holdfast`].
    pub protocol: Protocol,
    /// Send a heartbeat when nothing was sent or received for this long. Default 4000 ms.
    /// In protocol mode the effective interval is also at most half the server's idle timeout.
    pub heartbeat_interval_ms: u64,
    /// Declare the link dead when nothing arrived for this long. Default 8000 ms, so a silent
    /// link is detected within 10 s. Must exceed `heartbeat_interval_ms`.
    pub heartbeat_timeout_ms: u64,
    /// After a gap in which the client could not run (frozen page, sleep), how long a probe ping
    /// may take to be answered before the link is declared dead. Default 2000 ms.
    pub freeze_probe_ms: u64,
    /// Deadline for one connection attempt, from opening the transport to the handshake's answer.
    /// Default 5000 ms.
    pub connect_timeout_ms: u64,
    /// Backoff base delay. Default 500 ms.
    pub reconnect_delay_ms: u64,
    /// Backoff cap; full jitter is applied after the cap. Default 30000 ms.
    pub reconnect_max_delay_ms: u64,
    /// Backoff growth factor per attempt. Default 2.0. Must be finite and ≥ 1.
    pub reconnect_factor: f64,
    /// Give up after this many consecutive failed attempts. Default `None` (never).
    pub max_attempts: Option<u32>,
    /// A connection must stay open this long before the attempt counter resets. Default 5000 ms.
    pub min_uptime_ms: u64,
    /// Upper clamp for server retry hints (`Retry-After`, try-later). Default 60000 ms.
    pub max_retry_after_ms: u64,
    /// Most messages queued while not open. Default 1000.
    pub queue_max_messages: usize,
    /// Most bytes queued while not open. Default 1 MiB.
    pub queue_max_bytes: usize,
    /// What `send` does when the queue is full. Default [`OverflowPolicy::Reject`].
    pub overflow: OverflowPolicy,
    /// Largest message accepted in either direction. Default 1 MiB.
    pub max_message_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            transports: TransportKind::ALL.to_vec(),
            connect_timeouts: [None; 4],
            fallback_after_failures: 3,
            poll_interval_ms: 1_000,
            remember_transport_ms: 600_000,
            upgrade_probe_ms: 2_000,
            upgrade_probe_max_ms: 300_000,
            protocol: Protocol::Holdfast,
            heartbeat_interval_ms: 4_000,
            heartbeat_timeout_ms: 8_000,
            freeze_probe_ms: 2_000,
            connect_timeout_ms: 5_000,
            reconnect_delay_ms: 500,
            reconnect_max_delay_ms: 30_000,
            reconnect_factor: 2.0,
            max_attempts: None,
            min_uptime_ms: 5_000,
            max_retry_after_ms: 60_000,
            queue_max_messages: 1_000,
            queue_max_bytes: 1024 * 1024,
            overflow: OverflowPolicy::Reject,
            max_message_bytes: 1024 * 1024,
        }
    }
}

/// Longest delay any timer may be armed for: `setTimeout` overflows above 2^31−1 ms.
pub const MAX_TIMER_MS: u64 = (1 << 31) - 1;

/// An invalid option, naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The option's camelCase name.
    pub option: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl ConfigError {
    /// The `Display` text, built without `core::fmt`.
    pub fn text(&self) -> String {
        ["invalid option `", self.option, "`: ", &self.message].concat()
    }
}

impl std::error::Error for ConfigError {}

fn err(option: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        option,
        message: message.into(),
    }
}

fn ms_in(option: &'static str, v: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if v < min || v > max {
        return Err(err(
            option,
            [
                "must be between ",
                &dec(min),
                " and ",
                &dec(max),
                " ms, got ",
                &dec(v),
            ]
            .concat(),
        ));
    }
    Ok(())
}

impl Config {
    /// Checks every option; the error names the first invalid one.
    ///
    /// Call before building a `Machine`; the JS constructor turns the error into a `TypeError`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.transports.is_empty() {
            return Err(err("transports", "must name at least one transport"));
        }
        for (i, t) in self.transports.iter().enumerate() {
            if self.transports.iter().skip(i + 1).any(|u| u == t) {
                return Err(err("transports", ["lists `", t.name(), "` twice"].concat()));
            }
        }
        if let Protocol::Raw(_) = self.protocol {
            if self
                .transports
                .iter()
                .any(|t| *t != TransportKind::WebSocket)
            {
                return Err(err("transports", "raw mode supports only `websocket`"));
            }
        }
        ms_in(
            "heartbeatIntervalMs",
            self.heartbeat_interval_ms,
            100,
            MAX_TIMER_MS,
        )?;
        ms_in(
            "heartbeatTimeoutMs",
            self.heartbeat_timeout_ms,
            200,
            MAX_TIMER_MS,
        )?;
        if self.heartbeat_timeout_ms <= self.heartbeat_interval_ms {
            return Err(err(
                "heartbeatTimeoutMs",
                "must be greater than heartbeatIntervalMs",
            ));
        }
        ms_in("freezeProbeMs", self.freeze_probe_ms, 100, MAX_TIMER_MS)?;
        ms_in(
            "connectTimeoutMs",
            self.connect_timeout_ms,
            100,
            MAX_TIMER_MS,
        )?;
        for (kind, ms) in TransportKind::ALL.iter().zip(self.connect_timeouts) {
            if let Some(ms) = ms {
                ms_in(kind.connect_timeout_option(), ms, 100, MAX_TIMER_MS)?;
            }
        }
        if self.fallback_after_failures == 0 {
            return Err(err("fallbackAfterFailures", "must be at least 1"));
        }
        ms_in("pollIntervalMs", self.poll_interval_ms, 10, MAX_TIMER_MS)?;
        if self.poll_interval_ms >= self.heartbeat_timeout_ms {
            return Err(err(
                "pollIntervalMs",
                "must be less than heartbeatTimeoutMs",
            ));
        }
        ms_in(
            "rememberTransportMs",
            self.remember_transport_ms,
            0,
            MAX_TIMER_MS,
        )?;
        if self.upgrade_probe_ms != 0 {
            ms_in("upgradeProbeMs", self.upgrade_probe_ms, 100, MAX_TIMER_MS)?;
            ms_in(
                "upgradeProbeMaxMs",
                self.upgrade_probe_max_ms,
                self.upgrade_probe_ms,
                MAX_TIMER_MS,
            )?;
        }
        ms_in("reconnectDelayMs", self.reconnect_delay_ms, 1, MAX_TIMER_MS)?;
        ms_in(
            "reconnectMaxDelayMs",
            self.reconnect_max_delay_ms,
            self.reconnect_delay_ms,
            MAX_TIMER_MS,
        )?;
        if !self.reconnect_factor.is_finite() || self.reconnect_factor < 1.0 {
            return Err(err("reconnectFactor", "must be a finite number ≥ 1"));
        }
        ms_in("minUptimeMs", self.min_uptime_ms, 0, MAX_TIMER_MS)?;
        ms_in("maxRetryAfterMs", self.max_retry_after_ms, 0, MAX_TIMER_MS)?;
        if self.queue_max_messages == 0 {
            return Err(err("queueMaxMessages", "must be at least 1"));
        }
        if self.queue_max_bytes == 0 {
            return Err(err("queueMaxBytes", "must be at least 1"));
        }
        if self.max_message_bytes == 0 || self.max_message_bytes > 16 * 1024 * 1024 {
            return Err(err("maxMessageBytes", "must be between 1 and 16777216"));
        }
        if let Protocol::Raw(Some(hb)) = &self.protocol {
            if hb.ping.as_deref() == Some("") {
                return Err(err("rawHeartbeat.ping", "must not be empty"));
            }
        }
        Ok(())
    }
}
