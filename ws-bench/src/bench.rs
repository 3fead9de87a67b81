//! A benchmark run in progress ([`Bench`]): the servers under test, one [`Slot`] per
//! column, the limits every measurement respects, and the failures and notes collected on
//! the way. The measurements are steps of it, one file each in `measure/`.

use std::path::{Path, PathBuf};

use crate::binaries::bin_path;
use crate::cli::Cli;
use crate::error::BenchError;
use crate::machine::Env;
use crate::plan::Plan;
use crate::report::ColumnStatus;
use crate::server::{ServerKind, ServerProcess};
use crate::slot::Slot;
use crate::tls::TlsFiles;
use crate::{config, procfs};

/// A run in progress: the servers and what has been recorded against them.
#[derive(Debug)]
pub(crate) struct Bench<'a> {
    /// What to measure.
    pub(crate) plan: &'a Plan,
    /// Clock ticks per second of the /proc CPU counters.
    pub(crate) clk: u64,
    /// Soft RLIMIT_NOFILE.
    fd_limit: usize,
    /// Servers run on CPU 0 (and the load generator on CPU 1).
    pub(crate) pinned: bool,
    /// Our framework's config file.
    pub(crate) cfg: PathBuf,
    /// The certificate of the TLS servers (made when the plan has one).
    tls: Option<TlsFiles>,
    /// One per server of the plan, in alternation order.
    pub(crate) slots: Vec<Slot>,
    /// Correctness failures: the run exits non-zero if there are any.
    pub(crate) failures: Vec<String>,
    /// Notes for the report (profiling trouble).
    pub(crate) notes: Vec<String>,
    /// Declared after `slots`: removed after the servers running in it are killed.
    pub(crate) tmp: TempDir,
}

/// One measurement of one server inside [`Bench::alternate`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Turn<'p> {
    /// Repetition, from 0.
    pub(crate) rep: usize,
    /// Column of the server.
    pub(crate) column: usize,
    /// The running server.
    pub(crate) process: &'p ServerProcess,
}

impl<'a> Bench<'a> {
    /// Writes our framework's config into a fresh temp dir and starts every server of the
    /// plan up front; they idle (pinned to CPU 0) between runs.
    pub(crate) fn start(cli: &Cli, plan: &'a Plan, env: &Env) -> Result<Self, BenchError> {
        let tmp = TempDir::create()?;
        let cfg = config::write_ws_cli_config(tmp.path(), &cli.ours_log_level)?;
        let tls = if plan.servers.iter().any(|k| k.tls()) {
            Some(TlsFiles::generate(tmp.path())?)
        } else {
            None
        };
        let mut bench = Bench {
            plan,
            clk: procfs::clock_ticks_per_sec(),
            fd_limit: env.nofile.0 as usize,
            pinned: env.pinned,
            cfg,
            tls,
            slots: Vec::new(),
            failures: Vec::new(),
            notes: Vec::new(),
            tmp,
        };
        for &kind in &plan.servers {
            bench.start_server(cli, kind, env.pinned);
        }
        Ok(bench)
    }

    /// Adds the slot of `kind` and starts its server. A missing binary is noted as not
    /// built (and is a failure with `--require-all`); a server that does not start fails.
    fn start_server(&mut self, cli: &Cli, kind: ServerKind, pinned: bool) {
        let mut slot = Slot {
            kind,
            bin: bin_path(cli, kind),
            status: ColumnStatus::Ok,
            proc: None,
            config: kind.ours().then(|| self.cfg.clone()),
            cwd: self.tmp.path().to_path_buf(),
            tls: if kind.tls() { self.tls.clone() } else { None },
        };
        if kind == ServerKind::OursTls {
            // Its own directory: ours keeps its pid file and control socket in the working
            // directory, and plain ours runs beside it.
            match self.ours_tls_config(&cli.ours_log_level) {
                Ok((cfg, cwd)) => {
                    slot.config = Some(cfg);
                    slot.cwd = cwd;
                }
                Err(e) => {
                    slot.fail(&mut self.failures, "TLS config", &e);
                    self.slots.push(slot);
                    return;
                }
            }
        }
        let bin = slot.bin.display();
        if !slot.bin.is_file() {
            let hint = if kind.ours() {
                "cargo build --release -p ws-cli"
            } else {
                "cargo build --release -p ws-bench --bins"
            };
            eprintln!(
                "ws-bench: {} not built ({bin}); build with `{hint}`",
                kind.key()
            );
            slot.status = ColumnStatus::NotBuilt(format!("{bin}; `{hint}`"));
            if cli.require_all {
                self.failures
                    .push(format!("{}: not built ({bin})", kind.key()));
            }
        } else {
            match ServerProcess::start(&slot.launch(pinned)) {
                Ok(p) => {
                    eprintln!(
                        "ws-bench: started {} (pid {}) at {}",
                        kind.key(),
                        p.pid(),
                        p.addr
                    );
                    slot.proc = Some(p);
                }
                Err(e) => slot.fail(&mut self.failures, "start", &e),
            }
        }
        self.slots.push(slot);
    }

    /// Writes the config of ours over TLS into `ours-tls/` of the temp dir: its path and
    /// that directory.
    fn ours_tls_config(&self, log_level: &str) -> Result<(PathBuf, PathBuf), BenchError> {
        let Some(tls) = &self.tls else {
            return Err(BenchError::Server("no TLS certificate".into()));
        };
        let dir = self.tmp.path().join("ours-tls");
        let cfg = config::write_config(
            &dir,
            &config::render_tls_config(log_level, &tls.cert, &tls.key),
        )?;
        Ok((cfg, dir))
    }

    /// Whether `n` connections fit under RLIMIT_NOFILE, with 512 descriptors to spare.
    pub(crate) fn fits(&self, n: usize) -> bool {
        n + 512 <= self.fd_limit
    }

    /// Runs `measure` `plan.reps` times on every server that still runs, alternating
    /// servers per repetition (A B C A B C), and returns each column's results. A
    /// measurement that fails fails its server; `what` names it in the failure.
    pub(crate) async fn alternate<T>(
        &mut self,
        what: &str,
        mut measure: impl AsyncFnMut(Turn<'_>) -> Result<T, BenchError>,
    ) -> Vec<Vec<T>> {
        let mut results: Vec<Vec<T>> = self.slots.iter().map(|_| Vec::new()).collect();
        for rep in 0..self.plan.reps {
            for (column, slot) in self.slots.iter_mut().enumerate() {
                let Some(process) = slot.live(&mut self.failures) else {
                    continue;
                };
                match measure(Turn {
                    rep,
                    column,
                    process,
                })
                .await
                {
                    Ok(r) => results[column].push(r),
                    Err(e) => slot.fail(&mut self.failures, what, &e),
                }
            }
        }
        results
    }

    /// Final liveness check (a server that died is a failure), then stops every server.
    pub(crate) fn stop_servers(&mut self) {
        for slot in &mut self.slots {
            let _ = slot.live(&mut self.failures);
            slot.proc = None;
        }
    }
}

/// The run's temp dir (config, valgrind output); removed when dropped.
#[derive(Debug)]
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// A fresh private temp dir (see [`config::make_temp_dir`]).
    pub(crate) fn create() -> std::io::Result<Self> {
        config::make_temp_dir().map(TempDir)
    }

    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
