//! The npm package bounds sends made before its engine has loaded with the engine's own queue
//! rules (pkg-template/holdfast_client.js, `QUEUE_DEFAULTS`). Those defaults are written in JS
//! because the engine is not there yet to ask; this test keeps them equal to `Config::default`.

use holdfast::config::Config;

fn js_default(source: &str, key: &str) -> Option<usize> {
    let line = source
        .lines()
        .find(|l| l.contains("const QUEUE_DEFAULTS"))?;
    let rest = &line[line.find(&format!("{key}:"))? + key.len() + 1..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[test]
fn the_packages_early_queue_defaults_are_the_engines() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/pkg-template/holdfast_client.js"
    );
    let source = std::fs::read_to_string(path).expect("pkg-template/holdfast_client.js");
    let c = Config::default();
    for (key, rust) in [
        ("queueMaxMessages", c.queue_max_messages),
        ("queueMaxBytes", c.queue_max_bytes),
        ("maxMessageBytes", c.max_message_bytes),
    ] {
        assert_eq!(js_default(&source, key), Some(rust), "{key}");
    }
}
