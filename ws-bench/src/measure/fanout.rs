//! Broadcast fan-out: one publisher and N receivers on `/chat`, only on servers that have
//! a broadcast route.

use crate::bench::Bench;
use crate::client::{self, Fanout};
use crate::error::BenchError;
use crate::report::{self, Entry, MetricRow};
use crate::slot::{target, Slot};
use crate::stats;

/// A server's two fan-out entries: median ms to the last receipt, server CPU per delivery.
type Entries = (Entry<f64>, Entry<f64>);

impl Bench<'_> {
    /// Broadcast fan-out to each receiver count of the plan, two rows per count: the median
    /// time from a publish until the last receiver has the message, and the server CPU per
    /// delivered message. Servers without a broadcast route are `n/a`.
    pub(crate) async fn fanout_rows(&mut self) -> Vec<MetricRow> {
        let plan = self.plan;
        let mut rows = Vec::new();
        for &n in &plan.fanout_conns {
            let (times, cpus) = self.fanout_to(n).await;
            rows.push(MetricRow {
                label: format!(
                    "broadcast fan-out to {} receivers, median ms from publish to last receipt (/chat)",
                    report::fmt_count(n)
                ),
                higher_is_better: false,
                entries: times,
            });
            rows.push(MetricRow {
                label: format!(
                    "broadcast fan-out to {} receivers, server CPU per delivered message, µs",
                    report::fmt_count(n)
                ),
                higher_is_better: false,
                entries: cpus,
            });
        }
        rows
    }

    /// Fan-out to `n` receivers on every server: the time entries and the CPU entries.
    async fn fanout_to(&mut self, n: usize) -> (Vec<Entry<f64>>, Vec<Entry<f64>>) {
        let fits = self.fits(n);
        let (publishes, clk) = (self.plan.fanout_publishes, self.clk);
        let mut times = Vec::new();
        let mut cpus = Vec::new();
        for slot in &mut self.slots {
            let (t, c) = if !slot.kind.supports_fanout() {
                both("n/a")
            } else if let Some(note) = slot.note() {
                both(&note)
            } else if !fits {
                both("skipped: RLIMIT_NOFILE")
            } else {
                match fanout_once(slot, n, publishes, clk).await {
                    Ok(entries) => entries,
                    Err(e) => {
                        slot.fail(&mut self.failures, &format!("fan-out to {n}"), &e);
                        both("failed")
                    }
                }
            };
            times.push(t);
            cpus.push(c);
        }
        (times, cpus)
    }
}

/// Fan-out to `n` receivers with `publishes` messages on `slot`'s server (`n/a` if it does
/// not run).
async fn fanout_once(
    slot: &Slot,
    n: usize,
    publishes: u64,
    clk: u64,
) -> Result<Entries, BenchError> {
    let Some(p) = slot.proc.as_ref() else {
        return Ok(both("n/a"));
    };
    let Fanout {
        times_ms,
        cpu_us_per_delivery,
        ..
    } = client::fanout(&target(p, "/chat"), n, publishes, p.pid(), clk).await?;
    eprintln!(
        "ws-bench: {} fan-out to {n}: {times_ms:.2?} ms, server cpu {} us/delivery",
        slot.kind.key(),
        cpu_us_per_delivery.map_or("?".into(), |c| format!("{c:.2}"))
    );
    Ok((
        stats::median(&times_ms).map_or(Entry::note("n/a"), Entry::Value),
        cpu_us_per_delivery.map_or(Entry::note("n/a"), Entry::Value),
    ))
}

/// The same note in both entries.
fn both(note: &str) -> Entries {
    (Entry::note(note), Entry::note(note))
}
