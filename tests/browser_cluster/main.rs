//! Browser tests against a cluster: two reference-server nodes sharing sessions through a real
//! Redis, behind HAProxy balancing every request round-robin with no stickiness
//! (`scripts/with-cluster.sh`, which passes the balancer in `HOLDFAST_TEST_SERVER` and each
//! node in `HOLDFAST_NODE_A` / `HOLDFAST_NODE_B` at compile time).
//!
//! Every transport streams 2000 numbered messages, which the demo app echoes, through one of
//! three disruptions: connections dropped on both nodes every 200–700 ms, the node holding the
//! session killed mid-stream (its supervisor starts it again a second later), and Redis shut
//! down mid-stream (started again two seconds later). The echoes prove both directions: a
//! message the app never saw has no echo, one it saw twice has two. Each run must end with
//! every echo once and in order.
#![cfg(target_arch = "wasm32")]

#[path = "../browser/util.rs"]
#[allow(dead_code)]
mod util;

use holdfast::config::{Config, TransportKind};
use holdfast::core::{ClientError, Event, Payload, SendOutcome, StateKind};
use holdfast::protocol::ErrorCode;
use holdfast::web::UrlSource;
use std::cell::Cell;
use std::rc::Rc;
use util::*;
use wasm_bindgen_test::wasm_bindgen_test;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

const NODE_A: &str = match option_env!("HOLDFAST_NODE_A") {
    Some(s) => s,
    None => "http://127.0.0.1:9478",
};
const NODE_B: &str = match option_env!("HOLDFAST_NODE_B") {
    Some(s) => s,
    None => "http://127.0.0.1:9479",
};
const NODES: [&str; 2] = [NODE_A, NODE_B];

const N: usize = 2_000;

/// What happens to the cluster while the messages flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disruption {
    /// Every connection on both nodes dropped at random intervals.
    Drops,
    /// The node holding the session exits, once.
    KillHolder,
    /// Redis shuts down, once (the harness starts it again after 2 s).
    RedisRestart,
}

/// Waits until both nodes answer (one may be restarting after a kill), then clears faults.
async fn cluster_ready() {
    for node in NODES {
        let started = now();
        loop {
            if reachable(node).await {
                break;
            }
            assert!(now() - started < 15_000.0, "node {node} not back");
            sleep(100).await;
        }
        fault_at(node, "recover").await;
    }
}

async fn reachable(node: &str) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let promise = window.fetch_with_str(&format!("{node}/_fault/stats"));
    match wasm_bindgen_futures::JsFuture::from(promise).await {
        Ok(resp) => resp
            .dyn_into::<web_sys::Response>()
            .map(|r| r.ok())
            .unwrap_or(false),
        Err(_) => false,
    }
}

use wasm_bindgen::JsCast;

fn numbered(rec: &Recorder) -> Vec<usize> {
    rec.messages()
        .iter()
        .filter_map(|p| match p {
            Payload::Text(t) => t.strip_prefix("n:")?.parse().ok(),
            Payload::Binary(_) => None,
        })
        .collect()
}

/// The longest time between two consecutive echoes, in ms.
fn longest_pause(rec: &Recorder) -> f64 {
    let times: Vec<f64> = rec
        .0
        .borrow()
        .iter()
        .filter(|(_, e)| matches!(e, Event::Message(Payload::Text(t)) if t.starts_with("n:")))
        .map(|(t, _)| *t)
        .collect();
    times.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max)
}

/// Runs `disruption` in the background until `stop` is set (bounded in time, so a failing test
/// cannot leave it running); counts what it did in `done`.
fn disrupt(disruption: Disruption, stop: Rc<Cell<bool>>, done: Rc<Cell<u32>>) {
    let until = now() + 30_000.0;
    wasm_bindgen_futures::spawn_local(async move {
        match disruption {
            Disruption::Drops => {
                while !stop.get() && now() < until {
                    sleep(200 + (js_sys::Math::random() * 500.0) as i32).await;
                    if !stop.get() {
                        for node in NODES {
                            fault_at(node, "drop").await;
                        }
                        done.set(done.get() + 1);
                    }
                }
            }
            Disruption::KillHolder => {
                sleep(1_500).await;
                for node in NODES {
                    // Tests run one at a time: the node holding a session holds ours.
                    if stat_at(node, "sessions").await > 0 {
                        fault_at(node, "crash").await;
                        done.set(done.get() + 1);
                        break;
                    }
                }
            }
            Disruption::RedisRestart => {
                sleep(1_500).await;
                fault_at(NODE_A, "store-outage").await;
                done.set(done.get() + 1);
            }
        }
    });
}

/// Requests a node has served since it started: handshakes, poll GETs and send POSTs.
async fn served(node: &str) -> u64 {
    let mut total = 0;
    for key in ["handshakes", "polls", "posts"] {
        total += stat_at(node, key).await;
    }
    total
}

