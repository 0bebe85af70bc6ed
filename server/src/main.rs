//! `holdfast-server`: runs the demo app on the reference server.
//!
//! ```text
//! holdfast-server [--host 127.0.0.1] [--port 8080] [--test-profile] [--faults]
//!                 [--www DIR] [--pkg DIR] [--base-path /holdfast] [--session-ttl-ms N]
//!                 [--poll-hold-ms N] [--allow-origin ORIGIN]... [--allow-any-origin] [--bench]
//!                 [--max-log-messages N] [--redis URL [--node-name NAME]]
//! ```
//!
//! After binding it prints exactly one line, `listening on http://HOST:PORT`, to stdout.

use holdfast_server::{
    router, router_with_store, serve, DemoApp, OriginPolicy, RedisStore, ServerConfig,
};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

const USAGE: &str = "\
usage: holdfast-server [options]

  --host HOST            address to bind (default 127.0.0.1)
  --port PORT            port to bind, 0 = any free port (default 8080)
  --test-profile         ping 1 s, idle timeout 2.5 s, handshake timeout 2 s, header and body
                         read timeouts 2 s, session TTL 5 s, poll hold 1 s, fault controls on
  --faults               mount the /_fault/* control routes
  --bench                mount the {base}/bench/* routes of make bench (plain SSE and
                         long-poll echoes, stats)
  --www DIR              serve DIR at /
  --pkg DIR              serve DIR at /pkg/
  --base-path PATH       prefix of the protocol endpoints (default /holdfast)
  --session-ttl-ms N     how long a session without a connection waits for a resume
                         (default 120000; test profile 5000)
  --poll-hold-ms N       how long a quiet long poll is held before an empty answer
                         (default 25000; test profile 1000)
  --max-log-messages N   messages a session keeps for its client until acknowledged; one more
                         ends the session with CLOSE 1013 \"session buffer full\" (default 1024)
  --allow-origin ORIGIN  allow this page origin to use the protocol endpoints (repeatable)
  --allow-any-origin     allow every origin
                         (default: loopback origins only, http://127.0.0.1:* and http://localhost:*)
  --redis URL            keep sessions in Redis (redis://HOST:PORT/), shared with every node
                         started with the same URL: any node serves any request, no sticky
                         sessions (default: in this process's memory)
  --node-name NAME       this node's name in Redis and its logs (default node)
  -h, --help             this help";

struct Args {
    host: String,
    port: u16,
    config: ServerConfig,
    redis: Option<String>,
    node_name: String,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut host = "127.0.0.1".to_owned();
    let mut port: u16 = 8080;
    let mut test_profile = false;
    let mut faults = false;
    let mut bench = false;
    let mut www = None;
    let mut pkg = None;
    let mut base_path = None;
    let mut session_ttl_ms = None;
    let mut poll_hold_ms = None;
    let mut max_log_messages = None;
    let mut origins = Vec::new();
    let mut any_origin = false;
    let mut redis = None;
    let mut node_name = "node".to_owned();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--host" => host = value("--host")?,
            "--port" => {
                let v = value("--port")?;
                port = v.parse().map_err(|_| format!("bad --port: {v}"))?;
            }
            "--test-profile" => test_profile = true,
            "--faults" => faults = true,
            "--bench" => bench = true,
            "--www" => www = Some(PathBuf::from(value("--www")?)),
            "--pkg" => pkg = Some(PathBuf::from(value("--pkg")?)),
            "--base-path" => base_path = Some(value("--base-path")?),
            "--session-ttl-ms" => session_ttl_ms = Some(whole(&arg, value(&arg)?)?),
            "--poll-hold-ms" => poll_hold_ms = Some(whole(&arg, value(&arg)?)?),
            "--max-log-messages" => max_log_messages = Some(whole(&arg, value(&arg)?)?),
            "--allow-origin" => origins.push(value("--allow-origin")?),
            "--allow-any-origin" => any_origin = true,
            "--redis" => redis = Some(value("--redis")?),
            "--node-name" => node_name = value("--node-name")?,
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    let mut config = if test_profile {
        ServerConfig::test_profile()
    } else {
        ServerConfig::default()
    };
    config.faults_enabled |= faults;
    config.bench = bench;
    config.www_dir = www;
    config.pkg_dir = pkg;
    if let Some(base_path) = base_path {
        config.base_path = base_path;
    }
    if let Some(ms) = session_ttl_ms {
        config.session_ttl_ms = ms;
    }
    if let Some(ms) = poll_hold_ms {
        config.poll_hold_ms = ms;
    }
    if let Some(n) = max_log_messages {
        config.max_log_messages = n;
    }
    config.allowed_origins = if any_origin {
        OriginPolicy::Any
    } else if !origins.is_empty() {
        OriginPolicy::List(origins)
    } else {
        OriginPolicy::Loopback
    };
    Ok(Some(Args {
        host,
        port,
        config,
        redis,
        node_name,
    }))
}

/// A whole number (milliseconds, a count) given to `flag`.
fn whole<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
    v.parse().map_err(|_| format!("bad {flag}: {v}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("holdfast-server: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "holdfast-server: cannot bind {}:{}: {e}",
                args.host, args.port
            );
            return ExitCode::FAILURE;
        }
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("holdfast-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let app = Arc::new(DemoApp::new());
    let (app, handle) = match &args.redis {
        None => router(args.config, app),
        Some(url) => match RedisStore::connect(url, &args.node_name, &args.config).await {
            Ok(store) => {
                let _ = writeln!(std::io::stderr(), "node {} on {url}", store.node());
                router_with_store(args.config, app, Arc::new(store))
            }
            Err(e) => {
                eprintln!("holdfast-server: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on http://{addr}");
    let _ = stdout.flush();
    tokio::select! {
        () = serve(listener, app, handle) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::parse_args;
    use holdfast_server::OriginPolicy;

    fn parse(args: &[&str]) -> Result<Option<super::Args>, String> {
        parse_args(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn defaults_are_loopback_on_8080_without_faults() {
        let args = parse(&[]).unwrap().unwrap();
        assert_eq!((args.host.as_str(), args.port), ("127.0.0.1", 8080));
        assert_eq!(args.config.allowed_origins, OriginPolicy::Loopback);
        assert!(!args.config.faults_enabled);
        assert!(!args.config.bench);
        assert_eq!(args.config.ping_interval_ms, 3_000);
        assert_eq!(args.config.session_ttl_ms, 120_000);
    }

    #[test]
    fn session_ttl_is_set_by_flag_or_profile() {
        assert_eq!(
            parse(&["--test-profile"])
                .unwrap()
                .unwrap()
                .config
                .session_ttl_ms,
            5_000
        );
        let args = parse(&["--test-profile", "--session-ttl-ms", "750"])
            .unwrap()
            .unwrap();
        assert_eq!(args.config.session_ttl_ms, 750);
        assert!(parse(&["--session-ttl-ms", "soon"]).is_err());
        assert!(parse(&["--session-ttl-ms"]).is_err());
    }

    #[test]
    fn poll_hold_is_set_by_flag_or_profile() {
        assert_eq!(parse(&[]).unwrap().unwrap().config.poll_hold_ms, 25_000);
        let profile = parse(&["--test-profile"]).unwrap().unwrap();
        assert_eq!(profile.config.poll_hold_ms, 1_000);
        let args = parse(&["--poll-hold-ms", "0"]).unwrap().unwrap();
        assert_eq!(args.config.poll_hold_ms, 0);
        assert!(parse(&["--poll-hold-ms", "-1"]).is_err());
        assert!(parse(&["--poll-hold-ms"]).is_err());
    }

    #[test]
    fn max_log_messages_is_set_by_flag() {
        assert_eq!(
            parse(&["--test-profile"])
                .unwrap()
                .unwrap()
                .config
                .max_log_messages,
            1024
        );
        let args = parse(&["--max-log-messages", "4096"]).unwrap().unwrap();
        assert_eq!(args.config.max_log_messages, 4096);
        assert!(parse(&["--max-log-messages", "-1"]).is_err());
        assert!(parse(&["--max-log-messages"]).is_err());
    }

    #[test]
    fn flags_are_applied() {
        let args = parse(&[
            "--port",
            "0",
            "--test-profile",
            "--www",
            "www",
            "--allow-origin",
            "http://a.example",
            "--allow-origin",
            "http://b.example",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(args.port, 0);
        assert!(args.config.faults_enabled);
        assert_eq!(args.config.idle_timeout_ms, 2_500);
        assert_eq!(
            args.config.www_dir.as_deref(),
            Some(std::path::Path::new("www"))
        );
        assert_eq!(
            args.config.allowed_origins,
            OriginPolicy::List(vec!["http://a.example".into(), "http://b.example".into()])
        );
        assert!(!args.config.bench);
        assert!(parse(&["--bench"]).unwrap().unwrap().config.bench);
        let any = parse(&["--faults", "--allow-any-origin"]).unwrap().unwrap();
        assert!(any.config.faults_enabled);
        assert_eq!(any.config.allowed_origins, OriginPolicy::Any);
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(parse(&["--port", "http"]).is_err());
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--help"]).unwrap().is_none());
    }
}
