//! Ramping to N held sessions of any transport, with RSS samples at marks along the way.

use crate::{http, load_average, rss_bytes, Error, Target, HANDSHAKES_IN_FLIGHT, STEP_DEADLINE};
use serde_json::{json, Value};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

/// What the session tasks report.
#[derive(Debug, Default)]
pub struct Counters {
    /// Sessions whose handshake succeeded.
    pub established: AtomicUsize,
    /// Sessions whose connection or handshake failed.
    pub failed: AtomicUsize,
    /// Established sessions that ended before they were told to stop.
    pub lost: AtomicUsize,
    /// The first failure or loss, for the report.
    pub first_error: Mutex<Option<String>>,
}

impl Counters {
    /// Counts a failed handshake.
    pub fn fail(&self, why: &dyn std::fmt::Display) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.note(why);
    }

    /// Counts an established session that ended early.
    pub fn lose(&self, why: &dyn std::fmt::Display) {
        self.lost.fetch_add(1, Ordering::Relaxed);
        self.note(why);
    }

    fn note(&self, why: &dyn std::fmt::Display) {
        let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            *first = Some(why.to_string());
        }
    }

    fn first_error(&self) -> Option<String> {
        self.first_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// What a session task gets: its index, the counters, a handshake permit to give back once
/// established, and the stop signal.
pub struct Slot {
    /// The session's index (picks its source address).
    pub index: usize,
    /// Shared counters.
    pub counters: Arc<Counters>,
    /// Held while handshaking; drop it once established.
    pub permit: tokio::sync::OwnedSemaphorePermit,
    /// Turns `true` when the scenario is over.
    pub stop: watch::Receiver<bool>,
}

/// Opens `sessions` sessions with `start` (at most [`HANDSHAKES_IN_FLIGHT`] handshaking),
/// sampling the server's RSS with none, at each of `marks` and at `sessions`, then again after
/// `hold` of idling. The report's figures are per established session.
pub async fn ramp<F, Fut>(
    target: &Target,
    transport: &str,
    sessions: usize,
    marks: &[usize],
    hold: Duration,
    start: F,
) -> Result<Value, Error>
where
    F: Fn(Slot) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let load_start = load_average();
    let counters = Arc::new(Counters::default());
    let permits = Arc::new(Semaphore::new(HANDSHAKES_IN_FLIGHT));
    let (stop_tx, stop) = watch::channel(false);
    let mut steps: Vec<usize> = marks.iter().copied().filter(|&m| m < sessions).collect();
    steps.sort_unstable();
    steps.dedup();
    steps.push(sessions);

    let began = Instant::now();
    let mut samples = vec![sample(target, &counters, began)];
    let mut spawned = 0;
    for &mark in &steps {
        while spawned < mark {
            let permit = Arc::clone(&permits).acquire_owned().await?;
            let slot = Slot {
                index: spawned,
                counters: Arc::clone(&counters),
                permit,
                stop: stop.clone(),
            };
            tokio::spawn(start(slot));
            spawned += 1;
        }
        let deadline = Instant::now() + STEP_DEADLINE;
        while counters.established.load(Ordering::Relaxed) + counters.failed.load(Ordering::Relaxed)
            < mark
        {
            if Instant::now() >= deadline {
                return Err(format!(
                    "{transport}: {} of {mark} sessions established after {STEP_DEADLINE:?}",
                    counters.established.load(Ordering::Relaxed)
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Let the server finish writing WELCOMEs and the sessions settle before sampling.
        tokio::time::sleep(Duration::from_millis(500)).await;
        samples.push(sample(target, &counters, began));
    }
    let ramp_secs = began.elapsed().as_secs_f64();
    tokio::time::sleep(hold).await;
    let held = sample(target, &counters, began);
    let stats = http::stats(target).await.ok();
    let _ = stop_tx.send(true);

    let established = counters.established.load(Ordering::Relaxed);
    let rss_of = |s: &Value| s.get("rss_bytes").and_then(Value::as_u64);
    let idle = samples.first().and_then(rss_of);
    let per_session = match (idle, rss_of(&held)) {
        (Some(idle), Some(full)) if established > 0 => {
            Some(full.saturating_sub(idle) as f64 / established as f64)
        }
        _ => None,
    };
    // The same for the redis-server behind the server, if any.
    let redis_of = |s: &Value| s.get("redis_rss_bytes").and_then(Value::as_u64);
    let redis_per_session = match (samples.first().and_then(redis_of), redis_of(&held)) {
        (Some(idle), Some(full)) if established > 0 => {
            Some(full.saturating_sub(idle) as f64 / established as f64)
        }
        _ => None,
    };
    // The slope between the first mark and the full count (the process's fixed growth out).
    let marginal = match (samples.get(1), samples.last()) {
        (Some(first), Some(last)) => {
            let n = |s: &Value| s.get("established").and_then(Value::as_u64).unwrap_or(0);
            match (rss_of(first), rss_of(last)) {
                (Some(a), Some(b)) if n(last) > n(first) => {
                    Some(b.saturating_sub(a) as f64 / (n(last) - n(first)) as f64)
                }
                _ => None,
            }
        }
        _ => None,
    };
    Ok(json!({
        "transport": transport,
        "sessions": sessions,
        "established": established,
        "failed": counters.failed.load(Ordering::Relaxed),
        "lost": counters.lost.load(Ordering::Relaxed),
        "first_error": counters.first_error(),
        "ramp_secs": ramp_secs,
        "handshakes_per_sec": established as f64 / ramp_secs.max(1e-9),
        "samples": samples,
        "held": {
            "after_secs": hold.as_secs_f64(),
            "sample": held,
            "server_stats": stats,
        },
        "rss_per_session_bytes": per_session,
        "marginal_rss_per_session_bytes": marginal,
        "redis_rss_per_session_bytes": redis_per_session,
        "load_average_start": load_start,
        "load_average_end": load_average(),
    }))
}

fn sample(target: &Target, counters: &Counters, began: Instant) -> Value {
    json!({
        "established": counters.established.load(Ordering::Relaxed),
        "rss_bytes": rss_bytes(target.pid),
        "redis_rss_bytes": target.redis_pid.and_then(|p| rss_bytes(Some(p))),
        "at_secs": began.elapsed().as_secs_f64(),
    })
}
