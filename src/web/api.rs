//! The `#[wasm_bindgen]` surface (feature `js`): `HoldfastCore`, wrapped by the npm package's
//! `Holdfast` class (`pkg-template/index.js`), which extends `EventTarget` and dispatches the
//! events this module hands it.

use super::client::{Client, UrlSource};
use super::counts::live_counts;
use super::transport::websocket::take_received_js;
use crate::config::{Config, OverflowPolicy, Protocol, RawHeartbeat, TransportKind};
use crate::core::{ClientError, Event, Payload};
use js_sys::{Array, ArrayBuffer, Function, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

fn type_error(msg: impl AsRef<str>) -> JsValue {
    js_sys::TypeError::new(msg.as_ref()).into()
}

/// Reads one option's value into the config, or says what is wrong with it (the caller adds
/// "invalid option `name`: ").
type Setter = fn(&mut Config, &JsValue) -> Result<(), String>;

/// Every option `new Holdfast(url, options)` accepts, each named once: this table drives the
/// unknown-key check, the parsing and the error text. Entries are applied in this order, so
/// `protocol` comes before the options that depend on it. (Why a table and not serde:
/// ARCHITECTURE.md, "Options".)
const OPTIONS: &[(&str, Setter)] = &[
    ("transports", |c, v| {
        c.transports = transports(v)?;
        Ok(())
    }),
    ("protocol", |c, v| match string(v)?.as_str() {
        "holdfast" => Ok(()),
        "raw" => {
            c.protocol = Protocol::Raw(None);
            Ok(())
        }
        other => Err(["`", other, "` is not \"holdfast\" or \"raw\""].concat()),
    }),
    ("rawHeartbeat", |c, v| {
        let Protocol::Raw(hb) = &mut c.protocol else {
            return Err("only with protocol \"raw\"".into());
        };
        if !v.is_object() {
            return Err("must be an object".into());
        }
        let field = |name: &str| match get(v, name) {
            None => Ok(None),
            Some(s) => string(&s)
                .map(Some)
                .map_err(|why| [name, " ", &why].concat()),
        };
        *hb = Some(RawHeartbeat {
            ping: field("ping")?,
            pong: field("pong")?,
        });
        Ok(())
    }),
    ("heartbeatIntervalMs", |c, v| {
        ms(v, &mut c.heartbeat_interval_ms)
    }),
    ("heartbeatTimeoutMs", |c, v| {
        ms(v, &mut c.heartbeat_timeout_ms)
    }),
    ("freezeProbeMs", |c, v| ms(v, &mut c.freeze_probe_ms)),
    ("connectTimeoutMs", |c, v| ms(v, &mut c.connect_timeout_ms)),
    ("connectTimeouts", |c, v| {
        if !v.is_object() {
            return Err("must be an object".into());
        }
        for key in Object::keys(v.unchecked_ref::<Object>()).iter() {
            let name = key.as_string().unwrap_or_default();
            let kind = TransportKind::parse(&name)
                .ok_or_else(|| ["unknown transport `", &name, "`"].concat())?;
            let value = get(v, &name).map(|t| whole(&t)).transpose();
            let value = value.map_err(|why| [&name, " ", &why].concat())?;
            if let Some(slot) = c.connect_timeouts.get_mut(kind.index()) {
                *slot = value;
            }
        }
        Ok(())
    }),
    ("fallbackAfterFailures", |c, v| {
        c.fallback_after_failures = u32::try_from(whole(v)?).unwrap_or(u32::MAX);
        Ok(())
    }),
    ("pollIntervalMs", |c, v| ms(v, &mut c.poll_interval_ms)),
    ("rememberTransportMs", |c, v| {
        ms(v, &mut c.remember_transport_ms)
    }),
    ("upgradeProbeMs", |c, v| ms(v, &mut c.upgrade_probe_ms)),
    ("upgradeProbeMaxMs", |c, v| {
        ms(v, &mut c.upgrade_probe_max_ms)
    }),
    ("reconnectDelayMs", |c, v| ms(v, &mut c.reconnect_delay_ms)),
    ("reconnectMaxDelayMs", |c, v| {
        ms(v, &mut c.reconnect_max_delay_ms)
    }),
    ("reconnectFactor", |c, v| {
        c.reconnect_factor = number(v)?;
        Ok(())
    }),
    ("maxAttempts", |c, v| {
        c.max_attempts = if v.is_null() || v.as_f64() == Some(f64::INFINITY) {
            None
        } else {
            Some(u32::try_from(whole(v)?).unwrap_or(u32::MAX))
        };
        Ok(())
    }),
    ("minUptimeMs", |c, v| ms(v, &mut c.min_uptime_ms)),
    ("maxRetryAfterMs", |c, v| ms(v, &mut c.max_retry_after_ms)),
    ("queueMaxMessages", |c, v| {
        size(v, &mut c.queue_max_messages)
    }),
    ("queueMaxBytes", |c, v| size(v, &mut c.queue_max_bytes)),
    ("overflow", |c, v| {
        c.overflow = match string(v)?.as_str() {
            "reject" => OverflowPolicy::Reject,
            "drop-oldest" => OverflowPolicy::DropOldest,
            other => return Err(["`", other, "` is not \"reject\" or \"drop-oldest\""].concat()),
        };
        Ok(())
    }),
    ("maxMessageBytes", |c, v| size(v, &mut c.max_message_bytes)),
];

fn get(obj: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(obj, &key.into())
        .ok()
        .filter(|v| !v.is_undefined())
}

fn number(v: &JsValue) -> Result<f64, String> {
    match v.as_f64() {
        Some(n) if n.is_finite() && n >= 0.0 => Ok(n),
        _ => Err("must be a finite number ≥ 0".into()),
    }
}

fn whole(v: &JsValue) -> Result<u64, String> {
    let n = number(v)?;
    if n.fract() == 0.0 && n <= 9_007_199_254_740_991.0 {
        Ok(n as u64)
    } else {
        Err("must be a whole number".into())
    }
}

fn ms(v: &JsValue, slot: &mut u64) -> Result<(), String> {
    *slot = whole(v)?;
    Ok(())
}

fn size(v: &JsValue, slot: &mut usize) -> Result<(), String> {
    *slot = usize::try_from(whole(v)?).unwrap_or(usize::MAX);
    Ok(())
}

fn string(v: &JsValue) -> Result<String, String> {
    v.as_string().ok_or_else(|| "must be a string".into())
}

fn transports(v: &JsValue) -> Result<Vec<TransportKind>, String> {
    if !Array::is_array(v) {
        return Err("must be an array".into());
    }
    Array::from(v)
        .iter()
        .map(|t| {
            let name = t.as_string().unwrap_or_default();
            TransportKind::parse(&name).ok_or_else(|| ["unknown transport `", &name, "`"].concat())
        })
        .collect()
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
        if !OPTIONS.iter().any(|(name, _)| *name == key) {
            return Err(type_error(["unknown option `", &key, "`"].concat()));
        }
    }
    for (name, setter) in OPTIONS {
        if let Some(v) = get(options, name) {
            setter(&mut c, &v)
                .map_err(|why| type_error(["invalid option `", name, "`: ", &why].concat()))?;
        }
    }
    // Raw servers speak plain WebSocket only: without an explicit chain, that is it.
    if matches!(c.protocol, Protocol::Raw(_)) && get(options, "transports").is_none() {
        c.transports = vec![TransportKind::WebSocket];
    }
    c.validate().map_err(|e| type_error(e.text()))?;
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
        // The JS string the message arrived as, when it is this very text (`text_identity`).
        Payload::Text(t) => take_received_js(&t).unwrap_or_else(|| t.into()),
        Payload::Binary(b) => Uint8Array::from(b.as_slice()).buffer().into(),
    }
}

