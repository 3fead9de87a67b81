//! The soak's background: many echo connections, each sending one small message per period
//! (a steady, realistic rate, not maximum throughput) and checking its echo byte for byte.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use super::tally::{error_label, Tally};
use crate::client::{self, Message, Target, Ws};

/// Connections opened concurrently.
const OPEN_BATCH: usize = 100;

/// What the background echo load did.
#[derive(Debug, Clone, Default)]
pub(crate) struct EchoLoad {
    /// Connections that opened.
    pub(crate) conns: usize,
    /// Verified round trips.
    pub(crate) round_trips: u64,
    /// How connections that failed ended (none is expected).
    pub(crate) errors: Tally,
}

/// Opens `conns` connections to `target` (those that open) and, until `end`, has each send a `size`-byte
/// message every `period` (starts spread over the period) and verify its echo. A connection
/// that fails stops and is counted in [`EchoLoad::errors`]; the others close at `end`.
pub(crate) async fn run(
    target: Target,
    conns: usize,
    size: usize,
    period: Duration,
    end: Instant,
) -> EchoLoad {
    let errors = Tally::default();
    let opened = open_tolerant(&target, conns, &errors).await;
    eprintln!(
        "ws-bench: soak: {} of {conns} echo connections open",
        opened.len()
    );
    let msg = Arc::new(Message::binary(size));
    let round_trips = Arc::new(AtomicU64::new(0));
    let n = opened.len().max(1) as u32;
    let mut set = JoinSet::new();
    for (i, mut ws) in opened.into_iter().enumerate() {
        let (msg, round_trips, errors) = (msg.clone(), round_trips.clone(), errors.clone());
        let offset = period / n * i as u32;
        set.spawn(async move {
            let started = Instant::now();
            let mut tick = tokio::time::interval_at(Instant::now() + offset, period);
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                if tokio::time::timeout_at(end, tick.tick()).await.is_err() {
                    client::close(ws).await;
                    return;
                }
                match client::round_trip(&mut ws, &msg, false, true).await {
                    Ok(()) => {
                        round_trips.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        errors.add(error_label(&e), started.elapsed());
                        return;
                    }
                }
            }
        });
    }
    // Every round trip is bounded (ECHO_TIMEOUT) and every close (CLOSE_TIMEOUT).
    let bound = end + client::ECHO_TIMEOUT + client::CLOSE_TIMEOUT;
    let _ =
        tokio::time::timeout_at(bound, async { while set.join_next().await.is_some() {} }).await;
    set.abort_all();
    EchoLoad {
        conns: n as usize,
        round_trips: round_trips.load(Ordering::Relaxed),
        errors,
    }
}

/// Opens `n` connections, [`OPEN_BATCH`] at a time, keeping those that open: one the server
/// refuses (an admission limit, say) is counted in `errors` as `could not open: ...`.
async fn open_tolerant(target: &Target, n: usize, errors: &Tally) -> Vec<Ws> {
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    while start < n {
        let end = (start + OPEN_BATCH).min(n);
        let mut set = JoinSet::new();
        for _ in start..end {
            let t = target.clone();
            set.spawn(async move {
                let t0 = Instant::now();
                (client::open(&t, None).await, t0.elapsed())
            });
        }
        while let Some(res) = set.join_next().await {
            match res {
                Ok((Ok(ws), _)) => out.push(ws),
                Ok((Err(e), took)) => {
                    errors.add(format!("could not open: {}", error_label(&e)), took)
                }
                Err(e) => errors.add(format!("could not open: task failed: {e}"), Duration::ZERO),
            }
        }
        start = end;
    }
    out
}
