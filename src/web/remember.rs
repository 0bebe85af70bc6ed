//! The transport that worked, remembered for the tab in `sessionStorage` (PROTOCOL.md §9), so a
//! reload or another client in the same tab starts there instead of waiting out the deadlines of
//! the rungs above it. Storage that is missing (workers), disabled or full is skipped silently:
//! remembering is an optimisation, never a reason to fail.

use crate::config::TransportKind;
use crate::core::fallback::{parse_remembered, remembered_value};
use wasm_bindgen::JsCast;

/// Where one client remembers its transport.
pub(crate) struct Remembered {
    /// The storage key, per base URL; `None` when remembering is off.
    key: Option<String>,
    ttl_ms: u64,
}

impl Remembered {
    /// Remembering under a key derived from `base` for `ttl_ms` (0 = off).
    pub(crate) fn new(base: Option<&str>, ttl_ms: u64) -> Remembered {
        let key = (ttl_ms > 0).then(|| ["holdfast.transport:", base.unwrap_or("")].concat());
        Remembered { key, ttl_ms }
    }

    /// The remembered transport, if there is one and it has not expired.
    pub(crate) fn load(&self) -> Option<TransportKind> {
        let key = self.key.as_deref()?;
        let value = storage()?.get_item(key).ok()??;
        parse_remembered(&value, js_sys::Date::now())
    }

    /// Remembers `kind` (called when a connection opens on it).
    pub(crate) fn store(&self, kind: TransportKind) {
        let (Some(key), Some(storage)) = (self.key.as_deref(), storage()) else {
            return;
        };
        let value = remembered_value(kind, js_sys::Date::now(), self.ttl_ms);
        // A full or disabled storage throws: skipped on purpose.
        let _ = storage.set_item(key, &value);
    }
}

/// `globalThis.sessionStorage`, if it exists and may be touched (reading it can throw).
fn storage() -> Option<web_sys::Storage> {
    let value = js_sys::Reflect::get(&js_sys::global(), &"sessionStorage".into()).ok()?;
    value.dyn_into::<web_sys::Storage>().ok()
}
