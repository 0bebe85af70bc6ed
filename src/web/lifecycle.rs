//! Page lifecycle signals → core inputs: `online`/`offline`, `visibilitychange`, `pagehide`
//! (suspend: a clean close) / `pageshow` with `persisted` (resume: reconnect), `resume` after a
//! freeze. Listeners are owned and removed when the client closes.
//!
//! Everything is looked up on `globalThis` with `Reflect`, so in a Worker (no `document`) the
//! page signals are simply absent.

use super::listener::Listener;
use crate::core::Input;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Event, EventTarget};

/// The lifecycle listeners of one client.
pub(crate) struct Lifecycle {
    // Kept only so the listeners stay attached; dropping them detaches.
    _listeners: Vec<Listener>,
}

fn global() -> JsValue {
    js_sys::global().into()
}

fn document() -> Option<JsValue> {
    js_sys::Reflect::get(&global(), &"document".into())
        .ok()
        .filter(|d| d.is_object())
}

fn page_hidden() -> bool {
    document()
        .and_then(|d| js_sys::Reflect::get(&d, &"visibilityState".into()).ok())
        .and_then(|v| v.as_string())
        .is_some_and(|v| v == "hidden")
}

impl Lifecycle {
    /// Attaches the listeners; each event becomes an input passed to `sink`.
    pub(crate) fn attach(sink: impl Fn(Input) + Clone + 'static) -> Lifecycle {
        let mut listeners = Vec::new();
        let global: EventTarget = global().unchecked_into();
        let mut on = |target: &EventTarget, kind: &'static str, f: Box<dyn Fn(&Event)>| {
            if let Some(l) = Listener::new(target, kind, move |e| f(&e)) {
                listeners.push(l);
            }
        };
        let s = sink.clone();
        on(&global, "online", Box::new(move |_| s(Input::Online)));
        let s = sink.clone();
        on(&global, "offline", Box::new(move |_| s(Input::Offline)));
        let s = sink.clone();
        // bfcache: the page may be restored much later; nothing ran meanwhile.
        on(
            &global,
            "pageshow",
            Box::new(move |e| {
                let persisted = js_sys::Reflect::get(e, &"persisted".into())
                    .ok()
                    .and_then(|p| p.as_bool())
                    .unwrap_or(false);
                if persisted {
                    s(Input::Resumed)
                }
            }),
        );
        let s = sink.clone();
        // Leaving the page (bfcache or for good): close cleanly now; `pageshow` reconnects.
        on(&global, "pagehide", Box::new(move |_| s(Input::Suspend)));
        if let Some(doc) = document() {
            let doc: EventTarget = doc.unchecked_into();
            let s = sink.clone();
            on(
                &doc,
                "visibilitychange",
                Box::new(move |_| {
                    s(if page_hidden() {
                        Input::Hidden
                    } else {
                        Input::Visible
                    })
                }),
            );
            let s = sink;
            // Page Lifecycle API (Chromium): a frozen page was thawed.
            on(&doc, "resume", Box::new(move |_| s(Input::Resumed)));
        }
        Lifecycle {
            _listeners: listeners,
        }
    }

    /// Inputs describing the page as it is right now (hidden? offline?), fed once at start.
    pub(crate) fn initial_inputs() -> Vec<Input> {
        let mut out = Vec::new();
        if page_hidden() {
            out.push(Input::Hidden);
        }
        let online = js_sys::Reflect::get(&global(), &"navigator".into())
            .ok()
            .and_then(|n| js_sys::Reflect::get(&n, &"onLine".into()).ok())
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        if !online {
            out.push(Input::Offline);
        }
        out
    }
}
