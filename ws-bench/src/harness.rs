//! Orchestration: command line, plan (quick / full), running every server
//! through the matrix with alternation, and assembling the report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

use crate::client::{self, Fanout, LoadResult, LoadSpec, Target};
use crate::error::BenchError;
use crate::report::{self, CellSummary, Column, ColumnStatus, Entry, MetricRow, Report, Row};
use crate::server::{self, Launch, ServerKind, ServerProcess, Valgrind};
use crate::{callgrind, config, massif, procfs, stats};

/// Cells whose messages in flight (connections × payload) exceed this are skipped.
pub const MAX_BYTES_IN_FLIGHT: usize = 1 << 30;
/// Default `log_level` of our framework's config (see [`Cli::ours_log_level`]).
pub const DEFAULT_OURS_LOG_LEVEL: &str = "warn,ws_core::app=info";
/// Messages of the callgrind workload (1 connection × N × 20 B).
pub const CALLGRIND_MESSAGES: usize = 2_000;
/// Idle connections of the massif workload (each did one 20 B echo).
pub const MASSIF_CONNS: usize = 1_000;

/// Command line of `ws-bench`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "ws-bench",
    about = "Echo / fan-out benchmark of ws-cli against raw fastwebsockets, tungstenite, axum and raw TCP"
)]
pub struct Cli {
    /// Smoke run: 20 B and 16 KiB × 1 and 100 connections, short windows, 1 repetition (the default).
    #[arg(long, conflicts_with = "full")]
    pub quick: bool,
    /// Whole matrix (20 B, 1 KiB, 16 KiB, 1 MiB × 1, 100, 1000, 10000 connections), 3 repetitions, callgrind and massif.
    #[arg(long)]
    pub full: bool,
    /// Servers to run (comma list of ours, fastwebsockets, tungstenite, axum, tcp); default all.
    #[arg(long, value_delimiter = ',')]
    pub servers: Vec<String>,
    /// Override the payload sizes (e.g. `20,1KiB,16KiB,1MiB`).
    #[arg(long, value_delimiter = ',', value_parser = report::parse_size)]
    pub payloads: Vec<usize>,
    /// Override the connection counts (e.g. `1,100,1000`).
    #[arg(long, value_delimiter = ',')]
    pub conns: Vec<usize>,
    /// Override the number of repetitions.
    #[arg(long)]
    pub reps: Option<usize>,
    /// Override the warm-up before each window, ms.
    #[arg(long)]
    pub warmup_ms: Option<u64>,
    /// Override the (minimum) measured window, ms.
    #[arg(long)]
    pub window_ms: Option<u64>,
    /// Override the idle connections of the memory measurement.
    #[arg(long)]
    pub idle_conns: Option<usize>,
    /// Override the receiver counts of the fan-out measurement.
    #[arg(long, value_delimiter = ',')]
    pub fanout_conns: Vec<usize>,
    /// Our framework's binary (default: `ws-cli` next to the ws-bench binary).
    #[arg(long)]
    pub ws_cli: Option<PathBuf>,
    /// Raw fastwebsockets peer (default: `echo-fastwebsockets` next to the ws-bench binary).
    #[arg(long)]
    pub echo_fastwebsockets: Option<PathBuf>,
    /// tungstenite peer (default: `echo-tungstenite` next to the ws-bench binary).
    #[arg(long)]
    pub echo_tungstenite: Option<PathBuf>,
    /// axum peer (default: `echo-axum` next to the ws-bench binary).
    #[arg(long)]
    pub echo_axum: Option<PathBuf>,
    /// Raw TCP peer (default: `echo-tcp` next to the ws-bench binary).
    #[arg(long)]
    pub echo_tcp: Option<PathBuf>,
    /// Where to write the report [default: BENCHMARKS.md at the workspace root].
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Print the report only; do not write it.
    #[arg(long)]
    pub no_write: bool,
    /// Do not pin server and load generator to different cores.
    #[arg(long)]
    pub no_pin: bool,
    /// Also run the valgrind measurements in quick mode (callgrind instructions per echo,
    /// massif heap per idle connection).
    #[arg(long, conflicts_with = "no_callgrind")]
    pub callgrind: bool,
    /// Skip the valgrind measurements (callgrind, massif) in full mode.
    #[arg(long)]
    pub no_callgrind: bool,
    /// `log_level` written into our framework's config. The default keeps every
    /// target at `warn` except `ws_core::app`, which logs the
    /// `NAME listening at ws://IP:PORT` lines at info level.
    #[arg(long, default_value = DEFAULT_OURS_LOG_LEVEL)]
    pub ours_log_level: String,
    /// Do not run `cargo build -p ws-bench --bins` (which keeps the peer
    /// binaries next to `ws-bench` up to date) before starting.
    #[arg(long)]
    pub no_build: bool,
    /// Fail (exit 1) if a selected server binary is missing instead of noting "not built".
    #[arg(long)]
    pub require_all: bool,
}

