//! `bench-load`: the load generator of the "Server" scenarios of `make bench`.
//!
//! It drives a `holdfast-server` that `scripts/bench-server.sh` started on loopback (a fresh one
//! per scenario, so each memory figure starts from an idle process) and writes one JSON file per
//! scenario; `report` merges them into `server.json` and a markdown table.
//!
//! ```text
//! bench-load ws-idle   --url http://127.0.0.1:PORT --pid PID --out FILE [--sessions 10000]
//!                      [--marks 1000,2000,5000] [--hold-secs 4]
//! bench-load long-poll --url http://127.0.0.1:PORT --pid PID --out FILE [--sessions 1000]
//!                      [--marks 250,500] [--hold-secs 4]
//! bench-load fanout    --url http://127.0.0.1:PORT --out FILE [--sessions 1000] [--secs 10]
//!                      [--warmup-secs 1] [--window 256]
//! bench-load echo      --url http://127.0.0.1:PORT --out FILE [--messages 2000] [--runs 3]
//!                      [--rtt-messages 1000] [--window 256]
//! bench-load report    --json FILE --md FILE [--wall-secs S] [--build PROFILE]
//!                      [--redis-version V] [--store-wall-secs S] PART.json...
//! ```
//!
//! Every load scenario also takes `--store NAME` (the session store of the server under load,
//! e.g. `memory` or `redis`: written into its JSON as `"store"`, and `report` then puts it in
//! the store comparison instead of the main table) and `--redis-pid PID` (the redis-server the
//! server uses: its RSS is sampled beside the server's, its CPU time measured beside it).
//!
//! - `ws-idle`: ramps to `--sessions` idle protocol sessions over WebSocket (HELLO / WELCOME
//!   each, at most [`HANDSHAKES_IN_FLIGHT`] handshakes at once), answering the server's PINGs
//!   so that its idle timeout never drops them. It samples the server's RSS (`VmRSS` of
//!   `/proc/PID/status`) with no session, at each mark and at the full count, then once more
//!   after `--hold-secs` of idling (every session has exchanged PING / PONG by then), and checks
//!   with `GET {base}/bench/stats` that the server holds them all.
//! - `long-poll`: the same for protocol sessions over long polling: `POST {base}/poll/open`
//!   (HELLO → WELCOME), then one held `GET {base}/poll` after another, one connection each.
//! - `fanout`: `--sessions` receiving sessions and one more that sends `broadcast:<n>` (the demo
//!   app sends `<n>` to every session); the sender keeps at most `--window` broadcasts ahead of
//!   the slowest receiver (so no session's unacknowledged log overflows) and receivers ACK every
//!   [`ACK_EVERY`] messages. Messages delivered to the receivers per second are measured over
//!   `--secs` after `--warmup-secs`.
//! - `echo`: one protocol session over WebSocket (HELLO / WELCOME as `ws-idle`); the demo app
//!   echoes every text message. Each of `--runs` runs does `--rtt-messages` round trips one at
//!   a time (each message sent once the previous echo arrived: p50 / p99 in µs), then sends
//!   `--messages` 64-byte text messages pipelined, at most `--window` ahead of the echoes, and
//!   times them from the first send to the last echo (msg/s). The client ACKs every
//!   [`ACK_EVERY`] echoes and answers PINGs. The figures are the round trips of every run
//!   together and the median run's rate.
//!
//! Everything is bounded: session counts, per-step deadlines ([`STEP_DEADLINE`]), and the
//! measuring windows. Only loopback servers are accepted. Client sockets are bound to source
//! addresses `127.0.0.2`–`127.0.0.201` in turn, so even repeated runs never run out of
//! ephemeral ports.

mod echo;
mod http;
mod ramp;
mod report;
mod ws;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// What every fallible step returns.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Handshakes (or poll opens) in flight at once while ramping.
pub const HANDSHAKES_IN_FLIGHT: usize = 100;
/// Receivers acknowledge after this many messages (the server's log holds 1024).
pub const ACK_EVERY: u32 = 16;
/// Longest wait for one step (a mark of the ramp, a handshake).
pub const STEP_DEADLINE: Duration = Duration::from_secs(60);

