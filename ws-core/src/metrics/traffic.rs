//! One connection's traffic counts: messages and payload bytes in and out.
//!
//! A shared counter bumped per message would be one atomic read-modify-write per message on a
//! cache line that every connection of the route (on every worker thread) writes. Instead each
//! connection counts in counters of its own, each with one writer at a time (the reader for
//! what comes in; whoever holds the write half, handed over under the outbox lock, for what
//! goes out), so a count is a plain load and store on a line the connection touches anyway.
//!
//! [`Traffic::flush`] folds what a connection counted since its last flush into its route's
//! counters; it runs when the connection ends and at each scrape (over every open connection),
//! so a scrape is exact. Flushes may race (a scrape and a close): each remembers how much was
//! folded with `fetch_max`, so every increment is folded exactly once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::RouteMetrics;

/// A counter with one writer at a time, read by flushes.
#[derive(Debug, Default)]
struct Count {
    value: AtomicU64,
    /// How much of `value` has been folded into the route's counter.
    folded: AtomicU64,
}

impl Count {
    #[inline]
    fn add(&self, n: u64) {
        // One writer at a time: no read-modify-write needed.
        let v = self.value.load(Ordering::Relaxed);
        self.value.store(v.wrapping_add(n), Ordering::Relaxed);
    }

    /// What was counted since the last fold, marked as folded.
    fn take(&self) -> u64 {
        let now = self.value.load(Ordering::Relaxed);
        let before = self.folded.fetch_max(now, Ordering::Relaxed);
        now.saturating_sub(before)
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
