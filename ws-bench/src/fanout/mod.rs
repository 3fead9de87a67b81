//! `--fanout`: broadcast fan-out measured with a load generator that is not the bottleneck.
//!
//! The receivers are held by `--fanout-procs` client processes (this binary again, with
//! `--fanout-client`; [`client`]), each reading its share, unpinned; the server is pinned to
//! CPU 0 (or, for the row that says so, to both cores). `--fanout-publishes` messages are
//! pushed one after the other through `POST /push` (ws-cli's demo route; the uWebSockets.js
//! peer in `ws-bench/uws` has the same route, doing `app.publish`), each timed from just
//! before the request until the last receiver of every process had it (wall clock, which
//! all processes of the machine share). Server CPU and the client processes' CPU over all
//! publishes are divided by the deliveries (publishes × receivers). With valgrind, ours also
//! runs under callgrind: instructions per delivered message, the figure that does not move
//! with the machine's load.

mod client;
mod scale_client;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use crate::bench::TempDir;
use crate::binaries::bin_path;
use crate::cli::Cli;
use crate::error::{within, BenchError};
use crate::machine::Env;
use crate::mode::{finish_section, until_interrupted};
use crate::server::{taskset_available, Launch, ServerKind, ServerProcess, Valgrind};
use crate::{callgrind, config, procfs, report, workspace};

pub(crate) use client::main_with as client_main;
pub(crate) use scale_client::main_with as scale_client_main;

/// The heading of the section this mode writes into `BENCHMARKS.md`.
pub(crate) const FANOUT_HEADING: &str = "## Fan-out";

/// Receivers of the callgrind run, and its publishes.
const CALLGRIND_RECEIVERS: usize = 1_000;
const CALLGRIND_PUBLISHES: u64 = 20;

/// The `secret_key` of `POST /push` on ours.
const KEY: &str = "fanout-bench-key";

/// Which server a row measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    Ours,
    Uws,
}

/// One server on some cores.
#[derive(Debug, Clone)]
struct Side {
    peer: Peer,
    /// `taskset -c` list.
    cpus: &'static str,
}

impl Side {
    fn label(&self) -> String {
        let who = match self.peer {
            Peer::Ours => "ws-cli (ours)",
            Peer::Uws => "uWebSockets.js 20.30 (`publish`)",
        };
        let cores = if self.cpus.contains(',') {
            "CPUs 0-1"
        } else {
            "CPU 0"
        };
        format!("{who}, {cores}")
    }
}

/// One measured row.
#[derive(Debug, Clone)]
struct Row {
    label: String,
    receivers: usize,
    /// Publish → last receipt, ms, per publish.
    times_ms: Vec<f64>,
    server_us: Option<f64>,
    clients_us: Option<f64>,
    /// 1-minute load average when the row started.
    load: String,
}

/// A running server of this mode: its addresses, and the process (killed when dropped).
struct Running {
    ws: SocketAddr,
    http: SocketAddr,
    pid: u32,
    _process: Process,
}