/// The `onEvent` type code of a message (every other event passes its type name).
const MESSAGE: u32 = 0;

/// What `send` returns to the wrapper, which names it (`SEND_OUTCOMES` in holdfast_client.js):
/// a number, so no JS string is made per send.
fn outcome_code(o: crate::core::SendOutcome) -> u32 {
    match o {
        crate::core::SendOutcome::Sent => 0,
        crate::core::SendOutcome::Queued => 1,
        _ => 2,
    }
}

/// Converts a core event (other than a message) into the `(type, detail)` pair the JS wrapper
/// dispatches.
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
            set(&d, "reason", reason.message());
            "reconnecting"
        }
        Event::Transport { from, to, reason } => {
            set(&d, "from", from.name());
            set(&d, "to", to.name());
            set(&d, "reason", reason.message());
            "transport"
        }
        Event::Error(e) => {
            set(&d, "kind", error_kind(&e));
            set(&d, "message", e.message());
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
    /// before every attempt. `onEvent(type, detail)` receives every event; a message comes as
    /// `onEvent(0, data)`.
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
            // The hot path: a message goes as its data alone, its type as the number 0, so no
            // JS string or object is made per message. Other events are `(type, detail)`.
            let (kind, detail): (JsValue, JsValue) = match event {
                Event::Message(p) => (MESSAGE.into(), payload_to_js(p)),
                other => {
                    let (kind, detail) = to_js(other);
                    (kind.into(), detail.into())
                }
            };
            // A throwing handler must not break the client; the wrapper reports it.
            let _ = on_event.call2(&JsValue::NULL, &kind, &detail);
        })
        .map_err(|e| type_error(e.text()))?;
        Ok(HoldfastCore { client })
    }

    /// Sends a string, `ArrayBuffer` or typed-array view. Returns 0 (sent), 1 (queued) or 2
    /// (rejected; an `error` event says why); the wrapper turns it into the name.
    pub fn send(&self, data: JsValue) -> Result<u32, JsValue> {
        if let Some(s) = data.as_string() {
            return Ok(outcome_code(self.client.send_text_js(s, data)));
        }
        let payload = if let Some(buf) = data.dyn_ref::<ArrayBuffer>() {
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
        Ok(outcome_code(self.client.send(payload)))
    }

    /// Closes for good with `code` (1000 or 3000–4999, default 1000) and `reason` (≤ 123 bytes).
    pub fn close(&self, code: Option<u16>, reason: Option<String>) -> Result<(), JsValue> {
        let reason = reason.unwrap_or_default();
        self.client
            .close(code.unwrap_or(1000), &reason)
            .map_err(|e| type_error(e.message()))
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
/// clients, requests, wasmMemoryBytes}`. For leak tests, benchmarks and debugging.
#[wasm_bindgen(js_name = debugCounts)]
pub fn debug_counts() -> Object {
    let c = live_counts();
    let o = Object::new();
    set(&o, "sockets", c.sockets as f64);
    set(&o, "listeners", c.listeners as f64);
    set(&o, "timers", c.timers as f64);
    set(&o, "clients", c.clients as f64);
    set(&o, "requests", c.requests as f64);
    // The module's linear memory, which never shrinks: what a leak or a hostile message would
    // grow for the life of the page (the benchmarks and the memory tests read it).
    set(&o, "wasmMemoryBytes", wasm_memory_bytes());
    o
}

fn wasm_memory_bytes() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        (core::arch::wasm32::memory_size(0) as f64) * 65536.0
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0.0
    }
}
