//! Requests to other nodes that wait for answers (the ack of a push by id, the replies to a
//! query): an id per request, and where its answers go until the request is dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::sync::mpsc;

use super::codec::Body;

/// The requests of this node that wait for answers.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, mpsc::UnboundedSender<(u16, Body)>>>,
}

/// One open request: its id and its answers (origin node, body). Dropping it forgets the
/// request, and answers that come later are dropped.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    pub(crate) id: u64,
    pub(crate) answers: mpsc::UnboundedReceiver<(u16, Body)>,
    requests: &'a Requests,
}

impl Drop for Request<'_> {
    fn drop(&mut self) {
        self.requests.lock().remove(&self.id);
    }
}

impl Requests {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, mpsc::UnboundedSender<(u16, Body)>>> {
        // Inserts and removes only: a poisoned map is still consistent.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a request (ids start at 1: 0 means "no answer wanted" on the wire).
    pub(crate) fn open(&self) -> Request<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, answers) = mpsc::unbounded_channel();
        self.lock().insert(id, tx);
        Request {
            id,
            answers,
            requests: self,
        }
    }

    /// Hands an answer to its request, if that still waits.
    pub(crate) fn answer(&self, request: u64, from: u16, body: Body) {
        if let Some(tx) = self.lock().get(&request) {
            let _ = tx.send((from, body));
        }
    }

    /// How many requests wait (for tests: none may be left behind).
    #[cfg(test)]
    pub(crate) fn open_count(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_reach_their_request_until_it_is_dropped() {
        let requests = Requests::default();
        let mut a = requests.open();
        let b = requests.open();
        assert_ne!(a.id, b.id);
        assert_ne!(a.id, 0);
        requests.answer(
            a.id,
            3,
            Body::Reply {
                request: a.id,
                value: 7,
            },
        );
        assert_eq!(
            a.answers.try_recv().ok(),
            Some((
                3,
                Body::Reply {
                    request: a.id,
                    value: 7
                }
            ))
        );
        let id = b.id;
        drop(b);
        requests.answer(
            id,
            3,
            Body::Reply {
                request: id,
                value: 1,
            },
        );
        drop(a);
        assert_eq!(requests.open_count(), 0);
    }
}
