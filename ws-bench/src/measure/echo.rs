//! The echo matrix: for every payload size × connection count, each server's echo
//! throughput, round-trip latency and CPU per message, medians over repetitions that
//! alternate servers.

use crate::bench::Bench;
use crate::client::{self, LoadResult, LoadSpec};
use crate::report::{self, CellSummary, Entry, Row};
use crate::slot::target;
use crate::stats;

/// Cells whose messages in flight (connections × payload) exceed this are skipped.
pub(crate) const MAX_BYTES_IN_FLIGHT: usize = 1 << 30;

impl Bench<'_> {
    /// The echo matrix: one row per payload size × connection count, each entry one
    /// server's medians of msg/s, p50 / p99 round-trip latency and server CPU per message.
    /// Cells over [`MAX_BYTES_IN_FLIGHT`] or RLIMIT_NOFILE are skipped.
    pub(crate) async fn echo_matrix(&mut self) -> Vec<Row> {
        let plan = self.plan;
        let runs_per_cell = plan.reps * self.slots.len();
        let total = plan.payloads.len() * plan.conns.len() * runs_per_cell;
        let mut done = 0;
        let mut rows = Vec::new();
        for &size in &plan.payloads {
            for &conns in &plan.conns {
                let skip = self.skip_cell(size, conns);
                let results = if skip.is_none() {
                    let results = self.echo_cell(size, conns, done, total).await;
                    done += runs_per_cell;
                    results
                } else {
                    vec![Vec::new(); self.slots.len()]
                };
                rows.push(Row {
                    size,
                    conns,
                    entries: self.cell_entries(skip, &results),
                });
            }
        }
        rows
    }

    /// Why the cell of `conns` connections × `size` bytes is not measured, if it is not.
    fn skip_cell(&self, size: usize, conns: usize) -> Option<String> {
        if conns.saturating_mul(size) > MAX_BYTES_IN_FLIGHT {
            Some("skipped: > 1 GiB in flight".to_string())
        } else if !self.fits(conns) {
            Some("skipped: RLIMIT_NOFILE".to_string())
        } else {
            None
        }
    }

    /// One cell: `plan.reps` load runs of `conns` connections echoing `size` bytes on
    /// every server, alternated; `done` of the `total` runs came before (progress lines).
    async fn echo_cell(
        &mut self,
        size: usize,
        conns: usize,
        done: usize,
        total: usize,
    ) -> Vec<Vec<LoadResult>> {
        let (plan, clk, columns) = (self.plan, self.clk, self.slots.len());
        let spec = LoadSpec {
            conns,
            size,
            warmup: plan.warmup,
            window: plan.window,
            pipeline: plan.pipeline,
        };
        let what = format!("echo {} x {conns}", report::fmt_size(size));
        self.alternate(&what, async |turn| {
            let run_no = done + turn.rep * columns + turn.column + 1;
            let p = turn.process;
            let r = client::run_load(&target(p, "/echo"), &spec, p.pid(), clk).await?;
            eprintln!(
                "ws-bench: [{run_no}/{total}] {} {} x {conns} rep {}: {:.0} msg/s, p50 {:.0} us, p99 {:.0} us, cpu {} us/msg",
                p.kind.key(),
                report::fmt_size(size),
                turn.rep + 1,
                r.msgs_per_sec,
                r.p50_us,
                r.p99_us,
                r.cpu_us_per_msg.map_or("?".into(), |c| format!("{c:.2}"))
            );
            Ok(r)
        })
        .await
    }

    /// A cell's entries: its skip note, else each server's medians, else why it has none.
    fn cell_entries(
        &self,
        skip: Option<String>,
        results: &[Vec<LoadResult>],
    ) -> Vec<Entry<CellSummary>> {
        self.slots
            .iter()
            .zip(results)
            .map(|(slot, rs)| match (&skip, summarize(rs)) {
                (Some(s), _) => Entry::Note(s.clone()),
                (None, Some(s)) => Entry::Value(s),
                (None, None) => Entry::Note(slot.note().unwrap_or_else(|| "n/a".into())),
            })
            .collect()
    }
}

/// Medians of the repetitions of one cell.
fn summarize(rs: &[LoadResult]) -> Option<CellSummary> {
    if rs.is_empty() {
        return None;
    }
    let col = |f: fn(&LoadResult) -> f64| stats::median(&rs.iter().map(f).collect::<Vec<_>>());
    let cpus: Vec<f64> = rs.iter().filter_map(|r| r.cpu_us_per_msg).collect();
    Some(CellSummary {
        msgs_per_sec: col(|r| r.msgs_per_sec)?,
        p50_us: col(|r| r.p50_us)?,
        p99_us: col(|r| r.p99_us)?,
        cpu_us_per_msg: stats::median(&cpus),
        reps: rs.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarize_takes_medians() {
        let r = |m: f64, c: Option<f64>| LoadResult {
            msgs_per_sec: m,
            p50_us: m / 10.0,
            p99_us: m,
            cpu_us_per_msg: c,
            messages: 1,
        };
        let s = summarize(&[r(1.0, Some(3.0)), r(3.0, None), r(2.0, Some(5.0))]).expect("summary");
        assert_eq!(s.msgs_per_sec, 2.0);
        assert_eq!(s.p50_us, 0.2);
        assert_eq!(s.cpu_us_per_msg, Some(4.0));
        assert_eq!(s.reps, 3);
        assert_eq!(summarize(&[]), None);
    }
}
