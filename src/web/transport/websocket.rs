//! The WebSocket transport.

use crate::core::{ConnId, Input, Payload};
use crate::web::counts::{bump, Kind};
use crate::web::text_identity::TextKey;
use std::cell::RefCell;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

#[wasm_bindgen]
extern "C" {
    /// A `WebSocket` seen as anything with a `send(data)`: web-sys types `send` per argument
    /// type, and a JS string the page already has needs none of them (no copy out of wasm).
    type Sender;
    #[wasm_bindgen(method, catch, js_name = send)]
    fn send_value(this: &Sender, data: &JsValue) -> Result<(), JsValue>;
}

thread_local! {
    /// The text message being handed to the core right now, with the JS string it came from:
    /// the app's event for it can use that string instead of making it again from the UTF-8
    /// (`take_received_js`). Set and cleared around one synchronous `Received`.
    static RECEIVED: RefCell<Option<(TextKey, JsValue)>> = const { RefCell::new(None) };
}

/// The JS string a received text message came from, if `text` is that message's own allocation
/// and it is still being delivered (see `text_identity`). Only the JS API asks.
#[cfg_attr(not(feature = "js"), allow(dead_code))]
pub(crate) fn take_received_js(text: &str) -> Option<JsValue> {
    RECEIVED.with(|slot| {
        let mut slot = slot.borrow_mut();
        match &*slot {
            Some((key, _)) if *key == TextKey::of(text) => slot.take().map(|(_, js)| js),
            _ => None,
        }
    })
}

/// An open or opening WebSocket and its four handlers. Dropping it detaches the handlers, then
/// closes the socket — so a socket we abandoned can never feed stale events back.
pub(crate) struct WsTransport {
    ws: WebSocket,
    close_code: u16,
    close_reason: String,
    // Kept only so the handlers live exactly as long as the socket they are attached to.
    _handlers: Handlers,
}

struct Handlers {
    _open: Closure<dyn FnMut(Event)>,
    _message: Closure<dyn FnMut(MessageEvent)>,
    _close: Closure<dyn FnMut(CloseEvent)>,
}

impl WsTransport {
    /// Opens `url` as connection `conn`; every event becomes an [`Input`] passed to `sink`. A
    /// message over `max_bytes` is reported as `Oversized` without being copied into wasm.
    /// Fails with the browser's message for an invalid URL or a blocked port.
    pub(crate) fn open(
        url: &str,
        conn: ConnId,
        max_bytes: usize,
        sink: impl Fn(Input) + Clone + 'static,
    ) -> Result<WsTransport, String> {
        let ws = WebSocket::new(url).map_err(|e| js_message(&e))?;
        // Blobs are read asynchronously and can reorder messages; array buffers cannot.
        ws.set_binary_type(BinaryType::Arraybuffer);
        let s = sink.clone();
        let open = Closure::<dyn FnMut(Event)>::new(move |_| s(Input::Opened { conn }));
        let s = sink.clone();
        let message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let data = e.data();
            // Sizes are checked on the JS side first: copying a huge message into wasm would grow
            // its memory for the life of the page.
            let size = data
                .dyn_ref::<js_sys::JsString>()
                .map(|t| t.length() as usize)
                .or_else(|| {
                    data.dyn_ref::<js_sys::ArrayBuffer>()
                        .map(|b| b.byte_length() as usize)
                })
                .unwrap_or(0);
            if size > max_bytes {
                return s(Input::Oversized { conn, size });
            }
            if let Some(text) = data.as_string() {
                let key = TextKey::of(&text);
                RECEIVED.with(|slot| *slot.borrow_mut() = Some((key, data)));
                s(Input::Received {
                    conn,
                    payload: Payload::Text(text),
                });
                // Whatever was not used (not delivered, or delivered later by an outer pump).
                let unused = RECEIVED.with(|slot| slot.borrow_mut().take());
                drop(unused);
                return;
            }
            let payload = if let Some(buf) = data.dyn_ref::<js_sys::ArrayBuffer>() {
                Payload::Binary(js_sys::Uint8Array::new(buf).to_vec())
            } else {
                // Not reachable with binaryType = arraybuffer; dropped rather than guessed at.
                return;
            };
            s(Input::Received { conn, payload });
        });
        let s = sink;
        // `error` is always followed by `close`, which carries the code; one signal is enough.
        let close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            s(Input::Closed {
                conn,
                code: e.code(),
                reason: e.reason(),
            })
        });
        ws.set_onopen(Some(open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(close.as_ref().unchecked_ref()));
        bump(Kind::Socket, 1);
        bump(Kind::Listener, 3);
        Ok(WsTransport {
            ws,
            close_code: 1000,
            close_reason: String::new(),
            _handlers: Handlers {
                _open: open,
                _message: message,
                _close: close,
            },
        })
    }

    /// A handle to the socket (a cheap JS reference), for sending with [`send`] without holding
    /// a borrow of the owner.
    pub(crate) fn socket(&self) -> WebSocket {
        self.ws.clone()
    }

    /// Sets the code and reason the socket is closed with when dropped.
    pub(crate) fn set_close(&mut self, code: u16, reason: String) {
        self.close_code = code;
        self.close_reason = reason;
    }
}

impl Drop for WsTransport {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self
            .ws
            .close_with_code_and_reason(self.close_code, &self.close_reason);
        bump(Kind::Socket, -1);
        bump(Kind::Listener, -3);
    }
}

/// Sends one message on `ws` now; `js` is the JS string of a text payload, when the page had it.
pub(crate) fn send(ws: &WebSocket, payload: &Payload, js: Option<&JsValue>) -> Result<(), String> {
    match (payload, js) {
        (Payload::Text(_), Some(js)) => ws.unchecked_ref::<Sender>().send_value(js),
        (Payload::Text(t), None) => ws.send_with_str(t),
        (Payload::Binary(b), _) => ws.send_with_u8_array(b),
    }
    .map_err(|e| js_message(&e))
}

/// A readable message from a thrown JS value.
pub(crate) fn js_message(e: &wasm_bindgen::JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    e.as_string().unwrap_or_else(|| "unknown error".to_owned())
}
