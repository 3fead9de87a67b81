//! Connection churn: connect, upgrade and close at a steady rate, a bounded number in flight.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use super::tally::{error_label, Tally};
use crate::client::{self, Target};
use crate::error::within;

/// Cycles in flight at most; a tick that finds them all busy is skipped (and counted).
const IN_FLIGHT: usize = 64;
/// Bound on one cycle.
const CYCLE_LIMIT: Duration = Duration::from_secs(10);

/// What the churn did.
#[derive(Debug, Clone, Default)]
pub(crate) struct Churn {
    /// How the cycles ended: `ok` or an error label.
    pub(crate) cycles: Tally,
    /// Ticks skipped because [`IN_FLIGHT`] cycles were still running.
    pub(crate) skipped: u64,
}

/// Starts `per_sec` connect/upgrade/close cycles a second on `target` until `end`.
pub(crate) async fn run(target: Target, per_sec: u32, end: Instant) -> Churn {
    let cycles = Tally::default();
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut skipped = 0;
    let mut set = JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / per_sec.max(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    while tokio::time::timeout_at(end, tick.tick()).await.is_ok() {
        while set.try_join_next().is_some() {}
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            skipped += 1;
            continue;
        };
        let (target, cycles) = (target.clone(), cycles.clone());
        set.spawn(async move {
            let t0 = Instant::now();
            let r = within(CYCLE_LIMIT, "churn cycle", async {
                let ws = client::open(&target, None).await?;
                client::close(ws).await;
                Ok(())
            })
            .await;
            match r {
                Ok(()) => cycles.add("ok", t0.elapsed()),
                Err(e) => cycles.add(error_label(&e), t0.elapsed()),
            }
            drop(permit);
        });
    }
    let _ = tokio::time::timeout(CYCLE_LIMIT, async {
        while set.join_next().await.is_some() {}
    })
    .await;
    set.abort_all();
    Churn { cycles, skipped }
}
