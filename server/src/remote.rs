//! What a node does for requests other nodes forward to it (a shared store,
//! [`crate::SessionStore::forward`]): a send POST or poll GET whose session's HTTP link runs
//! here, a release of a session another node has a handshake for, a broadcast.

use crate::link::{hand_poll, hand_send, Handed};
use crate::message::Message;
use crate::store::{BoxFuture, RemoteHandler, RemoteReply, RemoteRequest};
use crate::Shared;
use axum::body::Bytes;
use holdfast::protocol::split_batch;
use std::sync::{Arc, Weak};

/// The server's side of a shared store: holds the server weakly (the store lives inside it).
pub(crate) struct Node(pub(crate) Weak<Shared>);

impl RemoteHandler for Node {
    fn handle(&self, id: String, request: RemoteRequest) -> BoxFuture<'static, RemoteReply> {
        let shared = self.0.upgrade();
        Box::pin(async move {
            let Some(shared) = shared else {
                return RemoteReply::Gone;
            };
            match request {
                RemoteRequest::Send(body) => send(&shared, &id, body).await,
                RemoteRequest::Poll { cursor, hold } => poll(&shared, &id, cursor, hold).await,
                RemoteRequest::Release { to } => {
                    crate::lifecycle::hand_over(&shared, &id, &to).await
                }
            }
        })
    }

    fn broadcast(&self, msg: Message) {
        if let Some(shared) = self.0.upgrade() {
            shared.hub.broadcast_here(msg);
        }
    }
}

/// A forwarded send POST: its frames go to the session's link here, as a local POST's would.
async fn send(shared: &Shared, id: &str, body: Vec<u8>) -> RemoteReply {
    let body = Bytes::from(body);
    let Ok(frames) = split_batch(&body) else {
        // The forwarding node checked the envelope; a broken one is not ours to answer.
        return RemoteReply::Gone;
    };
    let frames = frames.into_iter().map(|f| body.slice_ref(f)).collect();
    match hand_send(shared, id, frames).await {
        Handed::Waiting(handed) => match handed.await {
            Ok(()) => RemoteReply::Done,
            Err(_) => RemoteReply::Gone,
        },
        Handed::NoLink | Handed::Gone => RemoteReply::Gone,
    }
}

/// A forwarded poll GET: answered by the session's poll link here.
async fn poll(shared: &Shared, id: &str, cursor: u64, hold: bool) -> RemoteReply {
    match hand_poll(shared, id, cursor, hold).await {
        Handed::Waiting(answer) => match answer.await {
            Ok(body) => RemoteReply::Batch(body.to_vec()),
            Err(_) => RemoteReply::Gone,
        },
        Handed::NoLink | Handed::Gone => RemoteReply::Gone,
    }
}

/// Keeps the module's handler type in one place for the router.
pub(crate) fn handler(shared: &Arc<Shared>) -> Arc<dyn RemoteHandler> {
    Arc::new(Node(Arc::downgrade(shared)))
}
