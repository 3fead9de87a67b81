//! From the measurements to the [`Report`]: the per-server metric rows, the notes that
//! explain the figures, the run's settings, the machine facts and versions.

use std::time::Instant;

use crate::bench::Bench;
use crate::cli::Cli;
use crate::machine::{self, Env};
use crate::measure::{CALLGRIND_MESSAGES, MAX_BYTES_IN_FLIGHT};
use crate::plan::Plan;
use crate::report::{self, Column, ColumnStatus, Entry, MetricRow, Report, Row};
use crate::server::ServerKind;
use crate::slot::Slot;
use crate::stats;

/// What a run measured, one entry (or list) per server column unless said otherwise.
#[derive(Debug)]
pub(crate) struct Measured {
    /// The echo matrix, one row per payload × connections.
    pub(crate) rows: Vec<Row>,
    /// Server RSS per idle connection, KiB: one row per count of `plan.idle_conns`.
    pub(crate) idle: Vec<Vec<Entry<f64>>>,
    /// Handshake cycles per second, one per repetition.
    pub(crate) handshakes: Vec<Vec<f64>>,
    /// The fan-out rows, two per receiver count.
    pub(crate) fanout: Vec<MetricRow>,
    /// Callgrind instructions per 20 B echo.
    pub(crate) instructions: Vec<Entry<f64>>,
    /// Massif heap bytes per idle connection: one row per count of `plan.massif_conns`.
    pub(crate) heap: Vec<Vec<Entry<f64>>>,
    /// `valgrind --version`, if installed.
    pub(crate) valgrind: Option<String>,
    /// Seconds from the start until the servers were stopped (before valgrind).
    pub(crate) measured_secs: f64,
}

/// The report of the run `bench` that started at `started`.
pub(crate) fn report(
    cli: &Cli,
    env: &Env,
    started: Instant,
    bench: Bench<'_>,
    measured: Measured,
) -> Report {
    let plan = bench.plan;
    // The floor: raw fastwebsockets, or over TLS fastwebsockets + rustls.
    let floor = if plan.tls {
        ServerKind::FastwebsocketsTls
    } else {
        ServerKind::Fastwebsockets
    };
    let baseline = bench
        .slots
        .iter()
        .position(|s| s.kind == floor && s.status == ColumnStatus::Ok);
    let metrics = metrics(plan, &bench.slots, &measured);
    let mut notes = bench.notes;
    if plan.tls {
        notes.extend(tls_notes());
    }
    notes.extend(method_notes(bench.clk, plan));
    notes.extend(run_notes(plan, measured.measured_secs, started));
    let settings = settings(cli, plan, env, bench.clk, measured.valgrind);
    let columns = bench
        .slots
        .iter()
        .map(|s| Column {
            label: s.kind.label().into(),
            status: s.status.clone(),
        })
        .collect();
    Report {
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
        machine: env.facts(),
        versions: machine::versions(),
        settings,
        columns,
        baseline,
        rows: measured.rows,
        metrics,
        notes,
        failures: bench.failures,
    }
}

/// The "other metrics" rows: idle memory (RSS, then massif heap), handshakes, fan-out,
/// callgrind instructions.
fn metrics(plan: &Plan, slots: &[Slot], m: &Measured) -> Vec<MetricRow> {
    let handshakes = slots
        .iter()
        .zip(&m.handshakes)
        .map(|(s, v)| match stats::median(v) {
            Some(m) if s.status == ColumnStatus::Ok => Entry::Value(m),
            _ => Entry::Note(s.note().unwrap_or_else(|| "n/a".into())),
        })
        .collect();
    let mut metrics: Vec<MetricRow> = plan
        .idle_conns
        .iter()
        .zip(&m.idle)
        .map(|(&n, entries)| MetricRow {
            label: format!(
                "server RSS per idle connection ({} conns), KiB",
                report::fmt_count(n)
            ),
            higher_is_better: false,
            entries: entries.clone(),
        })
        .collect();
    metrics.extend(plan.massif_conns.iter().zip(&m.heap).map(|(&n, entries)| MetricRow {
        label: format!(
            "heap bytes per idle connection ({} conns, valgrind massif: requested + allocator overhead)",
            report::fmt_count(n)
        ),
        higher_is_better: false,
        entries: entries.clone(),
    }));
    metrics.extend([MetricRow {
        label: format!(
            "connect + upgrade + 20 B echo + close cycles/s ({} in flight)",
            plan.handshake_workers
        ),
        higher_is_better: true,
        entries: handshakes,
    }]);
    metrics.extend(m.fanout.iter().cloned());
    metrics.push(MetricRow {
        label: format!("callgrind instructions per 20 B echo (1 conn × {CALLGRIND_MESSAGES})"),
        higher_is_better: false,
        entries: m.instructions.clone(),
    });
    metrics
}

