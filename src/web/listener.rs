//! An event listener that removes itself when dropped (gloo's `EventListener` pattern).

use super::counts::{bump, Kind};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventTarget};

/// A listener attached to `target` for `kind` until this value is dropped.
#[must_use = "the listener is removed when this value is dropped"]
pub(crate) struct Listener {
    target: EventTarget,
    kind: &'static str,
    closure: Closure<dyn FnMut(Event)>,
}

impl Listener {
    /// Attaches `f` to `target` for events named `kind`. Returns `None` if the target refused
    /// (never seen in practice; the caller simply runs without that signal).
    pub(crate) fn new(
        target: &EventTarget,
        kind: &'static str,
        f: impl FnMut(Event) + 'static,
    ) -> Option<Listener> {
        let closure = Closure::<dyn FnMut(Event)>::new(f);
        target
            .add_event_listener_with_callback(kind, closure.as_ref().unchecked_ref())
            .ok()?;
        bump(Kind::Listener, 1);
        Some(Listener {
            target: target.clone(),
            kind,
            closure,
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Detach before the closure is freed, so the browser never calls a dropped closure.
        let _ = self
            .target
            .remove_event_listener_with_callback(self.kind, self.closure.as_ref().unchecked_ref());
        bump(Kind::Listener, -1);
    }
}
