//! The demo application used by the demo page and the tests.

use crate::app::{App, Message};
use crate::hub::Hub;

/// Echoes every message to its sender, with two text commands:
///
/// - `broadcast:<text>` sends `<text>` to every open session (the sender included);
/// - `close:<code>:<reason>` makes the server send CLOSE `<code>` `<reason>` to the sender and
///   close (e.g. `close:4001:bye` for a final close, `close:1013:busy` for try-again-later).
///   (`close:<code>` alone closes with an empty reason). A command whose code is not a number is
///   echoed like any other text.
#[derive(Debug, Clone, Copy, Default)]
pub struct DemoApp;

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
        }
        hub.send(session, msg);
    }
}
