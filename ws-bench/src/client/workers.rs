//! State shared by the client tasks of one measurement: counters and stop / failure flags.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Shared by a measurement's client tasks and the task that times them.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Round trips or cycles done.
    pub(crate) count: AtomicU64,
    /// Whether latency samples are being kept (inside the measured window).
    pub(crate) recording: AtomicBool,
    /// Tells the client tasks to finish.
    pub(crate) stop: AtomicBool,
    /// Set by a client task that failed.
    pub(crate) failed: AtomicBool,
}

/// Sleeps for `d`, or less if a client task fails meanwhile (checked every 20 ms).
pub(crate) async fn sleep_unless_failed(shared: &Shared, d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end && !shared.failed.load(Ordering::Relaxed) {
        tokio::time::sleep(
            Duration::from_millis(20).min(end.saturating_duration_since(Instant::now())),
        )
        .await;
    }
}