/// The notes on how the figures are taken and how to read them (`clk`: clock ticks per
/// second of the CPU figures).
fn method_notes(clk: u64, plan: &Plan) -> Vec<String> {
    vec![
        "Load generator: one single-threaded tokio runtime, fastwebsockets in the client role over TcpStream, \
         pre-masked binary frames, TCP_NODELAY; each connection sends one message and awaits its echo, repeatedly. \
         Every echo is checked for opcode and length, the first one on each connection byte for byte."
            .into(),
        "Raw TCP receives the same masked frame bytes and returns them unchanged: the ceiling of this machine. \
         Peers are built in release mode; each uses tokio's multi-thread runtime, whose worker count follows the \
         CPU affinity mask (1 worker when pinned)."
            .into(),
        format!(
        "Idle memory: VmRSS of the server before and after opening the connections (each did one 20 B echo, \
         then idled {} ms), divided by their number; measured once per server, right after start-up. RSS counts the \
         pages the allocator's layout touches, so it moves by several hundred bytes per connection when an \
         allocation changes size (padding our connection's future by 608 bytes took it from 8.05 to 7.13 KiB). The \
         massif row is the heap itself: bytes requested plus the allocator's overhead, under valgrind's allocator, \
         per idle connection (peak of a run with N connections, opened one at a time, minus the peak of a run with none; N = {}).",
        300,
        plan.massif_conns.iter().map(|&n| report::fmt_count(n)).collect::<Vec<_>>().join(", ")
    ),
        "Fan-out: N receivers and one publisher on `/chat` (which relays to the sender too); time from the publish \
         until the last receiver has the message, median over the publishes. The single-threaded load generator \
         reads all N copies, so at 10,000 receivers it contributes much of that time; server CPU per delivered \
         message is the server's own share. Peers have no broadcast route (n/a)."
            .into(),
        "Latency at 1,000+ connections mostly shows how evenly a server serves its connections: the mean is \
         fixed by Little's law (connections ÷ msg/s), a low p50 with a high p99 means some connections wait."
            .into(),
        format!(
        "CPU figures come from /proc tick counters ({clk}/s, i.e. {} ms resolution): short quick-mode windows \
         make them coarse.",
        1000 / clk.max(1)
    ),
        "This machine is a 2-vCPU VM: run-to-run swings of 2-4× in msg/s (with p99 in milliseconds) were seen on \
         identical runs, and CPU µs/msg moves with them. Compare medians of full runs; callgrind instruction counts \
         are the deterministic figure."
            .into(),
    ]
}

