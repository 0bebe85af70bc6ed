//! The send queue: messages accepted while not open, bounded by count and bytes.

use super::Payload;
use crate::config::OverflowPolicy;
use std::collections::VecDeque;

/// Result of offering a message to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Queued; `dropped` older messages were discarded to make room (drop-oldest policy).
    Queued {
        /// How many older messages were dropped.
        dropped: usize,
    },
    /// Not queued: full under the reject policy, or larger than the whole byte budget.
    Full,
}

/// A FIFO of payloads within `max_messages` and `max_bytes`.
#[derive(Debug)]
pub struct SendQueue {
    items: VecDeque<Payload>,
    bytes: usize,
    max_messages: usize,
    max_bytes: usize,
    policy: OverflowPolicy,
}

impl SendQueue {
    /// An empty queue with these bounds.
    pub fn new(max_messages: usize, max_bytes: usize, policy: OverflowPolicy) -> Self {
        SendQueue {
            items: VecDeque::new(),
            bytes: 0,
            max_messages,
            max_bytes,
            policy,
        }
    }

    /// Offers `p`, applying the overflow policy.
    pub fn offer(&mut self, p: Payload) -> Offer {
        let len = p.len();
        if len > self.max_bytes {
            return Offer::Full;
        }
        let fits = |q: &Self| q.items.len() < q.max_messages && q.bytes + len <= q.max_bytes;
        let mut dropped = 0;
        if !fits(self) {
            match self.policy {
                OverflowPolicy::Reject => return Offer::Full,
                OverflowPolicy::DropOldest => {
                    while !fits(self) {
                        match self.items.pop_front() {
                            Some(old) => {
                                self.bytes -= old.len();
                                dropped += 1;
                            }
                            None => break,
                        }
                    }
                }
            }
        }
        self.bytes += len;
        self.items.push_back(p);
        Offer::Queued { dropped }
    }

    /// Removes and returns the oldest message.
    pub fn pop(&mut self) -> Option<Payload> {
        let p = self.items.pop_front()?;
        self.bytes -= p.len();
        Some(p)
    }

    /// Number of queued messages.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Total queued payload bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Discards everything, returning how many messages were dropped.
    pub fn clear(&mut self) -> usize {
        let n = self.items.len();
        self.items.clear();
        self.bytes = 0;
        n
    }
}
