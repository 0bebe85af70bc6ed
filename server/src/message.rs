//! What travels between the app and a client: [`Message`], and the [`SessionId`] that names a
//! session. Kept apart from `app.rs` and `hub.rs` so that neither has to import the other.

/// A session id: 1–64 bytes of `[A-Za-z0-9_-]` (the server makes 22-character random ones).
pub type SessionId = String;

/// One application message, as the client sent it or as the app sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (a TEXT frame).
    Text(String),
    /// A binary message (a BINARY frame).
    Binary(Vec<u8>),
}

impl Message {
    /// Payload size in bytes (UTF-8 bytes for text): what the session log's byte bound counts.
    pub fn len(&self) -> usize {
        match self {
            Message::Text(text) => text.len(),
            Message::Binary(data) => data.len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
