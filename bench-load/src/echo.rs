//! The `echo` scenario: one protocol session over WebSocket, the demo app echoing every text
//! message back — round trips one at a time (latency), then a pipelined burst (throughput).

use crate::ws::{Read, Session};
use crate::{cpu_secs, load_average, Error, Target, STEP_DEADLINE};
use serde_json::{json, Value};
use tokio::time::{timeout, Instant};

/// Size of each throughput message (bytes of text).
pub const MESSAGE_BYTES: usize = 64;
/// Messages the client flushes at once while pipelining.
const FLUSH_EVERY: u32 = 16;

/// The `echo` scenario's settings.
pub struct EchoParams {
    /// Sequential round trips per run.
    pub rtt_messages: usize,
    /// Pipelined messages per run.
    pub messages: usize,
    /// Runs (each: the round trips, then the burst), all on the one session.
    pub runs: usize,
    /// Most messages in flight (sent, echo not yet received) while pipelining: keeps the
    /// server's log of unacknowledged echoes well under its 1024 frames.
    pub window: usize,
}

/// The throughput message number `n`: `t` and the number, zero-padded to [`MESSAGE_BYTES`].
fn burst_text(n: usize) -> String {
    format!("t{n:0>width$}", width = MESSAGE_BYTES - 1)
}

/// The nearest-rank `q` quantile of sorted `samples`.
fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// Reads until the next data frame (answering PINGs, ACKing as [`Session::read`] does), within
/// [`STEP_DEADLINE`].
async fn next_text(session: &mut Session) -> Result<Option<String>, Error> {
    let deadline = Instant::now() + STEP_DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, session.read()).await {
            Err(_) => return Err("no echo within the step deadline".into()),
            Ok(Read::Data(text)) => return Ok(text),
            Ok(Read::Control) => {}
            Ok(Read::Ended(why)) => return Err(format!("the session ended: {why}").into()),
        }
    }
}

/// Round trips one at a time: each message is sent once the previous echo arrived. Gives the
/// round-trip times in µs.
async fn round_trips(session: &mut Session, run: usize, count: usize) -> Result<Vec<f64>, Error> {
    let mut rtts = Vec::with_capacity(count);
    for i in 0..count {
        let text = format!("rtt:{run}:{i}");
        let t0 = Instant::now();
        session.feed_text(&text).await?;
        session.flush().await?;
        match next_text(session).await? {
            Some(echo) if echo == text => {}
            Some(other) => {
                return Err(format!("expected the echo of {text:?}, got {other:?}").into())
            }
            None => return Err("a BINARY frame where a text echo was due".into()),
        }
        rtts.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    session.ack().await?;
    Ok(rtts)
}

/// What one pipelined burst measured.
struct Burst {
    secs: f64,
    echoed: usize,
    out_of_order: usize,
    server_cpu_secs: Option<f64>,
    redis_cpu_secs: Option<f64>,
}

/// `messages` messages sent as fast as the window allows, echoes read in between; timed from
/// the first send to the last echo.
async fn burst(
    session: &mut Session,
    target: &Target,
    messages: usize,
    window: usize,
) -> Result<Burst, Error> {
    let window = window.max(1);
    let (server0, redis0) = (cpu_of(target.pid), cpu_of(target.redis_pid));
    let t0 = Instant::now();
    let (mut sent, mut echoed, mut out_of_order) = (0usize, 0usize, 0usize);
    let mut fed = 0u32;
    let deadline = t0 + STEP_DEADLINE;
    while echoed < messages {
        if Instant::now() >= deadline {
            return Err(format!("{echoed} of {messages} echoes within the step deadline").into());
        }
        if sent < messages && sent - echoed < window {
            session.feed_text(&burst_text(sent)).await?;
            sent += 1;
            fed += 1;
            if fed >= FLUSH_EVERY || sent == messages {
                session.flush().await?;
                fed = 0;
            }
            continue;
        }
        if fed > 0 {
            session.flush().await?;
            fed = 0;
        }
        match next_text(session).await? {
            Some(text) if text.len() == MESSAGE_BYTES && text.starts_with('t') => {
                if text != burst_text(echoed) {
                    out_of_order += 1;
                }
                echoed += 1;
            }
            other => return Err(format!("unexpected data frame in the burst: {other:?}").into()),
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let spent = |before: Option<f64>, pid: Option<u32>| Some(cpu_of(pid)? - before?);
    let result = Burst {
        secs,
        echoed,
        out_of_order,
        server_cpu_secs: spent(server0, target.pid),
        redis_cpu_secs: spent(redis0, target.redis_pid),
    };
    session.ack().await?;
    Ok(result)
}

/// CPU seconds process `pid` used so far (`None` when there is no such process: never this
/// one's, which is what [`cpu_secs`] gives for `None`).
fn cpu_of(pid: Option<u32>) -> Option<f64> {
    cpu_secs(Some(pid?))
}

fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    percentile(&sorted, 0.5)
}

/// The `echo` scenario.
pub async fn echo(target: &Target, p: &EchoParams) -> Result<Value, Error> {
    let load_start = load_average();
    let mut session = Session::open(target, 0).await?;
    let mut all_rtts = Vec::new();
    let mut runs = Vec::new();
    let mut rates = Vec::new();
    for run in 0..p.runs.max(1) {
        let mut rtts = round_trips(&mut session, run, p.rtt_messages).await?;
        let b = burst(&mut session, target, p.messages, p.window).await?;
        rtts.sort_by(f64::total_cmp);
        let rate = b.echoed as f64 / b.secs.max(1e-9);
        rates.push(rate);
        runs.push(json!({
            "rtt_us_p50": percentile(&rtts, 0.5),
            "rtt_us_p99": percentile(&rtts, 0.99),
            "rtt_us_max": rtts.last(),
            "burst_secs": b.secs,
            "echoed": b.echoed,
            "out_of_order": b.out_of_order,
            "msgs_per_sec": rate,
            "server_cpu_percent": b.server_cpu_secs.map(|c| c / b.secs.max(1e-9) * 100.0),
            "redis_cpu_percent": b.redis_cpu_secs.map(|c| c / b.secs.max(1e-9) * 100.0),
        }));
        all_rtts.extend(rtts);
    }
    all_rtts.sort_by(f64::total_cmp);
    Ok(json!({
        "scenario": "echo",
        "transport": "websocket",
        "message_bytes": MESSAGE_BYTES,
        "rtt_messages_per_run": p.rtt_messages,
        "messages_per_run": p.messages,
        "window": p.window,
        "runs": runs,
        // Over every round trip of every run.
        "rtt_us_p50": percentile(&all_rtts, 0.5),
        "rtt_us_p99": percentile(&all_rtts, 0.99),
        // The median run.
        "msgs_per_sec": median(&rates),
        "load_average_start": load_start,
        "load_average_end": load_average(),
    }))
}

#[cfg(test)]
mod tests {
    use super::{burst_text, percentile, MESSAGE_BYTES};

    #[test]
    fn burst_messages_are_64_bytes_and_not_demo_commands() {
        assert_eq!(burst_text(0).len(), MESSAGE_BYTES);
        assert_eq!(burst_text(123_456).len(), MESSAGE_BYTES);
        assert!(burst_text(7).starts_with("t000"));
        assert!(burst_text(7).ends_with('7'));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), Some(50.0));
        assert_eq!(percentile(&v, 0.99), Some(99.0));
        assert_eq!(percentile(&v[..1], 0.99), Some(1.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
