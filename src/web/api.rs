//! The `#[wasm_bindgen]` surface (feature `js`): `HoldfastCore`, wrapped by the npm package's
//! `Holdfast` class (`pkg-template/index.js`), which extends `EventTarget` and dispatches the
//! events this module hands it.

use super::client::{Client, UrlSource};
use super::counts::live_counts;
use crate::config::{Config, OverflowPolicy, Protocol, RawHeartbeat, TransportKind};
use crate::core::{ClientError, Event, Payload};
use js_sys::{Array, ArrayBuffer, Function, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Every option key `new Holdfast(url, options)` accepts.
const KNOWN_OPTIONS: &[&str] = &[
    "transports",
    "protocol",
    "rawHeartbeat",
    "heartbeatIntervalMs",
    "heartbeatTimeoutMs",
    "freezeProbeMs",
    "connectTimeoutMs",
    "connectTimeouts",
    "fallbackAfterFailures",
    "pollIntervalMs",
    "rememberTransportMs",
    "upgradeProbeMs",
    "upgradeProbeMaxMs",
    "reconnectDelayMs",
    "reconnectMaxDelayMs",
    "reconnectFactor",
    "maxAttempts",
    "minUptimeMs",
    "maxRetryAfterMs",
    "queueMaxMessages",
    "queueMaxBytes",
    "overflow",
    "maxMessageBytes",
];

fn type_error(msg: impl AsRef<str>) -> JsValue {
    js_sys::TypeError::new(msg.as_ref()).into()
}

fn get(obj: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(obj, &key.into())
        .ok()
        .filter(|v| !v.is_undefined())
}

fn number(obj: &JsValue, key: &str) -> Result<Option<f64>, JsValue> {
    match get(obj, key) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(n) if n.is_finite() && n >= 0.0 => Ok(Some(n)),
            _ => Err(type_error(format!(
                "invalid option `{key}`: must be a finite number ≥ 0"
            ))),
        },
    }
}

fn integer(obj: &JsValue, key: &str) -> Result<Option<u64>, JsValue> {
    match number(obj, key)? {
        None => Ok(None),
        Some(n) if n.fract() == 0.0 && n <= 9_007_199_254_740_991.0 => Ok(Some(n as u64)),
        Some(_) => Err(type_error(format!(
            "invalid option `{key}`: must be a whole number"
        ))),
    }
}

fn string(obj: &JsValue, key: &str) -> Result<Option<String>, JsValue> {
    match get(obj, key) {
        None => Ok(None),
        Some(v) => v
            .as_string()
            .map(Some)
            .ok_or_else(|| type_error(format!("invalid option `{key}`: must be a string"))),
    }
}