/// What one run measures, derived from the mode and the overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// `quick` or `full`.
    pub mode: &'static str,
    /// Servers, in alternation order.
    pub servers: Vec<ServerKind>,
    /// Payload sizes.
    pub payloads: Vec<usize>,
    /// Connection counts.
    pub conns: Vec<usize>,
    /// Repetitions of each cell.
    pub reps: usize,
    /// Warm-up per run.
    pub warmup: Duration,
    /// Minimum window per run.
    pub window: Duration,
    /// Idle connections for the memory figure.
    pub idle_conns: usize,
    /// Window of the handshake-rate measurement.
    pub handshake_window: Duration,
    /// Concurrent connect/close cycles in the handshake measurement.
    pub handshake_workers: usize,
    /// Receiver counts for fan-out.
    pub fanout_conns: Vec<usize>,
    /// Publishes per fan-out measurement.
    pub fanout_publishes: u64,
    /// Run callgrind.
    pub callgrind: bool,
}

impl Plan {
    /// Builds the plan from the command line.
    pub fn from_cli(cli: &Cli) -> Result<Self, String> {
        let full = cli.full;
        let servers = if cli.servers.is_empty() {
            ServerKind::ALL.to_vec()
        } else {
            cli.servers
                .iter()
                .map(|s| {
                    ServerKind::from_key(s.trim()).ok_or_else(|| format!("unknown server {s:?}"))
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        let or = |v: &Vec<usize>, d: &[usize]| if v.is_empty() { d.to_vec() } else { v.clone() };
        let plan = Plan {
            mode: if full { "full" } else { "quick" },
            servers,
            payloads: or(
                &cli.payloads,
                if full {
                    &[20, 1 << 10, 16 << 10, 1 << 20]
                } else {
                    &[20, 16 << 10]
                },
            ),
            conns: or(
                &cli.conns,
                if full {
                    &[1, 100, 1_000, 10_000]
                } else {
                    &[1, 100]
                },
            ),
            reps: cli.reps.unwrap_or(if full { 3 } else { 1 }).max(1),
            warmup: Duration::from_millis(cli.warmup_ms.unwrap_or(if full { 500 } else { 300 })),
            window: Duration::from_millis(
                cli.window_ms
                    .unwrap_or(if full { 2_000 } else { 1_000 })
                    .max(100),
            ),
            idle_conns: cli
                .idle_conns
                .unwrap_or(if full { 10_000 } else { 100 })
                .max(1),
            handshake_window: Duration::from_millis(if full { 3_000 } else { 1_000 }),
            handshake_workers: 8,
            fanout_conns: or(
                &cli.fanout_conns,
                if full { &[100, 1_000, 10_000] } else { &[100] },
            ),
            fanout_publishes: if full { 50 } else { 20 },
            callgrind: if full {
                !cli.no_callgrind
            } else {
                cli.callgrind
            },
        };
        if plan.conns.contains(&0) || plan.fanout_conns.contains(&0) {
            return Err("connection counts must be positive".into());
        }
        Ok(plan)
    }

    /// File descriptors the load generator needs (and each server inherits).
    pub fn fds_needed(&self) -> usize {
        let m = self
            .conns
            .iter()
            .chain(&self.fanout_conns)
            .copied()
            .chain([self.idle_conns])
            .max()
            .unwrap_or(0);
        m + 1_024
    }
}

/// Entry point of the binary: returns 0 on success, 1 on any failure.
pub fn main_with(cli: Cli) -> ExitCode {
    let plan = match Plan::from_cli(&cli) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ws-bench: {e}");
            return ExitCode::from(2);
        }
    };
    if !cli.no_build {
        build_peers(&plan);
    }
    let cores = cpu_count();
    let nofile = raise_nofile(plan.fds_needed() as u64);
    // Pin before the runtime exists so that all its threads inherit the mask.
    let pinned = !cli.no_pin && cores >= 2 && server::taskset_available() && server::pin_self("1");
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ws-bench: cannot build runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let env = Env {
        cores,
        nofile,
        pinned,
    };
    let result = rt.block_on(async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let sigterm = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            r = run(&cli, &plan, &env) => r,
            _ = tokio::signal::ctrl_c() => Err(BenchError::Interrupted),
            () = sigterm => Err(BenchError::Interrupted),
        }
    });
    // Servers are stopped (killed by PID) when `run` returns or is dropped.
    match result {
        Ok(report) => {
            let md = report::render_markdown(&report);
            println!("{md}");
            if !cli.no_write {
                let out = cli.output.clone().unwrap_or_else(default_output);
                match std::fs::write(&out, &md) {
                    Ok(()) => eprintln!("ws-bench: wrote {}", out.display()),
                    Err(e) => {
                        eprintln!("ws-bench: cannot write {}: {e}", out.display());
                        return ExitCode::FAILURE;
                    }
                }
            }
            if report.failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                eprintln!("ws-bench: {} failure(s):", report.failures.len());
                for f in &report.failures {
                    eprintln!("  - {f}");
                }
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("ws-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Env {
    cores: usize,
    nofile: (u64, u64),
    pinned: bool,
}

fn default_output() -> PathBuf {
    workspace_root().join("BENCHMARKS.md")
}

fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn cpu_count() -> usize {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.lines().filter(|l| l.starts_with("processor")).count())
        .ok()
        .filter(|&n| n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}

/// Raises RLIMIT_NOFILE to at least `want` (soft up to hard; hard too when
/// permitted). Returns the resulting (soft, hard).
fn raise_nofile(want: u64) -> (u64, u64) {
    use rlimit::Resource;
    let _ = rlimit::increase_nofile_limit(want);
    if let Ok((soft, hard)) = Resource::NOFILE.get() {
        if soft < want {
            let _ = Resource::NOFILE.set(want.max(soft), want.max(hard));
        }
    }
    Resource::NOFILE.get().unwrap_or((0, 0))
}

/// Builds the peer binaries next to the running `ws-bench` (same profile) with
/// `cargo build [--release] -p ws-bench --bins`; `cargo run` builds only the
/// binary it runs. Bounded to 30 minutes; the build is killed by PID after that.
fn build_peers(plan: &Plan) {
    if plan.servers.iter().all(|&k| k == ServerKind::Ours) {
        return;
    }
    let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    else {
        return;
    };
    let profile = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let target_dir = dir.parent().map(Path::to_path_buf);
    let mut cmd =
        std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args(["build", "-p", "ws-bench", "--bins"])
        .current_dir(workspace_root());
    match profile.as_str() {
        "release" => {
            cmd.arg("--release");
        }
        "debug" => {}
        _ => return, // not a cargo target dir: use the given binaries as they are
    }
    if let Some(t) = target_dir {
        cmd.arg("--target-dir").arg(t);
    }
    eprintln!(
        "ws-bench: building peers: cargo build {}-p ws-bench --bins",
        if profile == "release" {
            "--release "
        } else {
            ""
        }
    );
    let mut child = match cmd.stdin(std::process::Stdio::null()).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ws-bench: cannot run cargo ({e}); using the peer binaries as they are");
            return;
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30 * 60);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                if !status.success() {
                    eprintln!("ws-bench: peer build failed ({status}); missing peers will show as not built");
                }
                return;
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                eprintln!("ws-bench: peer build timed out; killed it");
                return;
            }
        }
    }
}

