//! One `setTimeout` owned by a value; dropping it clears the timeout.

use super::counts::{bump, Kind};
use crate::config::MAX_TIMER_MS;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout, catch)]
    fn set_timeout(cb: &js_sys::Function, ms: f64) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// An armed timeout. Bound as globals (not `window.setTimeout`) so it works in workers.
#[must_use = "the timeout is cleared when this value is dropped"]
pub(crate) struct Timeout {
    id: JsValue,
    // Kept only so the callback outlives the armed timeout; freed after `clearTimeout` in Drop.
    _closure: Closure<dyn FnMut()>,
}

impl Timeout {
    /// Calls `f` once after `ms` (clamped to what `setTimeout` can represent).
    pub(crate) fn new(ms: u64, f: impl FnMut() + 'static) -> Option<Timeout> {
        let closure = Closure::<dyn FnMut()>::new(f);
        let ms = ms.min(MAX_TIMER_MS) as f64;
        let id = set_timeout(closure.as_ref().unchecked_ref(), ms).ok()?;
        bump(Kind::Timer, 1);
        Some(Timeout {
            id,
            _closure: closure,
        })
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        clear_timeout(&self.id);
        bump(Kind::Timer, -1);
    }
}
