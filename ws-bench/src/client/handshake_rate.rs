//! Handshake rate: full connection cycles (connect, upgrade, echo, close) per second.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::conn::{close, open, round_trip, source_for, Target, CONNECT_TIMEOUT, ECHO_TIMEOUT};
use super::message::Message;
use super::workers::{sleep_unless_failed, Shared};
use crate::error::BenchError;

/// Full connection cycles per second: connect, upgrade, one verified 20 B
/// echo, close; `workers` cycles in flight for `window`.
pub async fn handshake_rate(
    target: &Target,
    workers: usize,
    window: Duration,
) -> Result<f64, BenchError> {
    let shared = Arc::new(Shared::default());
    let msg = Arc::new(Message::binary(20));
    let start = Instant::now();
    let mut set = JoinSet::new();
    for w in 0..workers {
        let t = target.clone();
        let shared = shared.clone();
        let msg = msg.clone();
        set.spawn(async move {
            // Bounded in count as well as in time.
            for _ in 0..10_000_000u64 {
                if shared.stop.load(Ordering::Relaxed) {
                    break;
                }
                let r = async {
                    let mut ws = open(&t, source_for(t.addr, w)).await?;
                    round_trip(&mut ws, &msg, t.raw_tcp, true).await?;
                    close(ws).await;
                    Ok::<_, BenchError>(())
                }
                .await;
                if let Err(e) = r {
                    shared.failed.store(true, Ordering::Relaxed);
                    shared.stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
                shared.count.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        });
    }
    sleep_unless_failed(&shared, window).await;
    let done = shared.count.load(Ordering::Relaxed);
    let elapsed = start.elapsed();
    shared.stop.store(true, Ordering::Relaxed);
    let mut first_err = None;
    let _ = tokio::time::timeout(CONNECT_TIMEOUT + ECHO_TIMEOUT, async {
        while let Some(r) = set.join_next().await {
            if let Ok(Err(e)) = r {
                first_err.get_or_insert(e);
            }
        }
    })
    .await;
    set.abort_all();
    match first_err {
        Some(e) => Err(e),
        None => Ok(done as f64 / elapsed.as_secs_f64()),
    }
}
