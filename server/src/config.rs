//! Server configuration: timers, limits, origins, static directories and the test profile.

use crate::origin::OriginPolicy;
use std::path::PathBuf;

/// Everything the server needs to know; [`ServerConfig::default`] is the production profile.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The server sends PING when it has sent nothing for this long (announced in WELCOME).
    /// Keep it well below the clients' heartbeat timeout (8 s by default): in a throttled
    /// background tab the client's own pings go out late, and only these keep the link alive.
    pub ping_interval_ms: u64,
    /// A connection silent for this long is dropped as a dead link (announced in WELCOME); its
    /// session lives on for `session_ttl_ms`.
    pub idle_timeout_ms: u64,
    /// A connection that sent no HELLO within this time is closed.
    pub handshake_timeout_ms: u64,
    /// Largest data payload accepted (announced in WELCOME); larger ones close with 1009.
    pub max_message_bytes: usize,
    /// How long a session without a connection waits for its client to resume it before it
    /// expires (`on_close`). Default 120 s (like socket.io's connection-state recovery).
    pub session_ttl_ms: u64,
    /// Most sessions alive at once, attached or not. At the bound a new handshake is answered
    /// with ERROR 5 (try later) and CLOSE 1013; resuming an existing session still works.
    pub max_sessions: usize,
    /// Most messages one session keeps for its client until acknowledged (sent and unacked, or
    /// waiting for a resume). One more ends the session with CLOSE 1013 "session buffer full".
    pub max_log_messages: usize,
    /// Most payload bytes one session keeps until acknowledged; a message that would go over
    /// ends the session with CLOSE 1013 "session buffer full". Worst-case log memory is
    /// `max_sessions × max_log_bytes`.
    pub max_log_bytes: usize,
    /// How long a client may take to send a request's line and headers, from the moment the
    /// server starts waiting for them (a fresh connection, or a keep-alive connection between
    /// requests, which is then closed): a slowloris sending its headers byte by byte is cut off
    /// here. Default 30 s (hyper's own default), test profile 2 s.
    pub header_read_timeout_ms: u64,
    /// Most header fields in one request; more is answered `431`. Default 100.
    pub max_headers: usize,
    /// Largest request line plus headers, in bytes; more is answered `431` as soon as that many
    /// bytes arrived without the end of the head, so a huge header is never buffered whole.
    /// Default 64 KiB (at least 1 KiB is used).
    pub max_header_bytes: usize,
    /// How long a client may take to send a request body (a send POST, a poll open), from the
    /// moment the handler starts reading it; a body still incomplete then is answered `408`
    /// and its connection closed (a slow-body attack holds nothing for long). Default 30 s,
    /// test profile 2 s.
    pub body_read_timeout_ms: u64,
    /// How long a long poll (`GET {base_path}/poll` without `hold=0`) is held when there is
    /// nothing to send before it is answered with an empty batch. The server's PING at
    /// `ping_interval_ms` usually ends a quiet poll sooner.
    pub poll_hold_ms: u64,
    /// Which page origins may use the protocol endpoints (WebSocket, SSE, polling, sends).
    pub allowed_origins: OriginPolicy,
    /// Mount the `/_fault/*` control routes. Never enable this in production.
    pub faults_enabled: bool,
    /// Mount the `{base_path}/bench/*` routes of `make bench`: a plain SSE echo, a plain
    /// long-poll echo (the HTTP baselines) and a stats route. Off by default.
    pub bench: bool,
    /// Directory served at `/` (with `index.html`).
    pub www_dir: Option<PathBuf>,
    /// Directory served at `/pkg/` (the built npm package).
    pub pkg_dir: Option<PathBuf>,
    /// Prefix of the protocol endpoints: `{base_path}/ws`, `{base_path}/raw`, `{base_path}/sse`,
    /// `{base_path}/send`, `{base_path}/poll/open`, `{base_path}/poll`.
    pub base_path: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            ping_interval_ms: 3_000,
            idle_timeout_ms: 30_000,
            handshake_timeout_ms: 10_000,
            max_message_bytes: holdfast::protocol::DEFAULT_MAX_MESSAGE_BYTES,
            session_ttl_ms: 120_000,
            max_sessions: 100_000,
            max_log_messages: 1024,
            max_log_bytes: 4 * 1024 * 1024,
            poll_hold_ms: 25_000,
            header_read_timeout_ms: 30_000,
            max_headers: 100,
            max_header_bytes: 64 * 1024,
            body_read_timeout_ms: 30_000,
            allowed_origins: OriginPolicy::Loopback,
            faults_enabled: false,
            bench: false,
            www_dir: None,
            pkg_dir: None,
            base_path: "/holdfast".to_owned(),
        }
    }
}

impl ServerConfig {
    /// The test profile (docs/reliability.md): ping 1 s, idle timeout 2.5 s, handshake timeout
    /// 2 s, header and body read timeouts 2 s, session TTL 5 s, poll hold 1 s, loopback origins,
    /// fault controls on.
    pub fn test_profile() -> Self {
        ServerConfig {
            ping_interval_ms: 1_000,
            idle_timeout_ms: 2_500,
            handshake_timeout_ms: 2_000,
            session_ttl_ms: 5_000,
            poll_hold_ms: 1_000,
            header_read_timeout_ms: 2_000,
            body_read_timeout_ms: 2_000,
            allowed_origins: OriginPolicy::Loopback,
            faults_enabled: true,
            ..ServerConfig::default()
        }
    }

    /// `base_path` normalised: empty or starting with `/`, never ending with `/`.
    pub fn normalized_base_path(&self) -> String {
        let trimmed = self.base_path.trim().trim_matches('/');
        if trimmed.is_empty() {
            String::new()
        } else {
            format!("/{trimmed}")
        }
    }
}