fn as_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Reads the JS options object into a [`Config`]. Unknown keys are refused (typos would otherwise
/// silently fall back to defaults); every error is a `TypeError` naming the option.
pub(crate) fn parse_options(options: &JsValue) -> Result<Config, JsValue> {
    let mut c = Config::default();
    if options.is_undefined() || options.is_null() {
        return Ok(c);
    }
    if !options.is_object() {
        return Err(type_error("options must be an object"));
    }
    for key in Object::keys(options.unchecked_ref::<Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !KNOWN_OPTIONS.contains(&key.as_str()) {
            return Err(type_error(format!("unknown option `{key}`")));
        }
    }
    if let Some(list) = get(options, "transports") {
        if !Array::is_array(&list) {
            return Err(type_error("invalid option `transports`: must be an array"));
        }
        let mut transports = vec![];
        for v in Array::from(&list).iter() {
            let name = v.as_string().unwrap_or_default();
            let t = TransportKind::parse(&name).ok_or_else(|| {
                type_error(format!(
                    "invalid option `transports`: unknown transport `{name}`"
                ))
            })?;
            transports.push(t);
        }
        c.transports = transports;
    }
    match string(options, "protocol")?.as_deref() {
        None | Some("holdfast") => {}
        Some("raw") => {
            let hb = match get(options, "rawHeartbeat") {
                None => None,
                Some(hb) if hb.is_object() => Some(RawHeartbeat {
                    ping: string(&hb, "ping")
                        .map_err(|_| type_error("invalid option `rawHeartbeat.ping`"))?,
                    pong: string(&hb, "pong")
                        .map_err(|_| type_error("invalid option `rawHeartbeat.pong`"))?,
                }),
                Some(_) => {
                    return Err(type_error(
                        "invalid option `rawHeartbeat`: must be an object",
                    ))
                }
            };
            c.protocol = Protocol::Raw(hb);
            // Raw servers speak plain WebSocket only: without an explicit chain, that is it.
            if get(options, "transports").is_none() {
                c.transports = vec![TransportKind::WebSocket];
            }
        }
        Some(other) => {
            return Err(type_error(format!(
                "invalid option `protocol`: `{other}` is not \"holdfast\" or \"raw\""
            )))
        }
    }
    if c.protocol == Protocol::Holdfast && get(options, "rawHeartbeat").is_some() {
        return Err(type_error(
            "invalid option `rawHeartbeat`: only with protocol \"raw\"",
        ));
    }
    let ms = |key: &str, slot: &mut u64| -> Result<(), JsValue> {
        if let Some(v) = integer(options, key)? {
            *slot = v;
        }
        Ok(())
    };
    ms("heartbeatIntervalMs", &mut c.heartbeat_interval_ms)?;
    ms("heartbeatTimeoutMs", &mut c.heartbeat_timeout_ms)?;
    ms("freezeProbeMs", &mut c.freeze_probe_ms)?;
    ms("connectTimeoutMs", &mut c.connect_timeout_ms)?;
    ms("pollIntervalMs", &mut c.poll_interval_ms)?;
    ms("rememberTransportMs", &mut c.remember_transport_ms)?;
    ms("upgradeProbeMs", &mut c.upgrade_probe_ms)?;
    ms("upgradeProbeMaxMs", &mut c.upgrade_probe_max_ms)?;
    if let Some(n) = integer(options, "fallbackAfterFailures")? {
        c.fallback_after_failures = u32::try_from(n).unwrap_or(u32::MAX);
    }
    if let Some(per) = get(options, "connectTimeouts") {
        if !per.is_object() {
            return Err(type_error(
                "invalid option `connectTimeouts`: must be an object",
            ));
        }
        for key in Object::keys(per.unchecked_ref::<Object>()).iter() {
            let name = key.as_string().unwrap_or_default();
            let kind = TransportKind::parse(&name).ok_or_else(|| {
                type_error(format!(
                    "invalid option `connectTimeouts`: unknown transport `{name}`"
                ))
            })?;
            let v = integer(&per, &name)
                .map_err(|_| type_error(format!("invalid option `connectTimeouts.{name}`")))?;
            if let Some(slot) = c.connect_timeouts.get_mut(kind.index()) {
                *slot = v;
            }
        }
    }
    ms("reconnectDelayMs", &mut c.reconnect_delay_ms)?;
    ms("reconnectMaxDelayMs", &mut c.reconnect_max_delay_ms)?;
    ms("minUptimeMs", &mut c.min_uptime_ms)?;
    ms("maxRetryAfterMs", &mut c.max_retry_after_ms)?;
    if let Some(f) = number(options, "reconnectFactor")? {
        c.reconnect_factor = f;
    }
    match get(options, "maxAttempts") {
        None => {}
        Some(v) if v.is_null() || v.as_f64() == Some(f64::INFINITY) => c.max_attempts = None,
        Some(_) => {
            let n = integer(options, "maxAttempts")?.unwrap_or(0);
            c.max_attempts = Some(u32::try_from(n).unwrap_or(u32::MAX));
        }
    }
    if let Some(n) = integer(options, "queueMaxMessages")? {
        c.queue_max_messages = as_usize(n);
    }
    if let Some(n) = integer(options, "queueMaxBytes")? {
        c.queue_max_bytes = as_usize(n);
    }
    if let Some(n) = integer(options, "maxMessageBytes")? {
        c.max_message_bytes = as_usize(n);
    }
    match string(options, "overflow")?.as_deref() {
        None | Some("reject") => c.overflow = OverflowPolicy::Reject,
        Some("drop-oldest") => c.overflow = OverflowPolicy::DropOldest,
        Some(other) => {
            return Err(type_error(format!(
                "invalid option `overflow`: `{other}` is not \"reject\" or \"drop-oldest\""
            )))
        }
    }
    c.validate().map_err(|e| type_error(e.to_string()))?;
    Ok(c)
}

fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(obj, &key.into(), &value.into());
}

