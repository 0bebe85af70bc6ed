//! Browser tests: the real client in headless Chromium and Firefox against the real reference
//! server (`holdfast-server --test-profile`, started by `make test`, address passed at compile
//! time in `HOLDFAST_TEST_SERVER`). Faults come from the server's fault controls.
//!
//! Tests share one server, so each one starts by clearing faults and ends by closing its client.
#![cfg(target_arch = "wasm32")]

mod util;

mod echo;
mod every_transport;
mod faults;
mod hostile;
mod leaks;
mod matrix;
mod raw_mode;
mod rust_api;
mod sessions;
mod transports;
mod upgrade;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
