//! The valgrind measurements, each on a fresh server: callgrind instructions per echo and
//! massif heap per idle connection. Each is the difference between a run with a workload
//! and a run without one, divided by the workload's size.

use std::path::Path;
use std::time::Duration;

use crate::bench::Bench;
use crate::client::{self, Target};
use crate::error::BenchError;
use crate::report::Entry;
use crate::server::{ServerProcess, Valgrind};
use crate::slot::{target, Slot};
use crate::{callgrind, massif};

/// Messages of the callgrind workload (1 connection × N × 20 B).
pub(crate) const CALLGRIND_MESSAGES: usize = 2_000;

/// How one valgrind figure is taken.
#[derive(Debug)]
pub(crate) struct Profile {
    /// The valgrind tool.
    tool: Valgrind,
    /// Its name, in output file names, log lines and notes.
    name: &'static str,
    /// What the figure counts, for the log line.
    unit: &'static str,
    /// Raw TCP has nothing to measure (`n/a`).
    websocket_only: bool,
    /// The total of one run, from the tool's output file.
    parse: fn(&str) -> Option<u64>,
    /// What an output file without a total lacks.
    no_total: &'static str,
    /// The figure from the two totals and the workload size.
    figure: fn(u64, u64, u64) -> Option<f64>,
    /// What the totals are, when the workload's is the smaller.
    totals: &'static str,
}

/// Callgrind instructions per 20 B echo: one connection, [`CALLGRIND_MESSAGES`] echoes.
pub(crate) const INSTRUCTIONS: Profile = Profile {
    tool: Valgrind::Callgrind,
    name: "callgrind",
    unit: "instructions per 20 B echo",
    websocket_only: false,
    parse: callgrind::parse_total_ir,
    no_total: "no totals",
    figure: callgrind::per_message,
    totals: "instruction counts",
};

/// Massif heap per idle connection (requested bytes + allocator overhead, peak of
/// `plan.massif_conns` connections opened one at a time).
pub(crate) const HEAP: Profile = Profile {
    tool: Valgrind::Massif,
    name: "massif",
    unit: "heap bytes per idle connection",
    websocket_only: true,
    parse: massif::parse_peak_heap,
    no_total: "no heap snapshots",
    figure: massif::per_conn,
    totals: "peak heap",
};

/// `valgrind --version`, if valgrind is installed.
pub(crate) fn valgrind_version() -> Option<String> {
    std::process::Command::new("valgrind")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

impl Bench<'_> {
    /// The valgrind figure `profile` of every server for each workload size of `units`
    /// (one row each, sharing one baseline run per server), or why it is not taken: not
    /// asked for, no `valgrind`, the server failed earlier, or raw TCP for WebSocket-only
    /// figures. Profiling trouble is noted, but is not a failure of the run.
    pub(crate) async fn profile(
        &mut self,
        profile: &Profile,
        valgrind: bool,
        units: &[usize],
    ) -> Vec<Vec<Entry<f64>>> {
        let mut rows: Vec<Vec<Entry<f64>>> = units.iter().map(|_| Vec::new()).collect();
        for slot in &self.slots {
            let note = if !self.plan.callgrind {
                Some(Entry::note("not run"))
            } else if !valgrind {
                Some(Entry::note("valgrind missing"))
            } else if let Some(note) = slot.note() {
                Some(Entry::Note(note))
            } else if profile.websocket_only && slot.kind.raw_tcp() {
                Some(Entry::note("n/a"))
            } else {
                None
            };
            if let Some(note) = note {
                rows.iter_mut().for_each(|r| r.push(note.clone()));
                continue;
            }
            let results = profile
                .measure(
                    slot,
                    self.tmp.path(),
                    units,
                    self.plan.keep_valgrind.as_deref(),
                )
                .await;
            for (row, (r, &n)) in rows.iter_mut().zip(results.into_iter().zip(units)) {
                row.push(profile.entry(slot, n, r, &mut self.notes));
            }
        }
        rows
    }
}

