//! The demo application used by the demo page and the tests.

use crate::app::App;
use crate::hub::Hub;
use crate::message::Message;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Echoes every message to its sender, with three text commands:
///
/// - `broadcast:<text>` sends `<text>` to every live session (the sender included; a detached
///   session gets it when it resumes);
/// - `close:<code>:<reason>` makes the server send CLOSE `<code>` `<reason>` to the sender and
///   close (e.g. `close:4001:bye` for a final close, `close:1013:busy` for try-again-later).
///   (`close:<code>` alone closes with an empty reason). A command whose code is not a number is
///   echoed like any other text;
/// - `tally?` answers `tally:<received>:<duplicates>:<out-of-order>`: how many numbered messages
///   (`n:<number>`, echoed like any text) this session delivered to the app, how many of them
///   repeated a number already seen, and how many arrived below the highest number seen. The
///   browser churn test counts delivery at the server end with it.
#[derive(Debug, Default)]
pub struct DemoApp {
    tallies: Mutex<HashMap<String, Tally>>,
}

/// Numbered messages one session delivered to the app.
#[derive(Debug, Default)]
struct Tally {
    seen: std::collections::HashSet<u64>,
    highest: Option<u64>,
    duplicates: u64,
    out_of_order: u64,
}

impl DemoApp {
    /// A demo app with no sessions yet.
    pub fn new() -> Self {
        DemoApp::default()
    }

    fn tallies(&self) -> MutexGuard<'_, HashMap<String, Tally>> {
        // Every operation is a single insert/update/remove, so a poisoned map is consistent.
        self.tallies.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, session: &str, n: u64) {
        let mut map = self.tallies();
        let t = map.entry(session.to_owned()).or_default();
        if !t.seen.insert(n) {
            t.duplicates += 1;
        }
        if t.highest.is_some_and(|h| n < h) {
            t.out_of_order += 1;
        }
        t.highest = Some(t.highest.map_or(n, |h| h.max(n)));
    }

    fn tally(&self, session: &str) -> String {
        let map = self.tallies();
        let (received, dups, ooo) = map.get(session).map_or((0, 0, 0), |t| {
            (
                t.seen.len() as u64 + t.duplicates,
                t.duplicates,
                t.out_of_order,
            )
        });
        format!("tally:{received}:{dups}:{ooo}")
    }
}

impl App for DemoApp {
    fn on_message(&self, hub: &Hub, session: &str, msg: Message) {
        if let Message::Text(text) = &msg {
            if let Some(rest) = text.strip_prefix("broadcast:") {
                hub.broadcast(Message::Text(rest.to_owned()));
                return;
            }
            if let Some((code, reason)) = text
                .strip_prefix("close:")
                .map(|rest| rest.split_once(':').unwrap_or((rest, "")))
                .and_then(|(code, reason)| Some((code.parse::<u16>().ok()?, reason)))
            {
                hub.close(session, code, reason);
                return;
            }
            if text == "tally?" {
                let _ = hub.send(session, Message::Text(self.tally(session)));
                return;
            }
            if let Some(n) = text.strip_prefix("n:").and_then(|n| n.parse().ok()) {
                self.count(session, n);
            }
        }
        // An Err here means the session is gone or was just ended because its client stopped
        // acknowledging (BufferFull, CLOSE 1013): there is nobody left to echo to.
        let _ = hub.send(session, msg);
    }

    fn on_close(&self, _hub: &Hub, session: &str) {
        self.tallies().remove(session);
    }
}
