//! The soak run, step by step: start our server with its own config, take its baseline, run
//! every client until the end while sampling the server, wait for its fds to come back, ask
//! `/health`, check the bounds, and publish the section.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use tokio::time::Instant;

use super::sampler::Sample;
use super::tally::Tally;
use super::{canary, churn, echo_load, rpc_abuser, slow_body, slow_reader};
use crate::bench::TempDir;
use crate::binaries::bin_path;
use crate::cli::Cli;
use crate::client::{self, Target};
use crate::error::{within, BenchError};
use crate::machine::Env;
use crate::mode::until_interrupted;
use crate::plan::SoakPlan;
use crate::report::{self, ClientOutcome, Footprint, SoakReport};
use crate::server::{Launch, ServerKind, ServerProcess};
use crate::{config, stats, workspace};

/// Bound on waiting for the clients to finish after the end (each step is bounded too).
const WIND_DOWN: Duration = Duration::from_secs(90);

/// Entry point of `--soak`: 0 when every bound held, 1 otherwise, 2 on a bad command line.
pub(crate) fn main_with(cli: &Cli) -> ExitCode {
    let plan = match SoakPlan::from_cli(cli) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ws-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let env = Env::prepare(cli, plan.fds_needed());
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
    // The server is killed (by PID) when `run` returns or is dropped.
    match rt.block_on(until_interrupted(run(cli, &plan, &env))) {
        Ok(report) => publish(cli, &report),
        Err(e) => {
            eprintln!("ws-bench: soak: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The results of the clients, gathered after the end.
#[derive(Debug, Default)]
struct Clients {
    echo: Option<echo_load::EchoLoad>,
    churn: Option<churn::Churn>,
    slow_reader: Option<slow_reader::SlowReader>,
    rpc: Option<Tally>,
    slow_body: Option<Tally>,
    canary: Option<canary::Canary>,
    /// Clients that failed or did not finish in time.
    trouble: Vec<String>,
}

/// The whole soak run; returns its report (bounds exceeded are in its failures).
async fn run(cli: &Cli, plan: &SoakPlan, env: &Env) -> Result<SoakReport, BenchError> {
    let tmp = TempDir::create()?;
    let key = format!(
        "soak-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let cfg = config::write_config(
        tmp.path(),
        &config::render_soak_config(&cli.ours_log_level, &key),
    )?;
    let bin = bin_path(cli, ServerKind::Ours);
    if !bin.is_file() {
        return Err(BenchError::Server(format!(
            "ours not built ({}); build with `cargo build --release -p ws-cli`",
            bin.display()
        )));
    }
    let mut server = ServerProcess::start(&Launch {
        kind: ServerKind::Ours,
        bin,
        config: Some(cfg),
        cwd: tmp.path().to_path_buf(),
        cpus: env.pinned.then(|| "0".to_string()),
        valgrind: None,
        tls: None,
        start_timeout: Duration::from_secs(20),
    })?;
    let pid = server.pid();
    let http = http_addr(&server).await?;
    eprintln!(
        "ws-bench: soak: started ours (pid {pid}), ws at {}, http at {http}",
        server.addr
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let baseline = Sample::read(pid)?;

    let started = Instant::now();
    let end = started + plan.duration;
    let target = |path: &str| Target {
        addr: server.addr,
        path: path.to_string(),
        raw_tcp: false,
        tls: None,
    };
    let canary = canary::spawn(
        target("/echo"),
        plan.echo_size,
        plan.canary_period,
        end.into_std(),
    )?;
    let echo = tokio::spawn(echo_load::run(
        target("/echo"),
        plan.echo_conns,
        plan.echo_size,
        plan.echo_period,
        end,
    ));
    let churn = tokio::spawn(churn::run(target("/echo"), plan.churn_per_sec, end));
    let slow = tokio::spawn(slow_reader::run(target("/chat"), http, key, end));
    let rpc = tokio::spawn(rpc_abuser::run(target("/rpc"), end));
    let bodies = tokio::spawn(slow_body::run(http, plan.slow_bodies, end));

    let mut failures = Vec::new();
    let mut samples = vec![baseline];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while tokio::time::timeout_at(end, tick.tick()).await.is_ok() {
        if let Err(e) = server.check_alive() {
            failures.push(format!("the server died during the run: {e}"));
            break;
        }
        if let Ok(s) = Sample::read(pid) {
            samples.push(s);
            let t = started.elapsed().as_secs();
            if t.is_multiple_of(10) {
                eprintln!(
                    "ws-bench: soak: {t:>4} s: rss {:.1} MiB, fds {}, threads {}",
                    s.rss_kib as f64 / 1024.0,
                    s.fds,
                    s.threads
                );
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!("ws-bench: soak: clients stopping");

    let mut clients = Clients::default();
    let wind_down = Instant::now() + WIND_DOWN;
    clients.echo = join(&mut clients.trouble, "echo load", wind_down, echo).await;
    clients.churn = join(&mut clients.trouble, "churn", wind_down, churn).await;
    clients.slow_reader = join(&mut clients.trouble, "slow reader", wind_down, slow).await;
    clients.rpc = join(&mut clients.trouble, "JSON-RPC abuser", wind_down, rpc).await;
    clients.slow_body = join(&mut clients.trouble, "slow bodies", wind_down, bodies).await;
    while !canary.is_finished() && Instant::now() < wind_down {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if canary.is_finished() {
        match canary.join() {
            Ok(Ok(c)) => clients.canary = Some(c),
            Ok(Err(e)) => clients.trouble.push(format!("canary: {e}")),
            Err(_) => clients.trouble.push("canary: its thread panicked".into()),
        }
    } else {
        clients
            .trouble
            .push("canary: did not finish in time".into());
    }
    if let Ok(s) = Sample::read(pid) {
        samples.push(s);
    }

    // Leak check: the server's fds back near the baseline, within a bounded wait.
    let fd_deadline = Instant::now() + plan.fd_wait;
    let mut last = Sample::read(pid).unwrap_or_default();
    while last.fds > baseline.fds + plan.fd_slack && Instant::now() < fd_deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        last = Sample::read(pid).unwrap_or(last);
    }
    let health = health(&mut server, http).await;
    let report = summarize(
        plan,
        env,
        secs,
        Footprint3::new(baseline, Sample::peak(&samples), last),
        clients,
        health,
        failures,
    );
    drop(server); // kills it
    Ok(report)
}

/// The `http` server's address, from its listening line (bounded wait).
async fn http_addr(server: &ServerProcess) -> Result<SocketAddr, BenchError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(a) = server.listening_addr("http") {
            return Ok(a);
        }
        if Instant::now() >= deadline {
            return Err(BenchError::Server(format!(
                "ours printed no `http listening at ws://IP:PORT` line{}",
                server.tail_text()
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for a client task until `deadline`; a task that failed or is late is noted in
/// `trouble` (and aborted).
async fn join<T>(
    trouble: &mut Vec<String>,
    what: &str,
    deadline: Instant,
    mut task: tokio::task::JoinHandle<T>,
) -> Option<T> {
    match tokio::time::timeout_at(deadline, &mut task).await {
        Ok(Ok(r)) => Some(r),
        Ok(Err(e)) => {
            trouble.push(format!("{what}: task failed: {e}"));
            None
        }
        Err(_) => {
            task.abort();
            trouble.push(format!("{what}: did not finish in time"));
            None
        }
    }
}

/// After the run: the server still alive and `GET /health` on `http` answering 200 `ok`.
async fn health(server: &mut ServerProcess, http: SocketAddr) -> Result<(), String> {
    server.check_alive().map_err(|e| format!("died: {e}"))?;
    let resp = within(Duration::from_secs(5), "GET /health", async {
        let mut s = client::connect_tcp_with(http, None, None).await?;
        client::request(&mut s, "GET", "/health", &[("Connection", "close")], &[]).await
    })
    .await
    .map_err(|e| format!("GET /health: {e}"))?;
    let body = String::from_utf8_lossy(&resp.body);
    if resp.status == 200 && body.trim() == "ok" {
        Ok(())
    } else {
        Err(format!("GET /health: {} {:?}", resp.status, body.trim()))
    }
}

/// Baseline, peak and final reading of the server.
#[derive(Debug, Clone, Copy)]
struct Footprint3 {
    baseline: Sample,
    peak: Sample,
    last: Sample,
}

impl Footprint3 {
    fn new(baseline: Sample, peak: Sample, last: Sample) -> Self {
        Footprint3 {
            baseline,
            peak,
            last,
        }
    }

    fn of(&self, f: fn(&Sample) -> u64) -> Footprint {
        Footprint {
            baseline: f(&self.baseline),
            peak: f(&self.peak).max(f(&self.last)),
            last: f(&self.last),
        }
    }
}

/// The report: figures, outcomes, and the bounds checked.
fn summarize(
    plan: &SoakPlan,
    env: &Env,
    secs: f64,
    footprint: Footprint3,
    clients: Clients,
    health: Result<(), String>,
    mut failures: Vec<String>,
) -> SoakReport {
    let rss_kib = footprint.of(|s| s.rss_kib);
    let fds = footprint.of(|s| s.fds);
    let threads = footprint.of(|s| s.threads);
    let max_p99_ms = plan.max_p99.as_secs_f64() * 1e3;
    let mut outcomes = Vec::new();
    let mut extra = Vec::new();
    let (mut canary_round_trips, mut canary_errors, mut canary_ms) = (0, 0, None);
    if let Some(c) = &clients.canary {
        let mut ns = c.samples_ns.clone();
        canary_round_trips = ns.len();
        canary_errors = c.errors.total();
        if let Some((p50, p99)) = stats::p50_p99(&mut ns) {
            let max = ns.last().copied().unwrap_or(p99);
            canary_ms = Some((p50 as f64 / 1e6, p99 as f64 / 1e6, max as f64 / 1e6));
        }
        add(&mut outcomes, "canary", &c.errors);
    }
    if let Some(e) = &clients.echo {
        outcomes.push(ClientOutcome {
            client: "echo load".into(),
            outcome: format!(
                "verified round trips on {} connections",
                report::fmt_count(e.conns)
            ),
            count: e.round_trips,
            max_secs: None,
        });
        add(&mut outcomes, "echo load", &e.errors);
    }
    if let Some(c) = &clients.churn {
        add(&mut outcomes, "churn", &c.cycles);
        if c.skipped > 0 {
            outcomes.push(ClientOutcome {
                client: "churn".into(),
                outcome: "skipped: 64 cycles already in flight".into(),
                count: c.skipped,
                max_secs: None,
            });
        }
    }
    if let Some(s) = &clients.slow_reader {
        add(&mut outcomes, "slow reader", &s.ended);
        extra.push((
            "slow reader: most bytes one connection drained after its stall (what the server \
             and the socket buffers held for it)"
                .to_string(),
            report::fmt_count(usize::try_from(s.max_drained).unwrap_or(usize::MAX)),
        ));
        add(
            &mut outcomes,
            "slow reader's feeder (`POST /push`)",
            &s.pushes,
        );
    }
    if let Some(t) = &clients.rpc {
        add(&mut outcomes, "JSON-RPC abuser", t);
    }
    if let Some(t) = &clients.slow_body {
        add(&mut outcomes, "slow body (`POST /push`)", t);
    }

    if rss_kib.peak > plan.max_rss_kib {
        failures.push(format!(
            "server peak RSS {:.1} MiB exceeds the bound of {} MiB (--soak-max-rss-mib)",
            rss_kib.peak as f64 / 1024.0,
            plan.max_rss_kib / 1024
        ));
    }
    match canary_ms {
        Some((_, p99, _)) if p99 > max_p99_ms => failures.push(format!(
            "canary p99 round trip {p99:.2} ms exceeds the bound of {max_p99_ms} ms (--soak-max-p99-ms)"
        )),
        Some(_) => {}
        None => failures.push("the canary measured no round trip".into()),
    }
    if canary_errors > 0 {
        failures.push(format!(
            "the canary saw {canary_errors} error(s): {}",
            clients
                .canary
                .as_ref()
                .map(|c| {
                    c.errors
                        .snapshot()
                        .into_iter()
                        .map(|(l, o)| format!("{l} ×{}", o.count))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        ));
    }
    if fds.last > fds.baseline + plan.fd_slack {
        failures.push(format!(
            "server fds {} not back within {} of the baseline {} after {} s (leak?)",
            fds.last,
            plan.fd_slack,
            fds.baseline,
            plan.fd_wait.as_secs()
        ));
    }
    if let Err(e) = &health {
        failures.push(format!("server after the run: {e}"));
    }
    failures.extend(clients.trouble.iter().map(|t| format!("client {t}")));

    SoakReport {
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
        machine: env.line(),
        secs,
        clients: client_lines(plan),
        rss_kib,
        fds,
        threads,
        max_rss_kib: plan.max_rss_kib,
        fd_slack: plan.fd_slack,
        fd_wait_secs: plan.fd_wait.as_secs(),
        canary_round_trips,
        canary_errors,
        canary_ms,
        canary_period_ms: u64::try_from(plan.canary_period.as_millis()).unwrap_or(u64::MAX),
        max_p99_ms,
        health: match health {
            Ok(()) => "alive, 200 ok".into(),
            Err(e) => format!("**{e}**"),
        },
        extra,
        outcomes,
        failures,
    }
}

/// Adds one outcome line per label of `tally`.
fn add(outcomes: &mut Vec<ClientOutcome>, client: &str, tally: &Tally) {
    for (outcome, o) in tally.snapshot() {
        outcomes.push(ClientOutcome {
            client: client.to_string(),
            outcome,
            count: o.count,
            max_secs: Some(o.max_secs),
        });
    }
}

/// What ran, one line per client kind.
fn client_lines(plan: &SoakPlan) -> Vec<String> {
    vec![
        format!(
            "echo load: {} connections to `/echo`, each one {} B message every {} ms, every echo checked byte for byte",
            report::fmt_count(plan.echo_conns),
            plan.echo_size,
            plan.echo_period.as_millis()
        ),
        format!(
            "churn: {} connect + upgrade + close cycles a second on `/echo` (at most 64 in flight)",
            plan.churn_per_sec
        ),
        "slow reader: a `/chat` client with a 4 KiB receive buffer joins a room and reads nothing for 5 s while `POST /push` (right key) sends 64 KiB to every `/chat` connection every 50 ms; then it drains for up to 10 s and the way its connection ended is counted; over again".into(),
        "JSON-RPC abuser: on `/rpc`, a 4 MiB batch `[1,1,...]` (2 million requests), invalid JSON, every 0.5 s, and every 20th time also a batch of 1,000 `echo`s of 1,400 `1e9`s each (5.6 MB whose reply would be about 18 MB); re-opened when closed".into(),
        format!(
            "slow bodies: {} at a time on `POST /push` with a wrong key: 64 KiB trickled at 4 B/s, 8 MiB announced and trickled, 8 MiB at full speed; each attempt given up after 20 s",
            plan.slow_bodies
        ),
        format!(
            "canary: one `/echo` connection on its own thread, one {} B message every {} ms, round trip timed",
            plan.echo_size,
            plan.canary_period.as_millis()
        ),
    ]
}

/// Prints the section, writes it into `BENCHMARKS.md` (unless `--no-write`) and lists the
/// failures: the exit code is a failure if there are any or if the file cannot be written.
fn publish(cli: &Cli, report: &SoakReport) -> ExitCode {
    let md = report::render_soak_markdown(report);
    println!("{md}");
    if !cli.no_write {
        let out = cli.output.clone().unwrap_or_else(workspace::default_output);
        let old = std::fs::read_to_string(&out).unwrap_or_default();
        match std::fs::write(&out, report::splice_soak_section(&old, &md)) {
            Ok(()) => eprintln!("ws-bench: wrote the soak section of {}", out.display()),
            Err(e) => {
                eprintln!("ws-bench: cannot write {}: {e}", out.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if report.failures.is_empty() {
        eprintln!("ws-bench: soak: every bound held");
        ExitCode::SUCCESS
    } else {
        eprintln!("ws-bench: soak: {} failure(s):", report.failures.len());
        for f in &report.failures {
            eprintln!("  - {f}");
        }
        ExitCode::FAILURE
    }
}