enum Process {
    Ours(ServerProcess),
    // Held so that it is killed when the row ends.
    Node(#[allow(dead_code)] Killed),
}

/// A child process killed (by its PID) and reaped when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Entry point of `--fanout`.
pub(crate) fn main_with(cli: &Cli) -> ExitCode {
    let max = cli.fanout_receivers.iter().copied().max().unwrap_or(0);
    // The clients are not pinned: they inherit this process's mask.
    let mut unpinned = cli.clone();
    unpinned.no_pin = true;
    let env = Env::prepare(&unpinned, max.saturating_add(4_096));
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
    let result = rt.block_on(until_interrupted(run(cli, &env)));
    finish_section(cli, FANOUT_HEADING, "fan-out", result)
}

/// Where the uWebSockets.js peer is: `--uws-dir`, else `ws-bench/uws` when its
/// `node_modules` is installed.
fn uws_dir(cli: &Cli) -> Option<PathBuf> {
    let dir = cli
        .uws_dir
        .clone()
        .unwrap_or_else(|| workspace::root().join("ws-bench/uws"));
    dir.join("node_modules/@trufflesuite/uws-js-unofficial")
        .is_dir()
        .then_some(dir)
}

async fn run(cli: &Cli, env: &Env) -> Result<String, BenchError> {
    let tmp = TempDir::create()?;
    let uws = uws_dir(cli);
    let pin = taskset_available() && env.cores >= 2;
    let mut sides = vec![Side {
        peer: Peer::Ours,
        cpus: "0",
    }];
    if pin {
        sides.push(Side {
            peer: Peer::Ours,
            cpus: "0,1",
        });
    }
    if uws.is_some() {
        sides.push(Side {
            peer: Peer::Uws,
            cpus: "0",
        });
    }
    let mut rows = Vec::new();
    for &n in &cli.fanout_receivers {
        for _ in 0..cli.fanout_reps.max(1) {
            for side in &sides {
                let load = procfs::read_trimmed("/proc/loadavg")
                    .and_then(|l| l.split_whitespace().next().map(str::to_owned))
                    .unwrap_or_default();
                let server = start(cli, side, pin, tmp.path(), uws.as_deref(), None)?;
                let (times_ms, server_us, clients_us) =
                    measure(cli, &server, n, cli.fanout_publishes).await?;
                eprintln!(
                    "ws-bench: fan-out {} to {n}: p50 {:.1} ms, p99 {:.1} ms, server {:.2} us, clients {:.2} us per delivery",
                    side.label(),
                    percentile(&times_ms, 50.0).unwrap_or(f64::NAN),
                    percentile(&times_ms, 99.0).unwrap_or(f64::NAN),
                    server_us.unwrap_or(f64::NAN),
                    clients_us.unwrap_or(f64::NAN),
                );
                rows.push(Row {
                    label: side.label(),
                    receivers: n,
                    times_ms,
                    server_us,
                    clients_us,
                    load,
                });
            }
        }
    }
    let instructions = if cli.no_callgrind {
        None
    } else {
        Some(callgrind_figure(cli, tmp.path()).await)
    };
    Ok(render(cli, env, &rows, instructions))
}

/// Starts a server of `side` (ours under valgrind with `valgrind`).
fn start(
    cli: &Cli,
    side: &Side,
    pin: bool,
    dir: &Path,
    uws: Option<&Path>,
    valgrind: Option<(Valgrind, PathBuf)>,
) -> Result<Running, BenchError> {
    match side.peer {
        Peer::Ours => {
            let cwd = dir.join(format!("ours-{}", side.cpus.replace(',', "-")));
            let cfg =
                config::write_config(&cwd, &config::render_soak_config(&cli.ours_log_level, KEY))?;
            let process = ServerProcess::start(&Launch {
                kind: ServerKind::Ours,
                bin: bin_path(cli, ServerKind::Ours),
                config: Some(cfg),
                cwd,
                cpus: pin.then(|| side.cpus.to_string()),
                valgrind,
                tls: None,
                start_timeout: Duration::from_secs(60),
            })?;
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            let http = loop {
                if let Some(a) = process.listening_addr("http") {
                    break a;
                }
                if std::time::Instant::now() >= deadline {
                    return Err(BenchError::Server(format!(
                        "ours printed no `http listening at` line{}",
                        process.tail_text()
                    )));
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            Ok(Running {
                ws: process.addr,
                http,
                pid: process.pid(),
                _process: Process::Ours(process),
            })
        }
        Peer::Uws => {
            let dir =
                uws.ok_or_else(|| BenchError::Server("uWebSockets.js not installed".into()))?;
            let mut cmd = if pin {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(side.cpus).arg("node");
                c
            } else {
                Command::new("node")
            };
            let mut child = cmd
                .arg("fanout-server.js")
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| BenchError::Server(format!("spawn node: {e}")))?;
            let pid = child.id();
            let stdout = child.stdout.take();
            let child = Killed(child);
            let mut line = String::new();
            if let Some(out) = stdout {
                BufReader::new(out).read_line(&mut line)?;
            }
            let addr: SocketAddr = line
                .trim()
                .strip_prefix("listening at ws://")
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| BenchError::Server(format!("node said {line:?}")))?;
            Ok(Running {
                ws: addr,
                http: addr,
                pid,
                _process: Process::Node(child),
            })
        }
    }
}

/// The client processes of one measurement and their output lines `(process, line)`.
struct Clients {
    procs: Vec<Killed>,
    lines: UnboundedReceiver<(usize, String)>,
}

impl Clients {
    fn spawn(cli: &Cli, ws: SocketAddr, n: usize, publishes: u64) -> Result<Self, BenchError> {
        let exe = std::env::current_exe()?;
        let k = usize::try_from(cli.fanout_procs)
            .unwrap_or(1)
            .clamp(1, n.max(1));
        let (tx, lines) = unbounded_channel();
        let mut procs = Vec::with_capacity(k);
        for i in 0..k {
            let share = n / k + usize::from(i < n % k);
            let mut child = Command::new(&exe)
                .arg("--fanout-client")
                .arg(ws.to_string())
                .arg("--fanout-client-conns")
                .arg(share.to_string())
                .arg("--fanout-publishes")
                .arg(publishes.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()?;
            if let Some(out) = child.stdout.take() {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for line in BufReader::new(out).lines() {
                        let Ok(line) = line else { break };
                        if tx.send((i, line)).is_err() {
                            break;
                        }
                    }
                });
            }
            procs.push(Killed(child));
        }
        Ok(Self { procs, lines })
    }