async fn stream(kind: TransportKind, disruption: Disruption) {
    cluster_ready().await;
    let served_before = [served(NODE_A).await, served(NODE_B).await];
    let config = roomy(
        Config {
            transports: vec![kind],
            ..test_config()
        },
        N,
    );
    let (c, rec) = opened_client(UrlSource::Fixed(base()), config).await;
    let started = now();
    let (stop, done) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(0u32)));
    disrupt(disruption, stop.clone(), done.clone());
    // Paced, 10 every 40 ms (about 8 s), so the run spans the disruption and its recovery.
    let mut rejected = 0;
    for i in 0..N {
        if let SendOutcome::Rejected(_) = c.send(text(&format!("n:{i}"))) {
            rejected += 1;
        }
        if i % 10 == 9 {
            sleep(40).await;
        }
    }
    let all = rec.wait(60_000.0, |r| numbered(r).len() >= N).await;
    let finished = now();
    stop.set(true);
    sleep(300).await;
    let echoed = numbered(&rec);
    let (delivered, duplicated, lost, in_order) = count_delivery(&echoed, N);
    let try_laters = rec.count(|e| {
        matches!(
            e,
            Event::Error(ClientError::Server {
                code: ErrorCode::TryLater,
                ..
            })
        )
    });
    let pause = longest_pause(&rec);
    web_sys::console::log_1(
        &format!(
            "CLUSTER {kind} {disruption:?} {}: disruptions={} reconnects={} sent={N} \
             delivered={delivered} dup={duplicated} lost={lost} in-order={in_order} \
             try-later={try_laters} longest-pause-ms={pause:.0} echoes/s={:.0}",
            web_sys::window()
                .and_then(|w| w.navigator().user_agent().ok())
                .unwrap_or_default(),
            done.get(),
            rec.opens().saturating_sub(1),
            N as f64 / ((finished - started) / 1000.0),
        )
        .into(),
    );
    assert_eq!(rejected, 0);
    assert!(
        all,
        "not every echo arrived: {} of {N}: {}",
        echoed.len(),
        rec.dump()
    );
    assert_eq!((delivered, duplicated, lost), (N, 0, 0), "at the client");
    assert!(in_order, "echoes out of order");
    match disruption {
        Disruption::Drops => {
            assert!(done.get() >= 3, "the drops did not run");
            assert!(rec.opens() > 2, "connections were not actually dropped");
            // No stickiness: the session's requests reached both nodes.
            let served_after = [served(NODE_A).await, served(NODE_B).await];
            for (node, (after, before)) in NODES.iter().zip(served_after.iter().zip(served_before))
            {
                assert!(
                    *after > before,
                    "node {node} served none of the session's requests"
                );
            }
        }
        Disruption::KillHolder | Disruption::RedisRestart => {
            assert_eq!(done.get(), 1, "the {disruption:?} did not happen");
            assert!(rec.opens() > 1, "the session never moved: {}", rec.dump());
            // Within the client's reconnect window: the session went on, it did not start over.
            assert!(pause < 10_000.0, "echoes stopped for {pause:.0} ms");
        }
    }
    assert!(
        rec.wait(10_000.0, |_| c.state() == StateKind::Open).await,
        "not open again"
    );
    c.close(1000, "done").unwrap();
}

#[wasm_bindgen_test]
async fn websocket_churn_across_nodes() {
    stream(TransportKind::WebSocket, Disruption::Drops).await;
}

#[wasm_bindgen_test]
async fn sse_churn_across_nodes() {
    stream(TransportKind::Sse, Disruption::Drops).await;
}

#[wasm_bindgen_test]
async fn long_polling_churn_across_nodes() {
    stream(TransportKind::LongPolling, Disruption::Drops).await;
}

#[wasm_bindgen_test]
async fn short_polling_churn_across_nodes() {
    stream(TransportKind::Polling, Disruption::Drops).await;
}

#[wasm_bindgen_test]
async fn websocket_survives_its_node_killed() {
    stream(TransportKind::WebSocket, Disruption::KillHolder).await;
}

#[wasm_bindgen_test]
async fn sse_survives_its_node_killed() {
    stream(TransportKind::Sse, Disruption::KillHolder).await;
}

#[wasm_bindgen_test]
async fn long_polling_survives_its_node_killed() {
    stream(TransportKind::LongPolling, Disruption::KillHolder).await;
}

#[wasm_bindgen_test]
async fn short_polling_survives_its_node_killed() {
    stream(TransportKind::Polling, Disruption::KillHolder).await;
}

#[wasm_bindgen_test]
async fn websocket_survives_a_redis_restart() {
    stream(TransportKind::WebSocket, Disruption::RedisRestart).await;
}

#[wasm_bindgen_test]
async fn sse_survives_a_redis_restart() {
    stream(TransportKind::Sse, Disruption::RedisRestart).await;
}

#[wasm_bindgen_test]
async fn long_polling_survives_a_redis_restart() {
    stream(TransportKind::LongPolling, Disruption::RedisRestart).await;
}

#[wasm_bindgen_test]
async fn short_polling_survives_a_redis_restart() {
    stream(TransportKind::Polling, Disruption::RedisRestart).await;
}
