//! `report`: the scenario files merged into `server.json` and a markdown table.

use crate::{load_average, Error};
use serde_json::{json, Map, Value};

/// The target of the idle WebSocket scenario: under 16 KiB of server RSS per session.
pub const IDLE_TARGET_BYTES: f64 = 16.0 * 1024.0;

/// Reads the scenario files at `paths`: (server.json, server.md). `wall_secs` is how long the
/// whole run took and `build` the cargo profile the server was built with, if the caller says;
/// `store` describes the store comparison (parts tagged `"store"`), if it ran.
pub fn merge(
    paths: &[String],
    wall_secs: Option<f64>,
    build: Option<&str>,
    store: &StoreNote,
) -> Result<(Value, String), Error> {
    let mut scenarios = Map::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let part: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
        let name = part
            .get("scenario")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{path}: no scenario"))?
            .to_owned();
        // A part measured for the store comparison is kept apart from the main table's.
        let key = match part.get("store").and_then(Value::as_str) {
            Some(store) => format!("{store}/{name}"),
            None => name,
        };
        scenarios.insert(key, part);
    }
    let rows = rows(&scenarios);
    let nproc = std::thread::available_parallelism().map_or(0, usize::from);
    let generated = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let summary = json!({
        "generated_unix": generated,
        "cpus": nproc,
        "load_average_at_report": load_average(),
        "wall_secs": wall_secs,
        "build_profile": build,
        "store_comparison": {
            "redis_version": store.redis_version,
            "wall_secs": store.wall_secs,
        },
        "rows": rows.iter().map(|r| json!({
            "scenario": r.scenario, "figure": r.figure, "target": r.target, "met": r.met,
        })).collect::<Vec<_>>(),
        "scenarios": scenarios,
    });
    let mut md = markdown(&rows, &scenarios, nproc, wall_secs, build);
    md.push_str(&store_section(&scenarios, store));
    Ok((summary, md))
}

/// What the caller says about the store comparison.
#[derive(Debug, Default)]
pub struct StoreNote<'a> {
    /// `redis-server --version`'s version.
    pub redis_version: Option<&'a str>,
    /// How long the comparison's scenarios took in all.
    pub wall_secs: Option<f64>,
}

