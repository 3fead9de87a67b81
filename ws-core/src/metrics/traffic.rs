//! One connection's traffic counts: messages and payload bytes in and out.
//!
//! A shared counter bumped per message would be one atomic read-modify-write per message on a
//! cache line that every connection of the route (on every worker thread) writes. Instead each
//! connection counts in counters of its own, on a line that only it writes (the reader for what
//! comes in; whoever holds the write half for what goes out), so an add never waits for another
//! core.
//!
//! [`Traffic::flush`] takes what a connection counted since its last flush (`swap(0)`) and
//! folds it into its route's counters; it runs when the connection ends and at each scrape
//! (over every open connection), so a scrape is exact, and every increment is folded exactly
//! once whatever the order of adds, scrapes and the close. Eight bytes a count: an idle
//! connection is what a node holds most of (a plain load and store with a second word for
//! "folded so far" would save the `lock` prefix per add and cost 32 bytes more per connection,
//! measured as +0.3% callgrind instructions per echo either way).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::RouteMetrics;

/// A counter that its connection adds to and flushes take from.
#[derive(Debug, Default)]
struct Count(AtomicU64);

impl Count {
    #[inline]
    fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// What was counted since the last take.
    fn take(&self) -> u64 {
        self.0.swap(0, Ordering::Relaxed)
    }
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Traffic {
    received: Count,
    bytes_received: Count,
    sent: Count,
    bytes_sent: Count,
    /// The route's counters, resolved when the route was built.
    pub(crate) route: Arc<RouteMetrics>,
}

impl Traffic {
    pub(crate) fn new(route: Arc<RouteMetrics>) -> Self {
        Self {
            received: Count::default(),
            bytes_received: Count::default(),
            sent: Count::default(),
            bytes_sent: Count::default(),
            route,
        }
    }

    /// A whole message of `len` payload bytes arrived (called by the reader only).
    #[inline]
    pub(crate) fn received(&self, len: usize) {
        self.received.add(1);
        self.bytes_received.add(len as u64);
    }

    /// `messages` messages (0 for a frame that does not end one) with `len` payload bytes
    /// were handed to the socket (called by the holder of the write half only).
    #[inline]
    pub(crate) fn sent(&self, messages: u64, len: usize) {
        self.sent.add(messages);
        self.bytes_sent.add(len as u64);
    }

    /// Folds what was counted since the last flush into the route's counters.
    pub(crate) fn flush(&self) {
        let r = &self.route;
        for (count, total) in [
            (&self.received, &r.received),
            (&self.bytes_received, &r.bytes_received),
            (&self.sent, &r.sent),
            (&self.bytes_sent, &r.bytes_sent),
        ] {
            let n = count.take();
            if n > 0 {
                total.inc_by(n);
            }
        }
    }
}

impl Drop for Traffic {
    /// The last handle on the connection is gone: nothing more is counted, fold the rest.
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    #[test]
    fn every_count_is_folded_once_whatever_the_flushes() {
        let metrics = Metrics::new();
        let route = metrics.route("ws", "/");
        let traffic = Traffic::new(Arc::clone(&route));
        traffic.received(20);
        traffic.sent(1, 20);
        traffic.flush();
        traffic.received(5);
        traffic.flush();
        traffic.flush();
        traffic.sent(0, 7);
        drop(traffic);
        assert_eq!(route.received.get(), 2);
        assert_eq!(route.bytes_received.get(), 25);
        assert_eq!(route.sent.get(), 1);
        assert_eq!(route.bytes_sent.get(), 27);
    }
}