impl Profile {
    /// The figure for `slot` at each workload size of `units`: the workload's total minus
    /// the baseline's (one run without a workload), per unit.
    async fn measure(
        &self,
        slot: &Slot,
        tmp: &Path,
        units: &[usize],
        keep: Option<&Path>,
    ) -> Vec<Result<f64, BenchError>> {
        let base = match self.total(slot, tmp, 0, keep).await {
            Ok(b) => b,
            Err(e) => {
                let e = e.to_string();
                return units
                    .iter()
                    .map(|_| Err(BenchError::Server(format!("baseline run: {e}"))))
                    .collect();
            }
        };
        let mut out = Vec::new();
        for &n in units {
            let r = self.total(slot, tmp, n, keep).await.and_then(|with| {
                (self.figure)(with, base, n as u64)
                    .ok_or_else(|| BenchError::Server(format!("{} {with} < {base}", self.totals)))
            });
            out.push(r);
        }
        out
    }

    /// The tool's total for `slot`'s server started under it, serving `units` of the
    /// workload, then stopped; its output file copied into `keep`, if given.
    async fn total(
        &self,
        slot: &Slot,
        tmp: &Path,
        units: usize,
        keep: Option<&Path>,
    ) -> Result<u64, BenchError> {
        let out = tmp.join(format!("{}.{}.{units}.out", self.name, slot.kind.key()));
        let mut l = slot.launch(false);
        l.valgrind = Some((self.tool, out.clone()));
        l.start_timeout = Duration::from_secs(90);
        let p = ServerProcess::start(&l)?;
        self.workload(&target(&p, "/echo"), units).await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        p.terminate(Duration::from_secs(60))?;
        let text = std::fs::read_to_string(&out).map_err(|e| {
            BenchError::Server(format!("no {} output {}: {e}", self.name, out.display()))
        })?;
        if let (Some(dir), Some(name)) = (keep, out.file_name()) {
            let kept =
                std::fs::create_dir_all(dir).and_then(|()| std::fs::copy(&out, dir.join(name)));
            if let Err(e) = kept {
                eprintln!(
                    "ws-bench: cannot keep {} in {}: {e}",
                    out.display(),
                    dir.display()
                );
            }
        }
        (self.parse)(&text)
            .ok_or_else(|| BenchError::Server(format!("{} in {}", self.no_total, out.display())))
    }

    /// The workload: `units` verified 20 B echoes on one connection (callgrind), or
    /// `units` connections that each did one 20 B echo, idle for 300 ms, then close
    /// (massif).
    async fn workload(&self, t: &Target, units: usize) -> Result<(), BenchError> {
        match self.tool {
            Valgrind::Callgrind => client::fixed_workload(t, units).await,
            Valgrind::Massif => {
                // One handshake at a time: the peak is then the idle connections plus at
                // most one handshake's transient state, not a batch of them.
                let warm = client::Message::binary(20);
                let open = client::open_batched(t, units, Some(&warm), 1).await?;
                tokio::time::sleep(Duration::from_millis(300)).await;
                client::close_all(open).await;
                Ok(())
            }
        }
    }

    /// The report entry of a result; a failure is logged and noted.
    fn entry(
        &self,
        slot: &Slot,
        units: usize,
        result: Result<f64, BenchError>,
        notes: &mut Vec<String>,
    ) -> Entry<f64> {
        let tool = self.name;
        match result {
            Ok(v) => {
                eprintln!(
                    "ws-bench: {} {tool} ({units}): {v:.0} {}",
                    slot.kind.key(),
                    self.unit
                );
                Entry::Value(v)
            }
            Err(e) => {
                eprintln!("ws-bench: {} {tool} ({units}) failed: {e}", slot.kind.key());
                notes.push(format!(
                    "{tool} ({units}) for {} failed: {e}",
                    slot.kind.label()
                ));
                Entry::note(format!("{tool} failed"))
            }
        }
    }
}
