//! [`Events`]: a client's events as a [`futures_core::Stream`].
//!
//! The client pushes into an unbounded queue from the browser's event loop (the pump delivers
//! events after it released every internal borrow); the stream pops from it. The two sides share
//! only the queue, so the stream never keeps the client alive and the client never waits for the
//! stream.

use crate::core::Event;
use futures_core::{FusedStream, Stream};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// What the client side and the stream side share.
#[derive(Default)]
struct Queue {
    events: VecDeque<Event>,
    /// The task waiting in `poll_next`, woken by the next push or by the end.
    waker: Option<Waker>,
    /// The terminal `Close` was queued, or the client is gone: nothing more will come.
    ended: bool,
    /// The [`Events`] value was dropped: events are discarded instead of queued.
    receiver_gone: bool,
}

/// The client's events, in order, as a [`Stream`]: `Open`, `Message`, `Reconnecting`,
/// `Transport`, `Gap`, `Error`, and last the one terminal `Close`, after which the stream ends
/// (yields `None`).
///
/// Returned with the handle by [`HoldfastBuilder::connect`](super::HoldfastBuilder::connect).
/// Poll it from a task (`wasm_bindgen_futures::spawn_local`, or your framework's `spawn_local`)
/// with [`Events::recv`] or any `StreamExt` combinator.
///
/// **Buffering.** Events are queued without bound until polled, so an app that keeps an
/// `Events` but never polls it keeps every message in memory; poll it, or drop it. Dropping it is
/// safe at any time: the client keeps running (its handle still sends, reports state, closes) and
/// its later events are discarded. Whatever was queued is dropped with it.
///
/// **Lifetime.** The stream does not keep the client alive: when the last
/// [`Holdfast`](super::Holdfast) handle is dropped the client closes, and the stream yields what
/// was queued, the `Close`, then `None`. It is not `Send` (browser clients live on one thread).
#[must_use = "events are queued until polled; drop the stream if you don't want them"]
pub struct Events {
    queue: Rc<RefCell<Queue>>,
    /// `poll_next` returned `None` (for [`FusedStream`]).
    terminated: bool,
}

/// The client side of an [`Events`] stream: owned by the client's event callback.
pub(crate) struct EventSender {
    queue: Rc<RefCell<Queue>>,
}

/// A connected sender and stream.
pub(crate) fn channel() -> (EventSender, Events) {
    let queue = Rc::new(RefCell::new(Queue::default()));
    let sender = EventSender {
        queue: Rc::clone(&queue),
    };
    (
        sender,
        Events {
            queue,
            terminated: false,
        },
    )
}

impl EventSender {
    /// Queues `event` and wakes the waiting task. Called by the pump for every event, with no
    /// borrow of the client held. Nothing is queued after the terminal `Close`.
    pub(crate) fn push(&self, event: Event) {
        let waker = {
            let mut q = self.queue.borrow_mut();
            if q.ended {
                return;
            }
            q.ended = matches!(event, Event::Close { .. });
            if !q.receiver_gone {
                q.events.push_back(event);
            }
            q.waker.take()
        }; // the queue borrow ends before the executor runs anything
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Drop for EventSender {
    /// The client is gone (normally after its `Close`): the stream ends once drained.
    fn drop(&mut self) {
        let waker = {
            let mut q = self.queue.borrow_mut();
            q.ended = true;
            q.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Events {
    /// Waits for the next event; `None` once the terminal `Close` has been returned (or the
    /// client is gone). The same as `StreamExt::next`, without needing the `futures` crate.
    pub async fn recv(&mut self) -> Option<Event> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// How many events are queued and not yet taken. For monitoring a consumer that falls behind.
    pub fn len(&self) -> usize {
        self.queue.borrow().events.len()
    }

    /// Whether no event is queued right now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let mut q = self.queue.borrow_mut();
        if let Some(event) = q.events.pop_front() {
            return Poll::Ready(Some(event));
        }
        if q.ended {
            drop(q);
            self.terminated = true;
            return Poll::Ready(None);
        }
        match &mut q.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let q = self.queue.borrow();
        (q.events.len(), q.ended.then_some(q.events.len()))
    }
}

impl FusedStream for Events {
    fn is_terminated(&self) -> bool {
        self.terminated
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let dropped = {
            let mut q = self.queue.borrow_mut();
            q.receiver_gone = true;
            q.waker = None;
            std::mem::take(&mut q.events)
        };
        drop(dropped); // outside the borrow: payloads can be large, and Drop runs no user code
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = self.queue.borrow();
        f.debug_struct("Events")
            .field("queued", &q.events.len())
            .field("ended", &q.ended)
            .finish()
    }
}