    fn cpu_ticks(&self) -> Option<u64> {
        self.procs
            .iter()
            .map(|p| procfs::read_cpu_ticks(p.0.id()))
            .sum()
    }

    /// Waits for a line starting with `prefix` from every process; returns the rest of each.
    async fn lines_from_each(
        &mut self,
        prefix: &str,
        within_: Duration,
    ) -> Result<Vec<String>, BenchError> {
        let k = self.procs.len();
        let mut got: Vec<Option<String>> = vec![None; k];
        within(within_, prefix, async {
            while got.iter().any(Option::is_none) {
                let (i, line) = self
                    .lines
                    .recv()
                    .await
                    .ok_or_else(|| BenchError::Echo("a fan-out client process ended".into()))?;
                if let Some(rest) = line.strip_prefix(prefix) {
                    got[i] = Some(rest.trim().to_owned());
                }
            }
            Ok(())
        })
        .await?;
        Ok(got.into_iter().flatten().collect())
    }
}

/// `publishes` pushes to `n` receivers on `server`: the times (ms), and server and client
/// CPU per delivery (µs).
async fn measure(
    cli: &Cli,
    server: &Running,
    n: usize,
    publishes: u64,
) -> Result<(Vec<f64>, Option<f64>, Option<f64>), BenchError> {
    let mut clients = Clients::spawn(cli, server.ws, n, publishes)?;
    clients
        .lines_from_each(
            "ready",
            Duration::from_secs(120) + Duration::from_millis(n as u64 * 5),
        )
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut http = TcpStream::connect(server.http).await?;
    http.set_nodelay(true)?;
    let auth = format!("Bearer {KEY}");
    let headers = [("Authorization", auth.as_str())];
    let clk = procfs::clock_ticks_per_sec();
    let (server0, clients0) = (procfs::read_cpu_ticks(server.pid), clients.cpu_ticks());
    let mut times_ms = Vec::new();
    for seq in 0..publishes {
        let body = format!("fanout-{seq} from ws-bench");
        let t0 = client::now_ns();
        let response = within(
            Duration::from_secs(30),
            "POST /push",
            crate::client::request(&mut http, "POST", "/push", &headers, body.as_bytes()),
        )
        .await?;
        if response.status != 200 {
            return Err(BenchError::Echo(format!(
                "POST /push answered {}",
                response.status
            )));
        }
        let lasts = clients
            .lines_from_each(
                &format!("got {seq} "),
                Duration::from_secs(30) + Duration::from_millis(n as u64),
            )
            .await?;
        let last = lasts
            .iter()
            .filter_map(|l| l.parse::<u64>().ok())
            .max()
            .unwrap_or(t0);
        times_ms.push(last.saturating_sub(t0) as f64 / 1e6);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (server1, clients1) = (procfs::read_cpu_ticks(server.pid), clients.cpu_ticks());
    let deliveries = publishes as f64 * n as f64;
    let per = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) if deliveries > 0.0 && clk > 0 => {
            Some(b.saturating_sub(a) as f64 * 1e6 / clk as f64 / deliveries)
        }
        _ => None,
    };
    Ok((times_ms, per(server0, server1), per(clients0, clients1)))
}