fn bin_path(cli: &Cli, kind: ServerKind) -> PathBuf {
    let given = match kind {
        ServerKind::Ours => &cli.ws_cli,
        ServerKind::Fastwebsockets => &cli.echo_fastwebsockets,
        ServerKind::Tungstenite => &cli.echo_tungstenite,
        ServerKind::Axum => &cli.echo_axum,
        ServerKind::Tcp => &cli.echo_tcp,
    };
    let path = given.clone().unwrap_or_else(|| {
        let dir = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| workspace_root().join("target").join("release"));
        server::default_bin(&dir, kind)
    });
    // Servers run in a temp dir: make relative paths absolute first.
    std::path::absolute(&path).unwrap_or(path)
}

/// One server slot: its column, process and results.
#[derive(Debug)]
struct Slot {
    kind: ServerKind,
    bin: PathBuf,
    status: ColumnStatus,
    proc: Option<ServerProcess>,
}

impl Slot {
    /// The server process if it still runs; a dead one is recorded as a failure and dropped.
    fn live(&mut self, failures: &mut Vec<String>) -> Option<&mut ServerProcess> {
        let alive = self.proc.as_mut()?.check_alive();
        if let Err(e) = alive {
            self.fail(failures, "alive check", &e);
            return None;
        }
        self.proc.as_mut()
    }

    fn fail(&mut self, failures: &mut Vec<String>, what: &str, e: &BenchError) {
        let msg = format!("{}: {what}: {e}", self.kind.key());
        eprintln!("ws-bench: FAILURE {msg}");
        failures.push(msg.clone());
        self.status = ColumnStatus::Failed(format!("{what}: {e}"));
        self.proc = None; // kills it
    }