const USAGE: &str = "\
usage: bench-load ws-idle   --url http://127.0.0.1:PORT --pid PID --out FILE [--sessions 10000]
                            [--marks 1000,2000,5000] [--hold-secs 4]
       bench-load long-poll --url http://127.0.0.1:PORT --pid PID --out FILE [--sessions 1000]
                            [--marks 250,500] [--hold-secs 4]
       bench-load fanout    --url http://127.0.0.1:PORT --out FILE [--sessions 1000] [--secs 10]
                            [--warmup-secs 1] [--window 256]
       bench-load echo      --url http://127.0.0.1:PORT --out FILE [--messages 2000] [--runs 3]
                            [--rtt-messages 1000] [--window 256]
       bench-load report    --json FILE --md FILE [--wall-secs S] [--build PROFILE]
                            [--redis-version V] [--store-wall-secs S] PART.json...
(every load scenario also takes --store NAME and --redis-pid PID)";

/// The server under load.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where it listens (loopback).
    pub addr: SocketAddr,
    /// The protocol's base path (`/holdfast`).
    pub base: String,
    /// Its process id, for RSS samples.
    pub pid: Option<u32>,
    /// The redis-server behind it, if any (`--redis-pid`): sampled beside it.
    pub redis_pid: Option<u32>,
}

/// Parsed `--key value` options and positional arguments.
struct Opts {
    named: HashMap<String, String>,
    positional: Vec<String>,
}

impl Opts {
    fn parse(args: impl Iterator<Item = String>) -> Result<Opts, String> {
        let mut named = HashMap::new();
        let mut positional = Vec::new();
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            if let Some(key) = arg.strip_prefix("--") {
                let value = args
                    .next()
                    .ok_or_else(|| format!("--{key} needs a value"))?;
                named.insert(key.to_owned(), value);
            } else {
                positional.push(arg);
            }
        }
        Ok(Opts { named, positional })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.named.get(key).map(String::as_str)
    }

    fn required(&self, key: &str) -> Result<&str, String> {
        self.get(key).ok_or_else(|| format!("--{key} is required"))
    }

    fn number<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("bad --{key}: {v}")),
        }
    }

    fn marks(&self, default: &[usize]) -> Result<Vec<usize>, String> {
        match self.get("marks") {
            None => Ok(default.to_vec()),
            Some(v) => v
                .split(',')
                .filter(|m| !m.is_empty())
                .map(|m| m.trim().parse().map_err(|_| format!("bad --marks: {v}")))
                .collect(),
        }
    }

    fn target(&self) -> Result<Target, String> {
        let url = self.required("url")?;
        let hostport = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("--url must be http://IP:PORT, got {url}"))?
            .trim_end_matches('/');
        let addr: SocketAddr = hostport
            .parse()
            .map_err(|_| format!("--url must be http://IP:PORT with a loopback IP, got {url}"))?;
        if !addr.ip().is_loopback() {
            return Err(format!(
                "bench-load only loads loopback servers, not {addr}"
            ));
        }
        let pid_of = |key: &str| match self.get(key) {
            None => Ok(None),
            Some(p) => p.parse().map(Some).map_err(|_| format!("bad --{key}: {p}")),
        };
        Ok(Target {
            addr,
            base: self.get("base-path").unwrap_or("/holdfast").to_owned(),
            pid: pid_of("pid")?,
            redis_pid: pid_of("redis-pid")?,
        })
    }
}