/// Callgrind instructions of ours per delivered message: a run with
/// [`CALLGRIND_PUBLISHES`] publishes to [`CALLGRIND_RECEIVERS`] minus one with none.
async fn callgrind_figure(cli: &Cli, dir: &Path) -> Result<f64, String> {
    let side = Side {
        peer: Peer::Ours,
        cpus: "0",
    };
    let mut totals = Vec::new();
    for publishes in [0, CALLGRIND_PUBLISHES] {
        let out = dir.join(format!("callgrind.fanout.{publishes}.out"));
        let server = start(
            cli,
            &side,
            false,
            dir,
            None,
            Some((Valgrind::Callgrind, out.clone())),
        )
        .map_err(|e| e.to_string())?;
        if publishes > 0 {
            measure(cli, &server, CALLGRIND_RECEIVERS, publishes)
                .await
                .map_err(|e| e.to_string())?;
        } else {
            // The same connections, opened and held, with nothing pushed.
            let mut clients = Clients::spawn(cli, server.ws, CALLGRIND_RECEIVERS, 1)
                .map_err(|e| e.to_string())?;
            clients
                .lines_from_each("ready", Duration::from_secs(300))
                .await
                .map_err(|e| e.to_string())?;
            let mut http = TcpStream::connect(server.http)
                .await
                .map_err(|e| e.to_string())?;
            // One request, as the measured run makes, without a broadcast: a wrong key.
            let _ = crate::client::request(&mut http, "POST", "/push", &[], b"x").await;
            drop(clients);
        }
        let Running { _process, .. } = server;
        if let Process::Ours(p) = _process {
            p.terminate(Duration::from_secs(60))
                .map_err(|e| e.to_string())?;
        }
        if let Some(keep) = &cli.keep_valgrind {
            let _ = std::fs::create_dir_all(keep);
            let _ = std::fs::copy(&out, keep.join(format!("callgrind.fanout.{publishes}.out")));
        }
        let text = std::fs::read_to_string(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        totals.push(callgrind::parse_total_ir(&text).ok_or("no totals in the callgrind output")?);
    }
    let deliveries = CALLGRIND_PUBLISHES * CALLGRIND_RECEIVERS as u64;
    callgrind::per_message(totals[1], totals[0], deliveries)
        .ok_or_else(|| format!("instruction counts {totals:?}"))
}

fn ms(v: Option<f64>) -> String {
    v.map_or("–".into(), report::fmt_num)
}

fn render(cli: &Cli, env: &Env, rows: &[Row], instructions: Option<Result<f64, String>>) -> String {
    let mut md = String::new();
    md.push_str(&format!(
        "{FANOUT_HEADING}\n\nBroadcast fan-out through `POST /push`, {} publishes per row, {} client processes (unpinned). Generated {} by `cargo run --release -p ws-bench -- --fanout{}` on {}.\n\n",
        cli.fanout_publishes,
        cli.fanout_procs,
        report::fmt_utc(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        ),
        if cli.fanout_receivers == [1_000, 10_000] {
            String::new()
        } else {
            format!(
                " --fanout-receivers {}",
                cli.fanout_receivers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        },
        env.line().replace(", not pinned", ""),
    ));
    md.push_str(&format!(
        "Each row: the median over {} repetition(s) (servers alternated within each) of each repetition's p50 and p99 of the time from a publish to its last receipt, and of the server's and the client processes' CPU per delivered message, with the range of the server's over the repetitions.\n\n",
        cli.fanout_reps.max(1)
    ));
    md.push_str("| server | receivers | publish → last receipt p50 / p99, ms | server CPU per delivered message, µs (range) | clients' CPU per delivered message, µs | load average at start |\n|---|---:|---:|---:|---:|---:|\n");
    let mut groups: Vec<(&str, usize)> = Vec::new();
    for r in rows {
        if !groups.contains(&(r.label.as_str(), r.receivers)) {
            groups.push((r.label.as_str(), r.receivers));
        }
    }
    for (label, receivers) in groups {
        let reps: Vec<&Row> = rows
            .iter()
            .filter(|r| r.label == label && r.receivers == receivers)
            .collect();
        let med = |f: &dyn Fn(&Row) -> Option<f64>| {
            let v: Vec<f64> = reps.iter().filter_map(|r| f(r)).collect();
            percentile(&v, 50.0)
        };
        let servers: Vec<f64> = reps.iter().filter_map(|r| r.server_us).collect();
        let range = match (
            servers.iter().copied().reduce(f64::min),
            servers.iter().copied().reduce(f64::max),
        ) {
            (Some(a), Some(b)) => format!(" ({}–{})", report::fmt_num(a), report::fmt_num(b)),
            _ => String::new(),
        };
        let loads: Vec<&str> = reps.iter().map(|r| r.load.as_str()).collect();
        md.push_str(&format!(
            "| {label} | {} | {} / {} | {}{range} | {} | {} |\n",
            report::fmt_count(receivers),
            ms(med(&|r| percentile(&r.times_ms, 50.0))),
            ms(med(&|r| percentile(&r.times_ms, 99.0))),
            ms(med(&|r| r.server_us)),
            ms(med(&|r| r.clients_us)),
            loads.join(", "),
        ));
    }
    match instructions {
        Some(Ok(ir)) => md.push_str(&format!(
            "\nCallgrind instructions per delivered message (ours, user space only: {} publishes to {} receivers minus the same connections with none): **{}**.\n",
            CALLGRIND_PUBLISHES,
            report::fmt_count(CALLGRIND_RECEIVERS),
            report::fmt_num(ir)
        )),
        Some(Err(e)) => md.push_str(&format!("\nCallgrind: not measured ({e}).\n")),
        None => {}
    }
    md
}

/// Nearest-rank percentile `p` of `values`.
fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    sorted.get(rank.clamp(1, n) - 1).copied()
}

/// The heading of the section `--scale` writes.
pub(crate) const SCALE_HEADING: &str = "## Scale";

/// One row of `--scale`.
#[derive(Debug, Clone)]
struct ScaleRow {
    asked: usize,
    opened: usize,
    refused: usize,
    open_ms: u64,
    rss_kib_per_conn: Option<f64>,
    rss_mib: Option<f64>,
    fds: Option<u64>,
    echoes: u64,
    window: Duration,
    p50_us: u64,
    p99_us: u64,
    errors: u64,
    cpu_us: Option<f64>,
}

/// Entry point of `--scale`.
pub(crate) fn scale_main(cli: &Cli) -> ExitCode {
    let mut unpinned = cli.clone();
    unpinned.no_pin = true;
    let env = Env::prepare(&unpinned, 4_096);
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
    let result = rt.block_on(until_interrupted(scale_run(cli, &env)));
    finish_section(cli, SCALE_HEADING, "scale", result)
}

async fn scale_run(cli: &Cli, env: &Env) -> Result<String, BenchError> {
    let tmp = TempDir::create()?;
    let pin = taskset_available() && env.cores >= 2;
    let side = Side {
        peer: Peer::Ours,
        cpus: "0",
    };
    let window = Duration::from_millis(cli.scale_window_ms);
    let mut rows = Vec::new();
    let mut limits = String::new();
    for &n in &cli.scale_conns {
        let server = start(cli, &side, pin, tmp.path(), None, None)?;
        if limits.is_empty() {
            limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid))
                .ok()
                .and_then(|l| {
                    l.lines()
                        .find(|l| l.starts_with("Max open files"))
                        .map(|l| {
                            l.split_whitespace()
                                .skip(3)
                                .take(2)
                                .collect::<Vec<_>>()
                                .join(" / ")
                        })
                })
                .unwrap_or_default();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rss0 = procfs::read_rss_kib(server.pid);
        let exe = std::env::current_exe()?;
        let k = usize::try_from(cli.fanout_procs)
            .unwrap_or(1)
            .clamp(1, n.max(1));
        let (tx, lines) = unbounded_channel();
        let mut procs = Vec::with_capacity(k);
        let mut stdins = Vec::with_capacity(k);
        for i in 0..k {
            let share = n / k + usize::from(i < n % k);
            let mut child = Command::new(&exe)
                .arg("--scale-client")
                .arg(server.ws.to_string())
                .arg("--fanout-client-conns")
                .arg(share.to_string())
                .arg("--scale-window-ms")
                .arg(cli.scale_window_ms.to_string())
                .arg("--client-source")
                .arg(format!("127.0.0.{}", 2 + i % 250))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()?;
            stdins.push(child.stdin.take());
            if let Some(out) = child.stdout.take() {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for line in BufReader::new(out).lines() {
                        let Ok(line) = line else { break };
                        if tx.send((i, line)).is_err() {
                            break;
                        }
                    }
                });
            }
            procs.push(Killed(child));
        }
        let mut clients = Clients { procs, lines };
        let ready = clients
            .lines_from_each("ready ", Duration::from_secs(600))
            .await?;
        let mut row = ScaleRow {
            asked: n,
            opened: 0,
            refused: 0,
            open_ms: 0,
            rss_kib_per_conn: None,
            rss_mib: None,
            fds: None,
            echoes: 0,
            window,
            p50_us: 0,
            p99_us: 0,
            errors: 0,
            cpu_us: None,
        };
        for r in &ready {
            let f: Vec<u64> = r
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            if let [opened, refused, ms] = f[..] {
                row.opened += opened as usize;
                row.refused += refused as usize;
                row.open_ms = row.open_ms.max(ms);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss1 = procfs::read_rss_kib(server.pid);
        row.fds = procfs::read_fd_count(server.pid);
        if let (Some(a), Some(b)) = (rss0, rss1) {
            row.rss_mib = Some(b as f64 / 1024.0);
            if row.opened > 0 {
                row.rss_kib_per_conn = Some(b.saturating_sub(a) as f64 / row.opened as f64);
            }
        }
        let clk = procfs::clock_ticks_per_sec();
        let cpu0 = procfs::read_cpu_ticks(server.pid);
        for s in stdins.iter_mut().flatten() {
            use std::io::Write;
            let _ = s.write_all(b"go\n");
            let _ = s.flush();
        }
        let echoes = clients
            .lines_from_each("echo ", window + Duration::from_secs(120))
            .await?;
        let cpu1 = procfs::read_cpu_ticks(server.pid);
        let mut p50s = Vec::new();
        for e in &echoes {
            let f: Vec<u64> = e
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            if let [count, p50, p99, errors] = f[..] {
                row.echoes += count;
                p50s.push(p50 as f64);
                row.p99_us = row.p99_us.max(p99);
                row.errors += errors;
            }
        }
        row.p50_us = percentile(&p50s, 50.0).unwrap_or(0.0) as u64;
        if let (Some(a), Some(b)) = (cpu0, cpu1) {
            if row.echoes > 0 && clk > 0 {
                row.cpu_us =
                    Some(b.saturating_sub(a) as f64 * 1e6 / clk as f64 / row.echoes as f64);
            }
        }
        eprintln!("ws-bench: scale {n}: {row:?}");
        rows.push(row);
        drop(clients);
        drop(server);
    }
    Ok(render_scale(cli, env, &rows, &limits))
}