    fn note(&self) -> Option<String> {
        match &self.status {
            ColumnStatus::Ok => None,
            ColumnStatus::NotBuilt(_) => Some("not built".into()),
            ColumnStatus::Failed(_) => Some("failed".into()),
        }
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn launch(kind: ServerKind, bin: &Path, cfg: &Path, tmp: &Path, pinned: bool) -> Launch {
    Launch {
        kind,
        bin: bin.to_path_buf(),
        config: (kind == ServerKind::Ours).then(|| cfg.to_path_buf()),
        cwd: tmp.to_path_buf(),
        cpus: pinned.then(|| "0".to_string()),
        valgrind: None,
        start_timeout: Duration::from_secs(20),
    }
}

fn target(kind: ServerKind, p: &ServerProcess, path: &str) -> Target {
    Target {
        addr: p.addr,
        path: path.to_string(),
        raw_tcp: kind.raw_tcp(),
    }
}

async fn run(cli: &Cli, plan: &Plan, env: &Env) -> Result<Report, BenchError> {
    let started = Instant::now();
    let tmp = TempDir(config::make_temp_dir()?);
    let cfg = config::write_ws_cli_config(&tmp.0, &cli.ours_log_level)?;
    let clk = procfs::clock_ticks_per_sec();
    let mut failures = Vec::new();
    let mut notes = Vec::new();

    // Start every server up front; they idle (pinned to CPU 0) between runs.
    let mut slots: Vec<Slot> = Vec::new();
    for &kind in &plan.servers {
        let bin = bin_path(cli, kind);
        let mut slot = Slot {
            kind,
            bin: bin.clone(),
            status: ColumnStatus::Ok,
            proc: None,
        };
        if !bin.is_file() {
            let hint = if kind == ServerKind::Ours {
                "cargo build --release -p ws-cli"
            } else {
                "cargo build --release -p ws-bench --bins"
            };
            eprintln!(
                "ws-bench: {} not built ({}); build with `{hint}`",
                kind.key(),
                bin.display()
            );
            slot.status = ColumnStatus::NotBuilt(format!("{}; `{hint}`", bin.display()));
            if cli.require_all {
                failures.push(format!("{}: not built ({})", kind.key(), bin.display()));
            }
        } else {
            match ServerProcess::start(&launch(kind, &bin, &cfg, &tmp.0, env.pinned)) {
                Ok(p) => {
                    eprintln!(
                        "ws-bench: started {} (pid {}) at {}",
                        kind.key(),
                        p.pid(),
                        p.addr
                    );
                    slot.proc = Some(p);
                }
                Err(e) => slot.fail(&mut failures, "start", &e),
            }
        }
        slots.push(slot);
    }
    eprintln!(
        "ws-bench: servers up after {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let fd_limit = env.nofile.0 as usize;
    let fits = |n: usize| n + 512 <= fd_limit;

    // 1. Memory per idle connection, on pristine servers.
    let mut idle: Vec<Entry<f64>> = Vec::new();
    for slot in &mut slots {
        let entry = match slot.proc.as_ref() {
            None => Entry::Note(slot.note().unwrap_or_default()),
            Some(_) if !fits(plan.idle_conns) => Entry::note("skipped: RLIMIT_NOFILE"),
            Some(p) => {
                let t = target(slot.kind, p, "/echo");
                let pid = p.pid();
                match client::idle_memory(&t, plan.idle_conns, pid).await {
                    Ok(m) => {
                        eprintln!(
                            "ws-bench: {} idle memory: {} -> {} KiB for {} conns ({:.1} KiB/conn)",
                            slot.kind.key(),
                            m.rss_before_kib,
                            m.rss_after_kib,
                            m.conns,
                            m.kib_per_conn()
                        );
                        Entry::Value(m.kib_per_conn())
                    }
                    Err(e) => {
                        slot.fail(&mut failures, "idle connections", &e);
                        Entry::note("failed")
                    }
                }
            }
        };
        idle.push(entry);
    }

    // 2. The echo matrix: for each cell, repetitions alternate servers A B C A B C.
    let mut rows = Vec::new();
    let total_runs = plan.payloads.len() * plan.conns.len() * plan.reps * slots.len();
    let mut run_no = 0;
    for &size in &plan.payloads {
        for &conns in &plan.conns {
            let mut results: Vec<Vec<LoadResult>> = vec![Vec::new(); slots.len()];
            let skip = if conns.saturating_mul(size) > MAX_BYTES_IN_FLIGHT {
                Some("skipped: > 1 GiB in flight".to_string())
            } else if !fits(conns) {
                Some("skipped: RLIMIT_NOFILE".to_string())
            } else {
                None
            };
            if skip.is_none() {
                for rep in 0..plan.reps {
                    for (i, slot) in slots.iter_mut().enumerate() {
                        run_no += 1;
                        let kind = slot.kind;
                        let Some(p) = slot.live(&mut failures) else {
                            continue;
                        };
                        let t = target(kind, p, "/echo");
                        let spec = LoadSpec {
                            conns,
                            size,
                            warmup: plan.warmup,
                            window: plan.window,
                        };
                        match client::run_load(&t, &spec, p.pid(), clk).await {
                            Ok(r) => {
                                eprintln!(
                                    "ws-bench: [{run_no}/{total_runs}] {} {} x {conns} rep {}: {:.0} msg/s, p50 {:.0} us, p99 {:.0} us, cpu {} us/msg",
                                    slot.kind.key(),
                                    report::fmt_size(size),
                                    rep + 1,
                                    r.msgs_per_sec,
                                    r.p50_us,
                                    r.p99_us,
                                    r.cpu_us_per_msg.map_or("?".into(), |c| format!("{c:.2}"))
                                );
                                results[i].push(r);
                            }
                            Err(e) => slot.fail(
                                &mut failures,
                                &format!("echo {} x {conns}", report::fmt_size(size)),
                                &e,
                            ),
                        }
                    }
                }
            }
            let entries = slots
                .iter()
                .zip(&results)
                .map(|(slot, rs)| match (&skip, summarize(rs)) {
                    (Some(s), _) => Entry::Note(s.clone()),
                    (None, Some(s)) => Entry::Value(s),
                    (None, None) => Entry::Note(slot.note().unwrap_or_else(|| "n/a".into())),
                })
                .collect();
            rows.push(Row {
                size,
                conns,
                entries,
            });
        }
    }

    // 3. Handshake rate, alternating servers per repetition (after the matrix:
    // the connection churn leaves the kernel busy for a while).
    let mut hs: Vec<Vec<f64>> = vec![Vec::new(); slots.len()];
    for rep in 0..plan.reps {
        for (i, slot) in slots.iter_mut().enumerate() {
            let kind = slot.kind;
            let Some(p) = slot.live(&mut failures) else {
                continue;
            };
            let t = target(kind, p, "/echo");
            match client::handshake_rate(&t, plan.handshake_workers, plan.handshake_window).await {
                Ok(r) => {
                    eprintln!(
                        "ws-bench: {} handshakes rep {}: {:.0}/s",
                        slot.kind.key(),
                        rep + 1,
                        r
                    );
                    hs[i].push(r);
                }
                Err(e) => slot.fail(&mut failures, "handshake cycle", &e),
            }
        }
    }

    tokio::time::sleep(Duration::from_millis(500)).await;

    // 4. Broadcast fan-out (only servers with a broadcast route).
    let mut fanout_rows = Vec::new();
    for &n in &plan.fanout_conns {
        let mut times = Vec::new();
        let mut cpus = Vec::new();
        for slot in &mut slots {
            let (t, c) = if !slot.kind.supports_fanout() {
                (Entry::note("n/a"), Entry::note("n/a"))
            } else if let Some(note) = slot.note() {
                (Entry::Note(note.clone()), Entry::Note(note))
            } else if !fits(n) {
                (
                    Entry::note("skipped: RLIMIT_NOFILE"),
                    Entry::note("skipped: RLIMIT_NOFILE"),
                )
            } else if let Some(p) = slot.proc.as_ref() {
                let t = target(slot.kind, p, "/chat");
                match client::fanout(&t, n, plan.fanout_publishes, p.pid(), clk).await {
                    Ok(Fanout {
                        times_ms,
                        cpu_us_per_delivery,
                        ..
                    }) => {
                        eprintln!(
                            "ws-bench: {} fan-out to {n}: {times_ms:.2?} ms, server cpu {} us/delivery",
                            slot.kind.key(),
                            cpu_us_per_delivery.map_or("?".into(), |c| format!("{c:.2}"))
                        );
                        (
                            stats::median(&times_ms).map_or(Entry::note("n/a"), Entry::Value),
                            cpu_us_per_delivery.map_or(Entry::note("n/a"), Entry::Value),
                        )
                    }
                    Err(e) => {
                        slot.fail(&mut failures, &format!("fan-out to {n}"), &e);
                        (Entry::note("failed"), Entry::note("failed"))
                    }
                }
            } else {
                (Entry::note("n/a"), Entry::note("n/a"))
            };
            times.push(t);
            cpus.push(c);
        }
        fanout_rows.push(MetricRow {
            label: format!(
                "broadcast fan-out to {} receivers, median ms from publish to last receipt (/chat)",
                report::fmt_count(n)
            ),
            higher_is_better: false,
            entries: times,
        });
        fanout_rows.push(MetricRow {
            label: format!(
                "broadcast fan-out to {} receivers, server CPU per delivered message, µs",
                report::fmt_count(n)
            ),
            higher_is_better: false,
            entries: cpus,
        });
    }

    // Final liveness check, then stop everything before callgrind.
    for slot in &mut slots {
        let _ = slot.live(&mut failures);
        slot.proc = None;
    }
    let measured_secs = started.elapsed().as_secs_f64();

    // 5. Callgrind instructions per message (full mode).
    let mut ir: Vec<Entry<f64>> = Vec::new();
    let valgrind = std::process::Command::new("valgrind")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    for slot in &mut slots {
        let entry = match skip_valgrind(plan, valgrind.is_some(), slot, false) {
            Some(skipped) => skipped,
            None => {
                let r = callgrind_per_message(slot, &cfg, &tmp.0).await;
                valgrind_entry(
                    slot,
                    "callgrind",
                    "instructions per 20 B echo",
                    r,
                    &mut notes,
                )
            }
        };
        ir.push(entry);
    }

    // 6. Massif heap per idle connection (with callgrind: both need valgrind).
    let mut heap: Vec<Entry<f64>> = Vec::new();
    for slot in &mut slots {
        let entry = match skip_valgrind(plan, valgrind.is_some(), slot, true) {
            Some(skipped) => skipped,
            None => {
                let r = massif_per_conn(slot, &cfg, &tmp.0).await;
                valgrind_entry(
                    slot,
                    "massif",
                    "heap bytes per idle connection",
                    r,
                    &mut notes,
                )
            }
        };
        heap.push(entry);
    }

    // Assemble the report.
    let baseline = slots
        .iter()
        .position(|s| s.kind == ServerKind::Fastwebsockets && s.status == ColumnStatus::Ok);
    let mut metrics = vec![
        MetricRow {
            label: format!(
                "server RSS per idle connection ({} conns), KiB",
                report::fmt_count(plan.idle_conns)
            ),
            higher_is_better: false,
            entries: idle,
        },
        MetricRow {
            label: format!(
                "heap bytes per idle connection ({} conns, valgrind massif: requested + allocator overhead)",
                report::fmt_count(MASSIF_CONNS)
            ),
            higher_is_better: false,
            entries: heap,
        },
        MetricRow {
            label: format!(
                "connect + upgrade + 20 B echo + close cycles/s ({} in flight)",
                plan.handshake_workers
            ),
            higher_is_better: true,
            entries: slots
                .iter()
                .zip(&hs)
                .map(|(s, v)| match stats::median(v) {
                    Some(m) if s.status == ColumnStatus::Ok => Entry::Value(m),
                    _ => Entry::Note(s.note().unwrap_or_else(|| "n/a".into())),
                })
                .collect(),
        },
    ];
    metrics.extend(fanout_rows);
    metrics.push(MetricRow {
        label: format!("callgrind instructions per 20 B echo (1 conn × {CALLGRIND_MESSAGES})"),
        higher_is_better: false,
        entries: ir,
    });

    notes.push(
        "Load generator: one single-threaded tokio runtime, fastwebsockets in the client role over TcpStream, \
         pre-masked binary frames, TCP_NODELAY; each connection sends one message and awaits its echo, repeatedly. \
         Every echo is checked for opcode and length, the first one on each connection byte for byte."
            .into(),
    );
    notes.push(
        "Raw TCP receives the same masked frame bytes and returns them unchanged: the ceiling of this machine. \
         Peers are built in release mode; each uses tokio's multi-thread runtime, whose worker count follows the \
         CPU affinity mask (1 worker when pinned)."
            .into(),
    );
    notes.push(format!(
        "Idle memory: VmRSS of the server before and after opening the connections (each did one 20 B echo, \
         then idled {} ms), divided by their number; measured once per server, right after start-up. RSS counts the \
         pages the allocator's layout touches, so it moves by several hundred bytes per connection when an \
         allocation changes size (padding our connection's future by 608 bytes took it from 8.05 to 7.13 KiB). The \
         massif row is the heap itself: bytes requested plus the allocator's overhead, under valgrind's allocator, \
         per idle connection (peak of a run with {} connections, opened one at a time, minus the peak of a run with none).",
        300, MASSIF_CONNS
    ));
    notes.push(
        "Fan-out: N receivers and one publisher on `/chat` (which relays to the sender too); time from the publish \
         until the last receiver has the message, median over the publishes. The single-threaded load generator \
         reads all N copies, so at 10,000 receivers it contributes much of that time; server CPU per delivered \
         message is the server's own share. Peers have no broadcast route (n/a)."
            .into(),
    );
    notes.push(
        "Latency at 1,000+ connections mostly shows how evenly a server serves its connections: the mean is \
         fixed by Little's law (connections ÷ msg/s), a low p50 with a high p99 means some connections wait."
            .into(),
    );
    notes.push(format!(
        "CPU figures come from /proc tick counters ({clk}/s, i.e. {} ms resolution): short quick-mode windows \
         make them coarse.",
        1000 / clk.max(1)
    ));
    notes.push(
        "This machine is a 2-vCPU VM: run-to-run swings of 2-4× in msg/s (with p99 in milliseconds) were seen on \
         identical runs, and CPU µs/msg moves with them. Compare medians of full runs; callgrind instruction counts \
         are the deterministic figure."
            .into(),
    );
    if !plan.callgrind {
        notes.push(
            "Callgrind and massif were not run (quick mode; `--callgrind` enables them).".into(),
        );
    }
    notes.push(format!(
        "Cells with more than {} MiB in flight (connections × payload) are skipped; each window is extended (up to 5×) until it holds ≥ 2 echoes per connection.",
        MAX_BYTES_IN_FLIGHT >> 20
    ));
    notes.push(format!(
        "Wall-clock time of the measurements (servers start-up included, callgrind excluded): {measured_secs:.1} s; total {:.1} s.",
        started.elapsed().as_secs_f64()
    ));

    let pinning = if env.pinned {
        "servers on CPU 0, load generator on CPU 1 (taskset)".to_string()
    } else if cli.no_pin {
        "not pinned (--no-pin)".to_string()
    } else {
        format!("not pinned (taskset unavailable or {} core(s))", env.cores)
    };
    let mut settings = vec![
        ("mode".to_string(), if plan.mode == "quick" { "quick (smoke run)".to_string() } else { "full".to_string() }),
        ("repetitions".into(), format!("{} (servers alternated per repetition; medians)", plan.reps)),
        ("warm-up / window".into(), format!("{} ms / {} ms", plan.warmup.as_millis(), plan.window.as_millis())),
        ("pinning".into(), pinning),
        ("payloads".into(), plan.payloads.iter().map(|&s| report::fmt_size(s)).collect::<Vec<_>>().join(", ")),
        ("connections".into(), plan.conns.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")),
        ("clock ticks/s (CPU figures)".into(), clk.to_string()),
        ("ws-cli config".into(), format!("`log_level = \"{}\"`, servers `ws` and `http` on 127.0.0.1 port 0; echo on `ws` `/echo`, fan-out on `/chat`", cli.ours_log_level)),
    ];
    if let Some(v) = &valgrind {
        settings.push(("valgrind".into(), v.clone()));
    }

    let columns = slots
        .iter()
        .map(|s| Column {
            label: s.kind.label().into(),
            status: s.status.clone(),
        })
        .collect();
    Ok(Report {
        mode: plan.mode.to_string(),
        smoke: plan.mode == "quick",
        command: format!(
            "cargo run --release -p ws-bench -- {}",
            std::env::args().skip(1).collect::<Vec<_>>().join(" ")
        )
        .trim_end()
        .to_string(),
        generated: report::fmt_utc(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        ),
        machine: machine_info(env),
        versions: versions(),
        settings,
        columns,
        baseline,
        rows,
        metrics,
        notes,
        failures,
    })
}

/// Medians of the repetitions of one cell.
pub fn summarize(rs: &[LoadResult]) -> Option<CellSummary> {
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

async fn callgrind_once(
    slot: &Slot,
    cfg: &Path,
    tmp: &Path,
    messages: usize,
) -> Result<u64, BenchError> {
    let out = tmp.join(format!("callgrind.{}.{messages}.out", slot.kind.key()));
    let mut l = launch(slot.kind, &slot.bin, cfg, tmp, false);
    l.valgrind = Some((Valgrind::Callgrind, out.clone()));
    l.start_timeout = Duration::from_secs(90);
    let p = ServerProcess::start(&l)?;
    let t = target(slot.kind, &p, "/echo");
    client::fixed_workload(&t, messages).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    p.terminate(Duration::from_secs(60))?;
    let text = std::fs::read_to_string(&out)
        .map_err(|e| BenchError::Server(format!("no callgrind output {}: {e}", out.display())))?;
    callgrind::parse_total_ir(&text)
        .ok_or_else(|| BenchError::Server(format!("no totals in {}", out.display())))
}

/// The entry of a valgrind measurement that is not taken for `slot`, if it is not: not asked
/// for, no valgrind, the server failed, or (`websocket_only`) raw TCP.
fn skip_valgrind(
    plan: &Plan,
    valgrind: bool,
    slot: &Slot,
    websocket_only: bool,
) -> Option<Entry<f64>> {
    if !plan.callgrind {
        Some(Entry::note("not run"))
    } else if !valgrind {
        Some(Entry::note("valgrind missing"))
    } else if let Some(note) = slot.note() {
        Some(Entry::Note(note))
    } else if websocket_only && slot.kind.raw_tcp() {
        Some(Entry::note("n/a"))
    } else {
        None
    }
}

/// The entry of a valgrind measurement. Profiling trouble is reported, but is not an echo
/// failure.
fn valgrind_entry(
    slot: &Slot,
    tool: &str,
    unit: &str,
    result: Result<f64, BenchError>,
    notes: &mut Vec<String>,
) -> Entry<f64> {
    match result {
        Ok(v) => {
            eprintln!("ws-bench: {} {tool}: {v:.0} {unit}", slot.kind.key());
            Entry::Value(v)
        }
        Err(e) => {
            eprintln!("ws-bench: {} {tool} failed: {e}", slot.kind.key());
            notes.push(format!("{tool} for {} failed: {e}", slot.kind.label()));
            Entry::note(format!("{tool} failed"))
        }
    }
}

/// Peak heap of a server under massif that served `conns` idle connections.
async fn massif_once(slot: &Slot, cfg: &Path, tmp: &Path, conns: usize) -> Result<u64, BenchError> {
    let out = tmp.join(format!("massif.{}.{conns}.out", slot.kind.key()));
    let mut l = launch(slot.kind, &slot.bin, cfg, tmp, false);
    l.valgrind = Some((Valgrind::Massif, out.clone()));
    l.start_timeout = Duration::from_secs(90);
    let p = ServerProcess::start(&l)?;
    let t = target(slot.kind, &p, "/echo");
    // One handshake at a time: the peak is then the idle connections plus at most one
    // handshake's transient state, not a batch of them.
    let warm = client::Message::binary(20);
    let open = client::open_batched(&t, conns, Some(&warm), 1).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    client::close_all(open).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    p.terminate(Duration::from_secs(60))?;
    let text = std::fs::read_to_string(&out)
        .map_err(|e| BenchError::Server(format!("no massif output {}: {e}", out.display())))?;
    massif::parse_peak_heap(&text)
        .ok_or_else(|| BenchError::Server(format!("no heap snapshots in {}", out.display())))
}

/// Heap bytes per idle connection under massif.
async fn massif_per_conn(slot: &Slot, cfg: &Path, tmp: &Path) -> Result<f64, BenchError> {
    let base = massif_once(slot, cfg, tmp, 0).await?;
    let with = massif_once(slot, cfg, tmp, MASSIF_CONNS).await?;
    massif::per_conn(with, base, MASSIF_CONNS as u64)
        .ok_or_else(|| BenchError::Server(format!("peak heap {with} < {base}")))
}

async fn callgrind_per_message(slot: &Slot, cfg: &Path, tmp: &Path) -> Result<f64, BenchError> {
    let base = callgrind_once(slot, cfg, tmp, 0).await?;
    let with = callgrind_once(slot, cfg, tmp, CALLGRIND_MESSAGES).await?;
    callgrind::per_message(with, base, CALLGRIND_MESSAGES as u64)
        .ok_or_else(|| BenchError::Server(format!("instruction counts {with} < {base}")))
}

fn machine_info(env: &Env) -> Vec<(String, String)> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| procfs::parse_cpu_model(&s));
    let mem = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .map(|l| l.trim_start_matches("MemTotal:").trim().to_string())
    });
    let sys = |p: &str| procfs::read_trimmed(p).unwrap_or_else(|| "?".into());
    vec![
        ("cpu".into(), cpu.unwrap_or_else(|| "?".into())),
        ("cores".into(), env.cores.to_string()),
        ("memory".into(), mem.unwrap_or_else(|| "?".into())),
        ("kernel".into(), sys("/proc/sys/kernel/osrelease")),
        (
            "RLIMIT_NOFILE (soft / hard, after raising)".into(),
            format!("{} / {}", env.nofile.0, env.nofile.1),
        ),
        (
            "fs.file-max / fs.nr_open".into(),
            format!(
                "{} / {}",
                sys("/proc/sys/fs/file-max"),
                sys("/proc/sys/fs/nr_open")
            ),
        ),
        (
            "net.core.somaxconn".into(),
            sys("/proc/sys/net/core/somaxconn"),
        ),
        (
            "net.ipv4.tcp_max_syn_backlog".into(),
            sys("/proc/sys/net/ipv4/tcp_max_syn_backlog"),
        ),
        (
            "net.ipv4.ip_local_port_range".into(),
            sys("/proc/sys/net/ipv4/ip_local_port_range"),
        ),
        (
            "net.ipv4.tcp_tw_reuse".into(),
            sys("/proc/sys/net/ipv4/tcp_tw_reuse"),
        ),
    ]
}

fn versions() -> Vec<(String, String)> {
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into());
    let mut v = vec![("rustc".to_string(), rustc)];
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock")).unwrap_or_default();
    v.extend(report::lock_versions(
        &lock,
        &[
            "ws-core",
            "ws-cli",
            "fastwebsockets",
            "hyper",
            "tokio",
            "tokio-tungstenite",
            "tungstenite",
            "axum",
        ],
    ));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("ws-bench").chain(args.iter().copied()))
            .expect("cli parses")
    }

    #[test]
    fn quick_plan_is_small() {
        let p = Plan::from_cli(&cli(&["--quick"])).expect("plan");
        assert_eq!(p.mode, "quick");
        assert_eq!(p.payloads, vec![20, 16 << 10]);
        assert_eq!(p.conns, vec![1, 100]);
        assert_eq!(p.reps, 1);
        assert!(!p.callgrind);
        assert_eq!(p.servers.len(), 5);
        assert_eq!(Plan::from_cli(&cli(&[])).expect("default").mode, "quick");
    }

    #[test]
    fn full_plan_and_overrides() {
        let p = Plan::from_cli(&cli(&["--full"])).expect("plan");
        assert_eq!(p.payloads, vec![20, 1024, 16384, 1 << 20]);
        assert_eq!(p.conns, vec![1, 100, 1000, 10_000]);
        assert!(p.reps >= 3);
        assert!(p.callgrind);
        assert!(p.fds_needed() > 10_000);
        let p = Plan::from_cli(&cli(&[
            "--full",
            "--no-callgrind",
            "--payloads",
            "1KiB,2",
            "--servers",
            "tcp,ours",
        ]))
        .expect("plan");
        assert!(!p.callgrind);
        assert_eq!(p.payloads, vec![1024, 2]);
        assert_eq!(p.servers, vec![ServerKind::Tcp, ServerKind::Ours]);
        assert!(Plan::from_cli(&cli(&["--servers", "nginx"])).is_err());
        assert!(Cli::try_parse_from(["ws-bench", "--quick", "--full"]).is_err());
    }

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