/// One line of the table.
struct Row {
    scenario: String,
    figure: String,
    target: String,
    met: Option<bool>,
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

/// `12345` as `12 345`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

fn kib(bytes: f64) -> String {
    format!("{:.1} KiB", bytes / 1024.0)
}

/// Sessions the server still held at the end of a ramp (its own count when it answered).
fn held(part: &Value) -> u64 {
    let client = num(part, "established").unwrap_or(0.0) - num(part, "lost").unwrap_or(0.0);
    let server = part
        .pointer("/held/server_stats/attached")
        .and_then(Value::as_f64);
    server.map_or(client, |s| s.min(client)).max(0.0) as u64
}

fn ramp_row(part: &Value, label: &str, target: Option<f64>) -> Row {
    let sessions = num(part, "sessions").unwrap_or(0.0) as u64;
    let held = held(part);
    let figure = match num(part, "rss_per_session_bytes") {
        Some(per) => {
            let mut figure = format!("{} RSS per session ({} held", kib(per), grouped(held));
            if let Some(m) = num(part, "marginal_rss_per_session_bytes") {
                figure.push_str(&format!("; marginal {}", kib(m)));
            }
            if let Some(r) = num(part, "handshakes_per_sec") {
                figure.push_str(&format!("; ramp {} handshakes/s", grouped(r as u64)));
            }
            figure.push(')');
            figure
        }
        None => format!("RSS not read ({} held)", grouped(held)),
    };
    let (target_text, met) = match target {
        Some(t) => {
            let met =
                held == sessions && num(part, "rss_per_session_bytes").is_some_and(|per| per < t);
            (
                "10k idle WS sessions under 16 KB (16 KiB) RSS each".to_owned(),
                Some(met),
            )
        }
        None => ("—".to_owned(), None),
    };
    Row {
        scenario: format!("{label} ({})", grouped(sessions)),
        figure,
        target: target_text,
        met,
    }
}

fn rows(scenarios: &Map<String, Value>) -> Vec<Row> {
    let mut rows = Vec::new();
    if let Some(part) = scenarios.get("ws-idle") {
        rows.push(ramp_row(
            part,
            "Idle WebSocket sessions",
            Some(IDLE_TARGET_BYTES),
        ));
    }
    if let Some(part) = scenarios.get("long-poll") {
        rows.push(ramp_row(part, "Long-poll sessions", None));
    }
    if let Some(part) = scenarios.get("fanout") {
        let sessions = num(part, "sessions").unwrap_or(0.0) as u64;
        let total = num(part, "msgs_per_sec_total").unwrap_or(0.0);
        let per = num(part, "msgs_per_sec_per_session").unwrap_or(0.0);
        let casts = num(part, "broadcasts_per_sec").unwrap_or(0.0);
        let lost = num(part, "lost").unwrap_or(0.0) as u64;
        let mut figure = format!(
            "{} msg/s delivered in total, {} per session ({} broadcasts/s, over {:.0} s)",
            grouped(total as u64),
            grouped(per as u64),
            grouped(casts as u64),
            num(part, "measured_secs").unwrap_or(0.0)
        );
        if let (Some(server), Some(client)) = (
            num(part, "server_cpu_percent"),
            num(part, "client_cpu_percent"),
        ) {
            figure.push_str(&format!(
                "; CPU: server {server:.0} %, load generator {client:.0} % of one core"
            ));
            if let Some(per_cpu) = num(part, "msgs_per_server_cpu_sec") {
                figure.push_str(&format!(
                    ", i.e. {} msg per server CPU-second",
                    grouped(per_cpu as u64)
                ));
            }
        }
        if lost > 0 {
            figure.push_str(&format!("; {lost} sessions lost"));
        }
        rows.push(Row {
            scenario: format!("Broadcast fan-out ({} sessions)", grouped(sessions)),
            figure,
            target: "—".to_owned(),
            met: None,
        });
    }
    rows
}

fn markdown(
    rows: &[Row],
    scenarios: &Map<String, Value>,
    cpus: usize,
    wall_secs: Option<f64>,
    build: Option<&str>,
) -> String {
    let mut out = String::from("| scenario | figure | target | met? |\n|---|---|---|---|\n");
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            r.scenario, r.figure, r.target, met
        ));
    }
    let loads: Vec<String> = ["ws-idle", "long-poll", "fanout"]
        .iter()
        .filter_map(|name| {
            let load = scenarios.get(*name)?.get("load_average_start")?.as_f64()?;
            Some(format!("{name} {load:.2}"))
        })
        .collect();
    out.push_str(&format!(
        "\nReference server (demo app, {}) and `bench-load` on the same {cpus}-CPU \
         machine over loopback, a fresh server per scenario. RSS is the server's `VmRSS` after \
         the sessions idled past a server PING, minus its RSS with no session, divided by the \
         sessions; \"marginal\" is the slope between the first mark and the full count. \
         1-minute load average when each scenario started: {}.{}\n",
        build.map_or("optimised build".to_owned(), |b| format!(
            "cargo profile `{b}`"
        )),
        if loads.is_empty() {
            "not read".to_owned()
        } else {
            loads.join(", ")
        },
        wall_secs.map_or(String::new(), |w| format!(
            " The three scenarios took {w:.0} s in all."
        ))
    ));
    out
}

/// The stores compared, as tagged by `--store`: (tag, column heading).
const STORES: [(&str, &str); 2] = [("memory", "in-memory"), ("redis", "Redis")];

/// One metric of the store comparison: its label, how to read it from a store's parts, and
/// how to show it.
struct Metric {
    label: String,
    values: [Option<f64>; 2],
    show: fn(f64) -> String,
    /// Whether a ratio means anything (not for counts).
    ratio: bool,
}

fn rate(v: f64) -> String {
    format!("{} msg/s", grouped(v.round() as u64))
}

fn micros(v: f64) -> String {
    format!("{} µs", grouped(v.round() as u64))
}

fn per_sec(v: f64) -> String {
    format!("{}/s", grouped(v.round() as u64))
}

fn count(v: f64) -> String {
    grouped(v.max(0.0) as u64)
}

fn kib_of(v: f64) -> String {
    kib(v)
}