fn render_scale(cli: &Cli, env: &Env, rows: &[ScaleRow], limits: &str) -> String {
    let mut md = format!(
        "{SCALE_HEADING}\n\nOurs (the demo, default config: `fd_reserve = 64`, no `max_connections`) pinned to CPU 0, the connections to `/echo` opened by {} client processes (unpinned), 64 handshakes in flight in each, each process from its own loopback source address (127.0.0.2, .3, ...). Generated {} by `cargo run --release -p ws-bench -- --scale{}` on {}. The server's `RLIMIT_NOFILE` (soft / hard): {limits}.\n\n",
        cli.fanout_procs,
        report::fmt_utc(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        ),
        if cli.scale_conns == [10_000, 20_000] {
            String::new()
        } else {
            format!(
                " --scale-conns {}",
                cli.scale_conns.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
            )
        },
        env.line().replace(", not pinned", ""),
    );
    md.push_str("| connections asked for | opened | refused (503) | handshakes/s to get there | server RSS, MiB | RSS per connection, KiB | server fds | echo 20 B, msg/s | echo p50 / p99, ms | server CPU per echo, µs | echo errors |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        let rate = if r.open_ms > 0 {
            report::fmt_num((r.opened + r.refused) as f64 * 1000.0 / r.open_ms as f64)
        } else {
            "–".into()
        };
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} |\n",
            report::fmt_count(r.asked),
            report::fmt_count(r.opened),
            report::fmt_count(r.refused),
            rate,
            ms(r.rss_mib),
            ms(r.rss_kib_per_conn),
            r.fds.map_or("–".into(), |f| report::fmt_count(f as usize)),
            report::fmt_num(r.echoes as f64 / r.window.as_secs_f64()),
            report::fmt_num(r.p50_us as f64 / 1e3),
            report::fmt_num(r.p99_us as f64 / 1e3),
            ms(r.cpu_us),
            r.errors,
        ));
    }
    md.push_str(&format!(
        "\nEcho: every connection sends 20 B and awaits the echo, repeatedly, for {} ms; p50 is the median of the client processes' medians, p99 the largest of their p99s. RSS per connection: the server's VmRSS after the connections were opened (each idle, no message yet) minus before, ÷ opened. Handshakes/s: connections attempted ÷ the longest client process's opening time (connect + upgrade, 64 at a time per process). The server, on one core, is saturated by the echo load: the mean round trip is connections ÷ msg/s (Little's law), and a p99 far above the p50 means some connections wait much longer than most.\n",
        cli.scale_window_ms
    ));
    md
}
