//! `report`: the scenario files merged into `server.json` and a markdown table.

use crate::{load_average, Error};
use serde_json::{json, Map, Value};

/// The target of the idle WebSocket scenario: under 16 KiB of server RSS per session.
pub const IDLE_TARGET_BYTES: f64 = 16.0 * 1024.0;

/// Reads the scenario files at `paths`: (server.json, server.md). `wall_secs` is how long the
/// whole run took and `build` the cargo profile the server was built with, if the caller says.
pub fn merge(
    paths: &[String],
    wall_secs: Option<f64>,
    build: Option<&str>,
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
        scenarios.insert(name, part);
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
        "rows": rows.iter().map(|r| json!({
            "scenario": r.scenario, "figure": r.figure, "target": r.target, "met": r.met,
        })).collect::<Vec<_>>(),
        "scenarios": scenarios,
    });
    Ok((
        summary,
        markdown(&rows, &scenarios, nproc, wall_secs, build),
    ))
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

#[cfg(test)]
mod tests {
    use super::{grouped, rows};
    use serde_json::json;

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