/// "Redis store (one node)": the same scenarios against the in-memory store and the Redis store,
/// measured in the same run; empty when no part is tagged with a store.
fn store_section(scenarios: &Map<String, Value>, note: &StoreNote) -> String {
    let part = |store: &str, name: &str| scenarios.get(&format!("{store}/{name}"));
    if !STORES.iter().any(|(s, _)| {
        ["ws-idle", "fanout", "echo"]
            .iter()
            .any(|n| part(s, n).is_some())
    }) {
        return String::new();
    }
    let each = |name: &str, read: &dyn Fn(&Value) -> Option<f64>| {
        STORES.map(|(s, _)| part(s, name).and_then(read))
    };
    let first = |name: &str, key: &str| {
        STORES
            .iter()
            .find_map(|(s, _)| num(part(s, name)?, key))
            .unwrap_or(0.0) as u64
    };
    let idle_sessions = first("ws-idle", "sessions");
    let fanout_sessions = first("fanout", "sessions");
    let echo_messages = first("echo", "messages_per_run");
    let echo_runs = STORES
        .iter()
        .find_map(|(s, _)| part(s, "echo")?.get("runs")?.as_array().map(Vec::len))
        .unwrap_or(0);
    let rtt_count = first("echo", "rtt_messages_per_run") * echo_runs as u64;
    let echo_window = first("echo", "window");
    let both = |p: &Value| {
        Some(
            num(p, "rss_per_session_bytes")? + num(p, "redis_rss_per_session_bytes").unwrap_or(0.0),
        )
    };
    let metrics = [
        Metric {
            label: format!(
                "idle WebSocket sessions held (of {})",
                grouped(idle_sessions)
            ),
            values: each("ws-idle", &|p| Some(held(p) as f64)),
            show: count,
            ratio: false,
        },
        Metric {
            label: "server RSS per idle session".to_owned(),
            values: each("ws-idle", &|p| num(p, "rss_per_session_bytes")),
            show: kib_of,
            ratio: true,
        },
        Metric {
            label: "redis-server RSS per idle session".to_owned(),
            values: each("ws-idle", &|p| num(p, "redis_rss_per_session_bytes")),
            show: kib_of,
            ratio: false,
        },
        Metric {
            label: "server + redis-server RSS per idle session".to_owned(),
            values: each("ws-idle", &both),
            show: kib_of,
            ratio: true,
        },
        Metric {
            label: "handshakes while ramping".to_owned(),
            values: each("ws-idle", &|p| num(p, "handshakes_per_sec")),
            show: per_sec,
            ratio: true,
        },
        Metric {
            label: format!("fan-out delivered ({} sessions)", grouped(fanout_sessions)),
            values: each("fanout", &|p| num(p, "msgs_per_sec_total")),
            show: rate,
            ratio: true,
        },
        Metric {
            label: format!(
                "echo throughput ({} pipelined {}-byte messages, median of {echo_runs} runs)",
                grouped(echo_messages),
                crate::echo::MESSAGE_BYTES
            ),
            values: each("echo", &|p| num(p, "msgs_per_sec")),
            show: rate,
            ratio: true,
        },
        Metric {
            label: format!(
                "echo RTT p50 ({} sequential round trips)",
                grouped(rtt_count)
            ),
            values: each("echo", &|p| num(p, "rtt_us_p50")),
            show: micros,
            ratio: true,
        },
        Metric {
            label: "echo RTT p99".to_owned(),
            values: each("echo", &|p| num(p, "rtt_us_p99")),
            show: micros,
            ratio: true,
        },
    ];
    let mut out = String::from(
        "\n#### Redis store (one node)\n\n\
         | metric | in-memory | Redis | ratio (Redis / memory) |\n|---|---|---|---|\n",
    );
    for m in &metrics {
        let cell = |v: Option<f64>| v.map_or("—".to_owned(), m.show);
        let ratio = match m.values {
            [Some(a), Some(b)] if m.ratio && a > 0.0 => format!("{:.2}", b / a),
            _ => "—".to_owned(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            m.label,
            cell(m.values[0]),
            cell(m.values[1]),
            ratio
        ));
    }
    // Anything that went wrong, per store and scenario.
    let mut troubles = Vec::new();
    for (store, heading) in STORES {
        for name in ["ws-idle", "fanout", "echo"] {
            let Some(p) = part(store, name) else {
                troubles.push(format!("{heading} `{name}` did not run"));
                continue;
            };
            let lost = num(p, "lost").unwrap_or(0.0) + num(p, "failed").unwrap_or(0.0);
            let disorder: f64 = p.get("runs").and_then(Value::as_array).map_or(0.0, |runs| {
                runs.iter().filter_map(|r| num(r, "out_of_order")).sum()
            });
            if lost > 0.0 {
                let why = p.get("first_error").and_then(Value::as_str).unwrap_or("?");
                troubles.push(format!(
                    "{heading} `{name}`: {} sessions failed or lost (first: {why})",
                    lost as u64
                ));
            }
            if disorder > 0.0 {
                troubles.push(format!(
                    "{heading} `{name}`: {} echoes out of order",
                    disorder as u64
                ));
            }
        }
    }
    out.push_str(&format!(
        "\nThe same scenarios as above, in the same run, against the in-memory store and against \
         `holdfast-server --redis URL --node-name bench` with one {} on loopback (AOF \
         `appendfsync everysec`, no RDB snapshots), a fresh server per scenario. With Redis every \
         session change (handshake, each message logged, each ACK) is written to Redis before \
         anything reaches the client, and broadcasts go through Redis pub/sub. redis-server RSS \
         is its `VmRSS` growth over the idle ramp, divided by the sessions. `echo`: one session, \
         round trips one at a time, then 64-byte messages pipelined at most {echo_window} ahead of \
         their echoes. A ratio above 1 is more memory or latency with Redis; below 1, fewer \
         messages or handshakes per second.{}{}\n",
        note.redis_version
            .map_or("redis-server".to_owned(), |v| format!("redis-server {v}")),
        note.wall_secs.map_or(String::new(), |w| format!(
            " The comparison's six servers took {w:.0} s in all."
        )),
        if troubles.is_empty() {
            String::new()
        } else {
            format!(" Problems: {}.", troubles.join("; "))
        }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::{grouped, rows, store_section, StoreNote};
    use serde_json::json;

    #[test]
    fn the_store_section_compares_the_tagged_parts() {
        let mut map = serde_json::Map::new();
        assert_eq!(store_section(&map, &StoreNote::default()), "");
        for (store, per, rtt) in [("memory", 8192.0, 100.0), ("redis", 12288.0, 250.0)] {
            map.insert(
                format!("{store}/ws-idle"),
                json!({"scenario": "ws-idle", "store": store, "sessions": 10, "established": 10,
                       "lost": 0, "rss_per_session_bytes": per}),
            );
            map.insert(
                format!("{store}/echo"),
                json!({"scenario": "echo", "store": store, "messages_per_run": 2000,
                       "rtt_messages_per_run": 1000, "window": 256, "runs": [{}, {}, {}],
                       "msgs_per_sec": 1e6 / rtt, "rtt_us_p50": rtt, "rtt_us_p99": rtt * 2.0}),
            );
        }
        let md = store_section(&map, &StoreNote::default());
        assert!(md.contains("#### Redis store (one node)"));
        assert!(md.contains("| server RSS per idle session | 8.0 KiB | 12.0 KiB | 1.50 |"));
        assert!(md.contains(
            "| echo RTT p50 (3\u{202f}000 sequential round trips) | 100 µs | 250 µs | 2.50 |"
        ));
        assert!(md.contains("| 0.40 |"), "{md}");
        assert!(md.contains("`fanout` did not run"));
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(7), "7");
        assert_eq!(grouped(1234), "1\u{202f}234");
        assert_eq!(grouped(1234567), "1\u{202f}234\u{202f}567");
    }

    #[test]
    fn the_idle_target_needs_every_session_held_and_under_16_kib() {
        let part = |per: f64, lost: u64| {
            json!({"scenario": "ws-idle", "sessions": 10000, "established": 10000, "lost": lost,
                   "rss_per_session_bytes": per,
                   "held": {"server_stats": {"attached": 10000 - lost}}})
        };
        let mut map = serde_json::Map::new();
        map.insert("ws-idle".into(), part(9000.0, 0));
        assert_eq!(rows(&map)[0].met, Some(true));
        map.insert("ws-idle".into(), part(20000.0, 0));
        assert_eq!(rows(&map)[0].met, Some(false));
        map.insert("ws-idle".into(), part(9000.0, 3));
        assert_eq!(rows(&map)[0].met, Some(false));
    }
}