fn error_kind(e: &ClientError) -> &'static str {
    match e {
        ClientError::BadFrame(_) => "bad-frame",
        ClientError::UnexpectedText | ClientError::UnexpectedFrame(_) => "unexpected-frame",
        ClientError::SequenceGap { .. } => "sequence-gap",
        ClientError::Server { .. } => "server-error",
        ClientError::QueueFull => "queue-full",
        ClientError::QueueOverflow { .. } => "queue-overflow",
        ClientError::MessageTooBig { .. } => "message-too-big",
        ClientError::QueueDiscarded { .. } => "queue-discarded",
        ClientError::InvalidClose { .. } => "invalid-close",
    }
}

/// A message as JS sees it: a string, or an `ArrayBuffer` for binary.
fn payload_to_js(p: Payload) -> JsValue {
    match p {
        Payload::Text(t) => t.into(),
        Payload::Binary(b) => Uint8Array::from(b.as_slice()).buffer().into(),
    }
}

/// Converts a core event into the `(type, detail)` pair the JS wrapper dispatches.
fn to_js(event: Event) -> (&'static str, Object) {
    let d = Object::new();
    let kind = match event {
        Event::Open { transport } => {
            set(&d, "transport", transport.name());
            "open"
        }
        Event::Message(p) => {
            set(&d, "data", payload_to_js(p));
            "message"
        }
        Event::Gap {
            messages,
            bytes,
            last_seq,
        } => {
            set(&d, "count", messages.len() as f64);
            let list = Array::new();
            for m in messages {
                list.push(&payload_to_js(m));
            }
            set(&d, "messages", list);
            set(&d, "bytes", bytes as f64);
            set(&d, "lastSeq", last_seq as f64);
            "gap"
        }
        Event::Reconnecting {
            attempt,
            delay_ms,
            reason,
        } => {
            set(&d, "attempt", attempt);
            set(&d, "delayMs", delay_ms as f64);
            set(&d, "reason", reason.to_string());
            "reconnecting"
        }
        Event::Transport { from, to, reason } => {
            set(&d, "from", from.name());
            set(&d, "to", to.name());
            set(&d, "reason", reason.to_string());
            "transport"
        }
        Event::Error(e) => {
            set(&d, "kind", error_kind(&e));
            set(&d, "message", e.to_string());
            "error"
        }
        Event::Close {
            code,
            reason,
            was_clean,
        } => {
            set(&d, "code", code);
            set(&d, "reason", reason);
            set(&d, "wasClean", was_clean);
            "close"
        }
    };
    (kind, d)
}

/// The engine behind the npm package's `Holdfast` class. Use `Holdfast` from JS; this class is
/// exported for the wrapper and for advanced embedding.
#[wasm_bindgen(js_name = HoldfastCore)]
#[derive(Debug)]
pub struct HoldfastCore {
    client: Client,
}

#[wasm_bindgen(js_class = HoldfastCore)]
impl HoldfastCore {
    /// Validates `options` (throwing a `TypeError` naming the bad option) and starts connecting.
    /// `url` is a base URL string, or a function returning one (or a Promise of one), called
    /// before every attempt. `onEvent(type, detail)` receives every event.
    #[wasm_bindgen(constructor)]
    pub fn new(
        url: JsValue,
        options: JsValue,
        on_event: Function,
    ) -> Result<HoldfastCore, JsValue> {
        let url = if let Some(s) = url.as_string() {
            UrlSource::Fixed(s)
        } else if let Some(f) = url.dyn_ref::<Function>() {
            UrlSource::Function(f.clone())
        } else {
            return Err(type_error("url must be a string or a function"));
        };
        let config = parse_options(&options)?;
        let client = Client::connect(url, config, move |event| {
            let (kind, detail) = to_js(event);
            // A throwing handler must not break the client; the wrapper reports it.
            let _ = on_event.call2(&JsValue::NULL, &kind.into(), &detail);
        })
        .map_err(|e| type_error(e.to_string()))?;
        Ok(HoldfastCore { client })
    }