/// The notes of a TLS run (`--tls`): how the TLS servers and the client are set up.
fn tls_notes() -> Vec<String> {
    vec![
        "TLS: one self-signed certificate (rcgen, ECDSA P-256, for 127.0.0.1) made at the start of the run. \
         `ws-cli (ours), TLS` is the same demo with `tls_cert`/`tls_key` on server `ws` (TLS only, ALPN `h2` and \
         `http/1.1`); the peers run tokio-rustls 0.26 on ring (`--tls-cert`/`--tls-key`, ALPN `http/1.1`). The \
         load generator connects with tokio-rustls on ring, ALPN `http/1.1` (WebSocket over HTTP/1.1 upgrade), \
         TLS 1.3, and no session resumption: every connection does a full handshake. Ratios are to \
         fastwebsockets + rustls, the floor over TLS; `ws-cli (ours)` and `fastwebsockets` are the plain servers, \
         so that what TLS adds to each shows."
            .into(),
        "Idle memory over TLS: each count is measured on servers started afresh for it. The issue's bound is \
         ≤ 12 KiB RSS per idle TLS connection on ws-cli; a bare tokio-rustls echo server measured 9.7-9.8 KiB."
            .into(),
    ]
}

/// The notes on this run: what was not run or skipped, and how long it took.
fn run_notes(plan: &Plan, measured_secs: f64, started: Instant) -> Vec<String> {
    let mut notes = Vec::new();
    if !plan.callgrind {
        notes.push(
            "Callgrind and massif were not run (quick mode; `--callgrind` enables them).".into(),
        );
    }
    if plan.pipeline > 1 {
        notes.push(format!(
            "Pipelined run: every echo connection writes {} frames in one write and then reads their {} echoes; msg/s and CPU per message count messages, the latency columns are the time of a whole burst.",
            plan.pipeline, plan.pipeline
        ));
    }
    notes.push(format!(
        "Cells with more than {} MiB in flight (connections × payload) are skipped; each window is extended (up to 5×) until it holds ≥ 2 echoes per connection.",
        MAX_BYTES_IN_FLIGHT >> 20
    ));
    notes.push(format!(
        "Wall-clock time of the measurements (servers start-up included, callgrind excluded): {measured_secs:.1} s; total {:.1} s.",
        started.elapsed().as_secs_f64()
    ));
    notes
}

/// The "Settings" section: mode, repetitions, windows, pinning, matrix, and how the
/// servers were configured.
fn settings(
    cli: &Cli,
    plan: &Plan,
    env: &Env,
    clk: u64,
    valgrind: Option<String>,
) -> Vec<(String, String)> {
    let pinning = if env.pinned {
        "servers on CPU 0, load generator on CPU 1 (taskset)".to_string()
    } else if cli.no_pin {
        "not pinned (--no-pin)".to_string()
    } else {
        format!("not pinned (taskset unavailable or {} core(s))", env.cores)
    };
    let mode = if plan.mode == "quick" {
        "quick (smoke run)"
    } else {
        "full"
    };
    let payloads: Vec<String> = plan.payloads.iter().map(|&s| report::fmt_size(s)).collect();
    let conns: Vec<String> = plan.conns.iter().map(|c| c.to_string()).collect();
    let ws_cli = format!(
        "`log_level = \"{}\"`, servers `ws` and `http` on 127.0.0.1 port 0; \
         echo on `ws` `/echo`, fan-out on `/chat`",
        cli.ours_log_level
    );
    let mut settings = vec![
        ("mode".to_string(), mode.to_string()),
        (
            "repetitions".into(),
            format!("{} (servers alternated per repetition; medians)", plan.reps),
        ),
        (
            "warm-up / window".into(),
            format!(
                "{} ms / {} ms",
                plan.warmup.as_millis(),
                plan.window.as_millis()
            ),
        ),
        ("pinning".into(), pinning),
        (
            "messages in flight per echo connection".into(),
            if plan.pipeline > 1 {
                format!(
                    "{} (each connection writes {} frames at once, then reads their echoes)",
                    plan.pipeline, plan.pipeline
                )
            } else {
                "1 (send, await the echo)".into()
            },
        ),
        ("payloads".into(), payloads.join(", ")),
        ("connections".into(), conns.join(", ")),
        ("clock ticks/s (CPU figures)".into(), clk.to_string()),
        ("ws-cli config".into(), ws_cli),
    ];
    if let Some(v) = valgrind {
        settings.push(("valgrind".into(), v));
    }
    settings
}
