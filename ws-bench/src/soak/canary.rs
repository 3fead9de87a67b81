//! The canary: one well-behaved echo client, on its own thread and runtime (so that the
//! load generator's other clients do not delay it), sending one small message per period and
//! timing each round trip. Its latency is what the soak bounds.

use std::time::{Duration, Instant};

use super::tally::{error_label, Tally};
use crate::client::{self, Message, Target};
use crate::error::BenchError;

/// Pause before re-opening after an error.
const REOPEN_PAUSE: Duration = Duration::from_millis(200);

/// What the canary measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Canary {
    /// Round-trip times, ns, one per message.
    pub(crate) samples_ns: Vec<u64>,
    /// Errors (none is expected), by label.
    pub(crate) errors: Tally,
}

/// Starts the canary's thread: it echoes a `size`-byte message on `target` every `period`
/// until `end`, then closes; join the handle for the result.
pub(crate) fn spawn(
    target: Target,
    size: usize,
    period: Duration,
    end: Instant,
) -> std::io::Result<std::thread::JoinHandle<Result<Canary, BenchError>>> {
    std::thread::Builder::new()
        .name("soak-canary".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            Ok(rt.block_on(run(target, size, period, end.into())))
        })
}

async fn run(target: Target, size: usize, period: Duration, end: tokio::time::Instant) -> Canary {
    let msg = Message::binary(size);
    let mut out = Canary::default();
    let mut ws = None;
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while tokio::time::timeout_at(end, tick.tick()).await.is_ok() {
        let t0 = Instant::now();
        let mut conn = match ws.take() {
            Some(c) => c,
            None => match client::open(&target, None).await {
                Ok(c) => c,
                Err(e) => {
                    out.errors
                        .add(format!("connect: {}", error_label(&e)), t0.elapsed());
                    tokio::time::sleep(REOPEN_PAUSE).await;
                    continue;
                }
            },
        };
        let t0 = Instant::now();
        match client::round_trip(&mut conn, &msg, false, true).await {
            Ok(()) => {
                out.samples_ns
                    .push(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX));
                ws = Some(conn);
            }
            Err(e) => {
                out.errors.add(error_label(&e), t0.elapsed());
                tokio::time::sleep(REOPEN_PAUSE).await;
            }
        }
    }
    if let Some(c) = ws {
        client::close(c).await;
    }
    out
}