    /// Sends a string, `ArrayBuffer` or typed-array view. Returns `"sent"`, `"queued"` or
    /// `"rejected"`; a rejection also emits an `error` event saying why.
    pub fn send(&self, data: JsValue) -> Result<String, JsValue> {
        let payload = if let Some(s) = data.as_string() {
            Payload::Text(s)
        } else if let Some(buf) = data.dyn_ref::<ArrayBuffer>() {
            Payload::Binary(Uint8Array::new(buf).to_vec())
        } else if ArrayBuffer::is_view(&data) {
            let view: &js_sys::DataView = data.unchecked_ref();
            let bytes = Uint8Array::new_with_byte_offset_and_length(
                &view.buffer(),
                view.byte_offset() as u32,
                view.byte_length() as u32,
            );
            Payload::Binary(bytes.to_vec())
        } else {
            return Err(type_error(
                "send accepts a string, an ArrayBuffer or an ArrayBuffer view",
            ));
        };
        Ok(self.client.send(payload).name().to_owned())
    }

    /// Closes for good with `code` (1000 or 3000–4999, default 1000) and `reason` (≤ 123 bytes).
    pub fn close(&self, code: Option<u16>, reason: Option<String>) -> Result<(), JsValue> {
        let reason = reason.unwrap_or_default();
        self.client
            .close(code.unwrap_or(1000), &reason)
            .map_err(|e| type_error(e.to_string()))
    }

    /// 0 CONNECTING (also while reconnecting), 1 OPEN, 3 CLOSED.
    #[wasm_bindgen(getter, js_name = readyState)]
    pub fn ready_state(&self) -> u16 {
        self.client.state().ready_state()
    }

    /// `"connecting" | "open" | "reconnecting" | "closed"`.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        self.client.state().name().to_owned()
    }

    /// The transport in use or being tried, or `null`.
    #[wasm_bindgen(getter)]
    pub fn transport(&self) -> Option<String> {
        self.client.transport().map(|t| t.name().to_owned())
    }

    /// Bytes accepted by `send` and not yet acknowledged by the server (queued or in flight).
    #[wasm_bindgen(getter, js_name = bufferedAmount)]
    pub fn buffered_amount(&self) -> f64 {
        self.client.buffered_amount() as f64
    }

    /// Counters: `rttMs`, `reconnects`, `transport`, `messagesSent`, `messagesReceived`,
    /// `bytesSent`, `bytesReceived`, `queued`, `queuedBytes`, `attempt`, `probes`.
    pub fn stats(&self) -> Object {
        let s = self.client.stats();
        let o = Object::new();
        set(
            &o,
            "rttMs",
            s.rtt_ms.map_or(JsValue::NULL, |r| (r as f64).into()),
        );
        set(&o, "reconnects", s.reconnects as f64);
        set(
            &o,
            "transport",
            s.transport.map_or(JsValue::NULL, |t| t.name().into()),
        );
        set(&o, "messagesSent", s.messages_sent as f64);
        set(&o, "messagesReceived", s.messages_received as f64);
        set(&o, "bytesSent", s.bytes_sent as f64);
        set(&o, "bytesReceived", s.bytes_received as f64);
        set(&o, "queued", s.queued as f64);
        set(&o, "queuedBytes", s.queued_bytes as f64);
        set(&o, "attempt", s.attempt);
        set(&o, "probes", s.probes as f64);
        o
    }
}

/// Live JS resources held by every holdfast client on this thread: `{sockets, listeners, timers,
/// clients, requests}`. For leak tests and debugging.
#[wasm_bindgen(js_name = debugCounts)]
pub fn debug_counts() -> Object {
    let c = live_counts();
    let o = Object::new();
    set(&o, "sockets", c.sockets as f64);
    set(&o, "listeners", c.listeners as f64);
    set(&o, "timers", c.timers as f64);
    set(&o, "clients", c.clients as f64);
    set(&o, "requests", c.requests as f64);
    o
}