/// The server's resident set in bytes (`VmRSS` of `/proc/PID/status`), if it can be read.
pub fn rss_bytes(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time (user + system) process `pid` (`None`: this process) used so far, in seconds, from
/// `/proc/PID/stat` (assumes the usual `USER_HZ` of 100).
pub fn cpu_secs(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command (which may hold spaces) start at the state, field 3.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// The 1-minute load average, if it can be read.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Writes a scenario's result to `--out`, tagged with `--store` when given.
fn write_result(opts: &Opts, mut value: serde_json::Value) -> Result<(), Error> {
    if let Some(store) = opts.get("store") {
        value["store"] = serde_json::json!(store);
    }
    write_json(opts.required("out")?, &value)
}

fn write_json(path: &str, value: &serde_json::Value) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n")?;
    Ok(())
}

async fn run(scenario: &str, opts: &Opts) -> Result<(), Error> {
    match scenario {
        "ws-idle" => {
            let target = opts.target()?;
            let sessions = opts.number("sessions", 10_000usize)?;
            let marks = opts.marks(&[1_000, 2_000, 5_000])?;
            let hold = Duration::from_secs(opts.number("hold-secs", 4u64)?);
            opts.required("out")?;
            let result = ws::idle(&target, sessions, &marks, hold).await?;
            write_result(opts, result)
        }
        "long-poll" => {
            let target = opts.target()?;
            let sessions = opts.number("sessions", 1_000usize)?;
            let marks = opts.marks(&[250, 500])?;
            let hold = Duration::from_secs(opts.number("hold-secs", 4u64)?);
            opts.required("out")?;
            let result = http::long_poll(&target, sessions, &marks, hold).await?;
            write_result(opts, result)
        }
        "fanout" => {
            let target = opts.target()?;
            let params = ws::FanoutParams {
                sessions: opts.number("sessions", 1_000usize)?,
                secs: Duration::from_secs_f64(opts.number("secs", 10.0f64)?),
                warmup: Duration::from_secs_f64(opts.number("warmup-secs", 1.0f64)?),
                window: opts.number("window", 256u64)?,
            };
            opts.required("out")?;
            let result = ws::fanout(&target, &params).await?;
            write_result(opts, result)
        }
        "echo" => {
            let target = opts.target()?;
            let params = echo::EchoParams {
                rtt_messages: opts.number("rtt-messages", 1_000usize)?,
                messages: opts.number("messages", 2_000usize)?,
                runs: opts.number("runs", 3usize)?,
                window: opts.number("window", 256usize)?,
            };
            opts.required("out")?;
            let result = echo::echo(&target, &params).await?;
            write_result(opts, result)
        }
        "report" => {
            let json = opts.required("json")?;
            let md = opts.required("md")?;
            let wall_secs = match opts.get("wall-secs") {
                None => None,
                Some(v) => Some(
                    v.parse::<f64>()
                        .map_err(|_| format!("bad --wall-secs: {v}"))?,
                ),
            };
            let store = report::StoreNote {
                redis_version: opts.get("redis-version"),
                wall_secs: match opts.get("store-wall-secs") {
                    None => None,
                    Some(v) => Some(
                        v.parse::<f64>()
                            .map_err(|_| format!("bad --store-wall-secs: {v}"))?,
                    ),
                },
            };
            let (summary, table) =
                report::merge(&opts.positional, wall_secs, opts.get("build"), &store)?;
            write_json(json, &summary)?;
            std::fs::write(md, table)?;
            Ok(())
        }
        other => Err(format!("unknown scenario {other}\n\n{USAGE}").into()),
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(scenario) = args.next() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if scenario == "-h" || scenario == "--help" {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let opts = match Opts::parse(args) {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("bench-load: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bench-load: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&scenario, &opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-load {scenario}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Opts;

    fn opts(args: &[&str]) -> Opts {
        Opts::parse(args.iter().map(|s| (*s).to_owned())).unwrap()
    }

    #[test]
    fn only_loopback_targets_are_accepted() {
        let t = opts(&["--url", "http://127.0.0.1:8080", "--pid", "7"])
            .target()
            .unwrap();
        assert_eq!(t.addr.port(), 8080);
        assert_eq!(t.pid, Some(7));
        assert_eq!(t.base, "/holdfast");
        assert!(opts(&["--url", "http://10.0.0.1:80"]).target().is_err());
        assert!(opts(&["--url", "ws://127.0.0.1:80"]).target().is_err());
        assert!(opts(&["--url", "http://localhost:80"]).target().is_err());
        assert!(opts(&[]).target().is_err());
    }

    #[test]
    fn marks_and_numbers_parse() {
        let o = opts(&["--marks", "1,2,3", "--sessions", "9"]);
        assert_eq!(o.marks(&[]).unwrap(), vec![1, 2, 3]);
        assert_eq!(o.number("sessions", 0usize).unwrap(), 9);
        assert_eq!(o.number("absent", 5usize).unwrap(), 5);
        assert!(opts(&["--sessions", "x"])
            .number("sessions", 0usize)
            .is_err());
        assert!(Opts::parse(["--out".to_owned()].into_iter()).is_err());
    }
}
