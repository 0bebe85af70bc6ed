//! The clock: `performance.now()` as a global, so it works in windows and workers alike.

use crate::core::Instant;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

/// Now on the monotonic page clock, in whole milliseconds.
pub(crate) fn now() -> Instant {
    let ms = performance_now();
    // performance.now() is finite and ≥ 0; the guard keeps a broken polyfill from yielding junk.
    let ms = if ms.is_finite() && ms > 0.0 {
        ms as u64
    } else {
        0
    };
    Instant::from_millis(ms)
}
