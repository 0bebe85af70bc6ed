//! One connection's transport-side bookkeeping, reset with every attempt: its capabilities, the
//! frames waiting for the next POST, and whether a POST or a poll is in flight. The rule "one
//! POST in flight, frames accumulate meanwhile" lives here, not in the glue.

use super::time::Instant;
use super::transport::{Caps, Upstream, MAX_POST_BYTES};
use crate::config::TransportKind;
use crate::protocol::{push_batch_entry, MAX_BATCH_FRAMES};
use std::collections::VecDeque;

/// Whether a request of one kind is out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Request {
    /// None is out.
    #[default]
    Idle,
    /// One is out; the next waits for its answer.
    InFlight,
}

/// The connection's transport state.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub(crate) caps: Caps,
    /// Encoded frames for the next POST, in order.
    waiting: VecDeque<Vec<u8>>,
    pub(crate) post: Request,
    pub(crate) poll: Request,
    /// When the last poll went out (paces polls answered at once with nothing).
    pub(crate) poll_sent: Instant,
}

impl Link {
    /// A fresh link for a connection of `kind`.
    pub(crate) fn new(kind: TransportKind) -> Link {
        Link {
            caps: Caps::of(kind),
            waiting: VecDeque::new(),
            post: Request::Idle,
            poll: Request::Idle,
            poll_sent: Instant::default(),
        }
    }

    /// Whether frames go up in batched POSTs.
    pub(crate) fn posts(&self) -> bool {
        self.caps.upstream == Upstream::Post
    }

    /// Holds one encoded frame for the next POST.
    pub(crate) fn hold(&mut self, frame: Vec<u8>) {
        self.waiting.push_back(frame);
    }

    /// The next POST body, if no POST is in flight and frames are waiting: as many frames as fit
    /// in [`MAX_POST_BYTES`] and a batch (a larger frame goes alone). Marks the POST in flight.
    pub(crate) fn next_post(&mut self) -> Option<Vec<u8>> {
        if self.post == Request::InFlight || self.waiting.is_empty() {
            return None;
        }
        let mut body = Vec::new();
        let mut frames = 0;
        while let Some(frame) = self.waiting.front() {
            let fits = body.len() + frame.len() + 10 <= MAX_POST_BYTES;
            if frames > 0 && (!fits || frames >= MAX_BATCH_FRAMES) {
                break;
            }
            if let Some(frame) = self.waiting.pop_front() {
                push_batch_entry(&mut body, &frame);
                frames += 1;
            }
        }
        self.post = Request::InFlight;
        Some(body)
    }

    /// Every waiting frame as POST bodies, regardless of the POST in flight: the last words of a
    /// connection that is closing (its CLOSE frame). The glue sends POSTs of one connection one
    /// after another, so these still arrive behind the one in flight.
    pub(crate) fn last_posts(&mut self) -> Vec<Vec<u8>> {
        let mut bodies = Vec::new();
        loop {
            self.post = Request::Idle;
            match self.next_post() {
                Some(body) => bodies.push(body),
                None => return bodies,
            }
        }
    }

    /// How many frames wait for a POST.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::split_batch;

    #[test]
    fn one_post_in_flight_and_the_rest_waits_for_the_next() {
        let mut link = Link::new(TransportKind::Sse);
        assert!(link.posts());
        assert_eq!(link.next_post(), None);
        link.hold(vec![1]);
        link.hold(vec![2, 2]);
        let body = link.next_post().unwrap_or_default();
        assert_eq!(split_batch(&body), Ok(vec![&[1u8][..], &[2, 2][..]]));
        link.hold(vec![3]);
        assert_eq!(link.next_post(), None, "a POST is in flight");
        link.post = Request::Idle;
        let body = link.next_post().unwrap_or_default();
        assert_eq!(split_batch(&body), Ok(vec![&[3u8][..]]));
    }

    #[test]
    fn bodies_stay_under_the_cap_and_a_big_frame_goes_alone() {
        let mut link = Link::new(TransportKind::Polling);
        for _ in 0..3 {
            link.hold(vec![0; MAX_POST_BYTES / 2]);
        }
        link.hold(vec![0; MAX_POST_BYTES * 2]);
        let mut sizes = vec![];
        while let Some(body) = link.next_post() {
            sizes.push(split_batch(&body).map(|f| f.len()).unwrap_or(0));
            link.post = Request::Idle;
        }
        assert_eq!(sizes, vec![1, 1, 1, 1]);
        assert_eq!(link.waiting(), 0);
        for _ in 0..MAX_BATCH_FRAMES + 1 {
            link.hold(vec![7]);
        }
        let first = link.next_post().unwrap_or_default();
        assert_eq!(split_batch(&first).map(|f| f.len()), Ok(MAX_BATCH_FRAMES));
    }
}
