//! The soak's background: many echo connections, each sending one small message per period
//! (a steady, realistic rate, not maximum throughput) and checking its echo byte for byte.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use super::tally::{error_label, Tally};
use crate::client::{self, Message, Target};
use crate::error::BenchError;

/// What the background echo load did.
#[derive(Debug, Clone, Default)]
pub(crate) struct EchoLoad {
    /// Connections opened.
    pub(crate) conns: usize,
    /// Verified round trips.
    pub(crate) round_trips: u64,
    /// How connections that failed ended (none is expected).
    pub(crate) errors: Tally,
}

/// Opens `conns` connections to `target` and, until `end`, has each send a `size`-byte
/// message every `period` (starts spread over the period) and verify its echo. A connection
/// that fails stops and is counted in [`EchoLoad::errors`]; the others close at `end`.
pub(crate) async fn run(
    target: Target,
    conns: usize,
    size: usize,
    period: Duration,
    end: Instant,
) -> Result<EchoLoad, BenchError> {
    let opened = client::open_many(&target, conns, None).await?;
    eprintln!("ws-bench: soak: {} echo connections open", opened.len());
    let msg = Arc::new(Message::binary(size));
    let round_trips = Arc::new(AtomicU64::new(0));
    let errors = Tally::default();
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
    Ok(EchoLoad {
        conns: n as usize,
        round_trips: round_trips.load(Ordering::Relaxed),
        errors,
    })
}
