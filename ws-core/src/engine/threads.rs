//! The I/O threads of the thread-per-core layout (config `io_threads`): each thread runs its
//! own single-threaded Tokio runtime, and every connection is served on one of them for its
//! whole life. Its reads, writes, timers, hooks and drainer run there and never hop threads:
//! a wake-up is one thread polling its own epoll, with no work-stealing and no cross-thread
//! notification. The accept loops stay on the app's runtime and hand each new connection to
//! the thread serving the fewest (as actix-web's acceptor hands them to its workers), so the
//! threads stay even however the connections arrive. Other threads still reach any
//! connection: a push writes into its socket from wherever it is made, and a drainer it needs
//! is spawned on the connection's own thread.
//!
//! With `io_threads = 0` (the default) there are no I/O threads: connections are tasks of the
//! work-stealing runtime the app was started on.

use std::cell::Cell;
use std::sync::Arc;

use prometheus_client::metrics::gauge::Gauge;
use tokio::runtime::{Builder, Handle};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

thread_local! {
    /// The index of the I/O thread this is, if it is one.
    static INDEX: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The I/O thread the caller runs on, by index; `None` off the I/O threads.
pub(crate) fn current() -> Option<usize> {
    INDEX.with(Cell::get)
}

/// The running I/O threads. Dropping this stops them: each drops its runtime, and with it the
/// tasks still on it (a graceful stop drains the connections first).
#[derive(Debug)]
pub(crate) struct IoThreads {
    placer: Placer,
    stop: CancellationToken,
}

/// One I/O thread as the accept loops see it: its runtime and how many connections it serves
/// (the `ws_io_thread_connections` gauge of its index).
#[derive(Debug)]
struct IoThread {
    runtime: Handle,
    load: Gauge,
}

impl IoThreads {
    /// Starts `count` threads, each with a single-threaded runtime (I/O and time enabled),
    /// counting their connections into `metrics`.
    pub(crate) fn start(count: usize, metrics: &Metrics) -> std::io::Result<Self> {
        let stop = CancellationToken::new();
        // Dropped on an error, which stops the threads started so far.
        let guard = stop.clone().drop_guard();
        let mut threads = Vec::with_capacity(count);
        for index in 0..count {
            let runtime = Builder::new_current_thread().enable_all().build()?;
            threads.push(IoThread {
                runtime: runtime.handle().clone(),
                load: metrics.io_thread(index),
            });
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("ws-io-{index}"))
                .spawn(move || {
                    INDEX.with(|i| i.set(Some(index)));
                    runtime.block_on(stop.cancelled());
                })?;
        }
        guard.disarm();
        Ok(Self {
            placer: Placer {
                threads: threads.into(),
            },
            stop,
        })
    }

    /// What the accept loops place connections with.
    pub(crate) fn placer(&self) -> Placer {
        self.placer.clone()
    }
}

impl Drop for IoThreads {
    fn drop(&mut self) {
        // Not joined: the drop may happen on a runtime thread, which must not block.
        self.stop.cancel();
    }
}

/// Chooses the I/O thread of each new connection: the one serving the fewest.
#[derive(Debug, Clone)]
pub(crate) struct Placer {
    threads: Arc<[IoThread]>,
}

impl Placer {
    /// The thread serving the fewest connections (the first of them on a tie), counted as
    /// serving one more until the returned [`Placed`] is dropped; `None` without threads.
    pub(crate) fn place(&self) -> Option<Placed> {
        let thread = self.threads.iter().min_by_key(|t| t.load.get())?;
        thread.load.inc();
        Some(Placed {
            runtime: thread.runtime.clone(),
            load: thread.load.clone(),
        })
    }
}

/// A connection's place on an I/O thread, held for as long as the connection is served.
#[derive(Debug)]
pub(crate) struct Placed {
    /// The thread's runtime, to spawn the connection's task on.
    pub(crate) runtime: Handle,
    /// The thread's count, which this place is in.
    load: Gauge,
}

impl Drop for Placed {
    fn drop(&mut self) {
        self.load.dec();
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn a_connection_goes_to_the_thread_serving_the_fewest() {
        let metrics = Metrics::new();
        let threads = IoThreads::start(2, &metrics).expect("threads start");
        let placer = threads.placer();
        let loads = || -> Vec<i64> { placer.threads.iter().map(|t| t.load.get()).collect() };
        let a = placer.place();
        assert_eq!(loads(), [1, 0]);
        let b = placer.place();
        assert_eq!(loads(), [1, 1]);
        drop(a);
        assert_eq!(loads(), [0, 1]);
        let c = placer.place();
        assert_eq!(loads(), [1, 1], "to the one with fewer");
        let d = placer.place();
        assert_eq!(loads(), [2, 1], "on a tie, to the first");
        let e = placer.place();
        assert_eq!(loads(), [2, 2]);
        drop((b, c, d, e));
        assert_eq!(loads(), [0, 0]);
        let text = metrics.encode();
        assert!(
            text.contains("ws_io_thread_connections{thread=\"1\"} 0"),
            "{text}"
        );
    }

    #[test]
    fn each_thread_knows_its_index_and_stops_with_the_pool() {
        let threads = IoThreads::start(2, &Metrics::new()).expect("threads start");
        assert_eq!(current(), None);
        let mut seen = Vec::new();
        for thread in threads.placer.threads.iter() {
            let (tx, rx) = std::sync::mpsc::channel();
            thread.runtime.spawn(async move {
                let _ = tx.send((current(), std::thread::current().name().map(String::from)));
            });
            seen.push(
                rx.recv_timeout(Duration::from_secs(10))
                    .expect("the task ran"),
            );
        }
        assert_eq!(
            seen,
            [
                (Some(0), Some("ws-io-0".to_owned())),
                (Some(1), Some("ws-io-1".to_owned()))
            ]
        );
        // A task still pending on a thread when the pool goes is dropped with its runtime.
        let held = Arc::new(());
        let kept = Arc::clone(&held);
        threads.placer.threads[1].runtime.spawn(async move {
            let _kept = kept;
            std::future::pending::<()>().await;
        });
        drop(threads);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&held) > 1 {
            assert!(Instant::now() < deadline, "the thread did not stop");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
