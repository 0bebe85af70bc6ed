//! Shared helpers: the server address, fault controls, an event recorder, sleeping.

use holdfast::config::Config;
use holdfast::core::{DisconnectReason, Event, Payload};
use holdfast::web::{live_counts, Client, LiveCounts, UrlSource, WeakHoldfast};
use js_sys::{Function, Promise, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

pub const SERVER: &str = match option_env!("HOLDFAST_TEST_SERVER") {
    Some(s) => s,
    None => "http://127.0.0.1:9477",
};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn js_fetch(url: &str, init: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(f: &Function, ms: i32);
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    pub fn now() -> f64;
}

/// The protocol base URL of the test server.
pub fn base() -> String {
    format!("{SERVER}/holdfast")
}

/// Client timers matching the server's test profile (ping 1 s, idle 2.5 s, connect 2 s).
pub fn test_config() -> Config {
    Config {
        heartbeat_interval_ms: 500,
        heartbeat_timeout_ms: 2_500,
        freeze_probe_ms: 500,
        connect_timeout_ms: 2_000,
        reconnect_delay_ms: 100,
        reconnect_max_delay_ms: 1_000,
        min_uptime_ms: 1_000,
        // WebSocket unless a test names its chain; nothing remembered between tests (they share
        // one tab, hence one sessionStorage).
        transports: vec![holdfast::config::TransportKind::WebSocket],
        remember_transport_ms: 0,
        ..Config::default()
    }
}

/// [`test_config`] pinned to `kind` alone (no chain, so no fallback and no upgrade probe).
pub fn on(kind: holdfast::config::TransportKind) -> Config {
    Config {
        transports: vec![kind],
        ..test_config()
    }
}

pub async fn sleep(ms: i32) {
    let p = Promise::new(&mut |resolve, _| set_timeout(&resolve, ms));
    let _ = JsFuture::from(p).await;
}

async fn fetch_json(url: &str, method: &str) -> JsValue {
    let init = js_sys::Object::new();
    Reflect::set(&init, &"method".into(), &method.into()).unwrap();
    let resp = JsFuture::from(js_fetch(url, &init))
        .await
        .expect("fetch failed");
    let resp: web_sys::Response = resp.dyn_into().unwrap();
    assert!(resp.ok(), "{method} {url} -> {}", resp.status());
    JsFuture::from(resp.text().unwrap()).await.unwrap()
}

/// Triggers a server fault (`drop`, `silent`, `recover`, `down?ms=2000`, …).
pub async fn fault(path: &str) {
    fault_at(SERVER, path).await;
}

/// Triggers a fault on the server at `server` (one node of a cluster).
pub async fn fault_at(server: &str, path: &str) {
    fetch_json(&format!("{server}/_fault/{path}"), "POST").await;
}

/// WELCOMEs the server has sent since it started (one per successful handshake).
pub async fn server_handshakes() -> u64 {
    server_stat("handshakes").await
}

/// One counter of `GET /_fault/stats`.
pub async fn server_stat(key: &str) -> u64 {
    stat_at(SERVER, key).await
}

/// One counter of `GET /_fault/stats` of the server at `server`.
pub async fn stat_at(server: &str, key: &str) -> u64 {
    let text = fetch_json(&format!("{server}/_fault/stats"), "GET").await;
    let v = js_sys::JSON::parse(&text.as_string().unwrap()).unwrap();
    Reflect::get(&v, &key.into())
        .unwrap()
        .as_f64()
        .unwrap_or_else(|| panic!("no stat `{key}` in {text:?}")) as u64
}

/// Every event a client emitted, with the `performance.now()` it arrived at.
#[derive(Clone, Default)]
pub struct Recorder(pub Rc<RefCell<Vec<(f64, Event)>>>);

impl Recorder {
    pub fn count(&self, pred: impl Fn(&Event) -> bool) -> usize {
        self.0.borrow().iter().filter(|(_, e)| pred(e)).count()
    }

    pub fn opens(&self) -> usize {
        self.count(|e| matches!(e, Event::Open { .. }))
    }

    pub fn closes(&self) -> usize {
        self.count(|e| matches!(e, Event::Close { .. }))
    }

    pub fn messages(&self) -> Vec<Payload> {
        self.0
            .borrow()
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Message(p) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    /// Time of the first event after index `from` matching `pred`.
    pub fn time_of(&self, from: usize, pred: impl Fn(&Event) -> bool) -> Option<f64> {
        self.0
            .borrow()
            .iter()
            .skip(from)
            .find(|(_, e)| pred(e))
            .map(|(t, _)| *t)
    }

    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }

    /// Polls every 10 ms until `pred` holds or `timeout_ms` passes; returns whether it held.
    pub async fn wait(&self, timeout_ms: f64, pred: impl Fn(&Recorder) -> bool) -> bool {
        let start = now();
        while now() - start < timeout_ms {
            if pred(self) {
                return true;
            }
            sleep(10).await;
        }
        pred(self)
    }

    pub fn dump(&self) -> String {
        format!("{:#?}", self.0.borrow())
    }
}

pub fn is_dead_link(e: &Event) -> bool {
    matches!(
        e,
        Event::Reconnecting {
            reason: DisconnectReason::DeadLink,
            ..
        }
    )
}

thread_local! {
    /// Every client [`client_with`] made, weakly. A failed test's clients are never dropped (a
    /// wasm panic abandons the test's future) and would go on reconnecting, polling and counting
    /// in the server's stats through the tests after it: [`close_leftovers`] ends them.
    static MADE: RefCell<Vec<WeakHoldfast>> = const { RefCell::new(Vec::new()) };
}

/// A client on the test server's protocol endpoint, recording its events.
pub fn client_with(url: UrlSource, config: Config) -> (Client, Recorder) {
    let rec = Recorder::default();
    let sink = rec.clone();
    let client = Client::connect(url, config, move |e| sink.0.borrow_mut().push((now(), e)))
        .expect("valid config");
    MADE.with(|made| made.borrow_mut().push(client.downgrade()));
    (client, rec)
}

/// The live resource counts once they are back to `before`, polled every 10 ms for at most
/// `wait_ms` (a closed client's last POST, carrying its CLOSE, finishes on its own first).
pub async fn counts_back_to(before: LiveCounts, wait_ms: u32) -> LiveCounts {
    let mut after = live_counts();
    for _ in 0..wait_ms / 10 {
        if after == before {
            break;
        }
        sleep(10).await;
        after = live_counts();
    }
    after
}

/// Closes every client made so far that is still alive: call at the start of a test whose
/// assertions count server-wide stats or live resources, before it makes its own.
pub fn close_leftovers() {
    let made: Vec<WeakHoldfast> = MADE.with(|made| made.borrow_mut().drain(..).collect());
    for weak in made {
        if let Some(c) = weak.upgrade() {
            let _ = c.close(1000, "left over by an earlier test");
        }
    }
}

/// [`client_with`], waiting (5 s at most) for its first `open`.
pub async fn opened_client(url: UrlSource, config: Config) -> (Client, Recorder) {
    let (c, rec) = client_with(url, config);
    assert!(
        rec.wait(5_000.0, |r| r.opens() == 1).await,
        "never opened: {}",
        rec.dump()
    );
    (c, rec)
}

/// `config` with an outbox big enough for `n` messages in flight each way.
pub fn roomy(config: Config, n: usize) -> Config {
    Config {
        queue_max_messages: 2 * n,
        queue_max_bytes: 1 << 22,
        ..config
    }
}

pub fn client() -> (Client, Recorder) {
    client_with(UrlSource::Fixed(base()), test_config())
}

pub fn text(s: &str) -> Payload {
    Payload::Text(s.to_owned())
}

/// Logs a measurement so it shows in the test output.
pub fn report(what: &str, ms: f64) {
    web_sys::console::log_1(&format!("MEASURED {what}: {ms:.0} ms").into());
}

/// The loopback fault proxy in front of the test server (started by `scripts/with-server.sh`).
pub const PROXY: &str = match option_env!("HOLDFAST_TEST_PROXY") {
    Some(s) => s,
    None => "http://127.0.0.1:9478",
};
const PROXY_CONTROL: &str = match option_env!("HOLDFAST_TEST_PROXY_CONTROL") {
    Some(s) => s,
    None => "http://127.0.0.1:9479",
};

/// The protocol base URL through the fault proxy.
pub fn proxied_base() -> String {
    format!("{PROXY}/holdfast")
}

/// Sets the proxy's mode (`pass`, `blackhole`, `refuse-upgrade`, `hang-upgrade`,
/// `drop-after-upgrade`, …) or gives an order (`reset`, `kill`).
pub async fn proxy(command: &str) {
    let path = match command {
        "reset" | "kill" | "stats" => command.to_owned(),
        mode => format!("mode/{mode}"),
    };
    fetch_json(&format!("{PROXY_CONTROL}/{path}"), "GET").await;
}

/// One counter of the fault proxy's `/stats` (`connections`, `accepted`, `idle_cuts`).
pub async fn proxy_stat(key: &str) -> u64 {
    let text = fetch_json(&format!("{PROXY_CONTROL}/stats"), "GET").await;
    let v = js_sys::JSON::parse(&text.as_string().unwrap()).unwrap();
    Reflect::get(&v, &key.into())
        .unwrap()
        .as_f64()
        .unwrap_or_else(|| panic!("no proxy stat `{key}` in {text:?}")) as u64
}

/// How `received` (the numbers of the messages that arrived, in arrival order) covers messages
/// `0..sent`: (delivered at least once, duplicates, lost, in order).
pub fn count_delivery(received: &[usize], sent: usize) -> (usize, usize, usize, bool) {
    let mut seen = vec![0u32; sent];
    for &n in received {
        if let Some(s) = seen.get_mut(n) {
            *s += 1;
        }
    }
    let delivered = seen.iter().filter(|&&s| s > 0).count();
    let duplicated: usize = seen.iter().map(|&s| s.saturating_sub(1) as usize).sum();
    let in_order = received.windows(2).all(|w| w[0] < w[1]);
    (delivered, duplicated, sent - delivered, in_order)
}
