//! The cluster run, step by step: start Redis and three nodes, take the three measurements,
//! check that the nodes survived, and publish the "Cluster" section.

use std::process::ExitCode;
use std::time::Duration;

use tokio::time::Instant;

use super::nodes::{self, Node, Shared};
use super::redis::{free_port, Redis};
use super::{fanout, push_latency, restart};
use crate::bench::TempDir;
use crate::binaries::bin_path;
use crate::cli::Cli;
use crate::error::BenchError;
use crate::machine::Env;
use crate::mode::until_interrupted;
use crate::report::{self, ClusterReport, Side};
use crate::server::ServerKind;
use crate::workspace;

/// Nodes of the cluster.
const NODES: u16 = 3;

/// Entry point of `--cluster`: 0 when every measurement was taken with nothing lost or
/// duplicated while Redis was up, 1 otherwise.
pub(crate) fn main_with(cli: &Cli) -> ExitCode {
    let receivers = usize::try_from(cli.cluster_receivers).unwrap_or(usize::MAX);
    // Four servers share the cores with the clients: nothing is pinned.
    let mut unpinned = cli.clone();
    unpinned.no_pin = true;
    let env = Env::prepare(&unpinned, receivers.saturating_mul(2).saturating_add(2_048));
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
    // Redis and the nodes are killed (by PID) when `run` returns or is dropped.
    match rt.block_on(until_interrupted(run(cli, &env))) {
        Ok(report) => publish(cli, &report),
        Err(e) => {
            eprintln!("ws-bench: cluster: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A name no other run uses at the same time (the cluster name, the secret key).
fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    )
}

/// The whole run; returns its report (what went wrong is in its failures).
async fn run(cli: &Cli, env: &Env) -> Result<ClusterReport, BenchError> {
    let started = Instant::now();
    let bin = bin_path(cli, ServerKind::Ours);
    if !bin.is_file() {
        return Err(BenchError::Server(format!(
            "ours not built ({}); build with `cargo build --release -p ws-cli`",
            bin.display()
        )));
    }
    let tmp = TempDir::create()?;
    let redis = Redis::start_on(free_port()?).await?;
    let key = unique("cluster");
    let shared = Shared {
        bin,
        log_level: &cli.ours_log_level,
        key: &key,
        broker: redis.url(),
        cluster: unique("ws-bench"),
    };
    let mut nodes: Vec<Node> = Vec::new();
    for id in 1..=NODES {
        nodes.push(nodes::start(&shared, tmp.path(), id)?);
    }
    eprintln!(
        "ws-bench: cluster: redis at {}, nodes (ws, http): {}",
        redis.addr(),
        nodes
            .iter()
            .map(|n| format!("{} ({}, {})", n.id, n.ws, n.http))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Leases and subscriptions in place.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let receivers = usize::try_from(cli.cluster_receivers).unwrap_or(usize::MAX);
    let mut r = ClusterReport {
        fanout_receivers: receivers,
        ..ClusterReport::default()
    };
    eprintln!(
        "ws-bench: cluster: push latency ({} pushes)",
        cli.cluster_pushes
    );
    match push_latency::run(&nodes, &key, cli.cluster_pushes).await {
        Ok((same, cross)) => (r.push_same, r.push_cross) = (same, cross),
        Err(e) => r.failures.push(format!("push latency: {e}")),
    }
    eprintln!("ws-bench: cluster: fan-out to {receivers} on node 1");
    match fanout::run(&nodes, false, receivers, cli.cluster_rounds).await {
        Ok(f) => r.fanout_single = f.side,
        Err(e) => r.failures.push(format!("fan-out on one node: {e}")),
    }
    eprintln!("ws-bench: cluster: fan-out to {receivers} over {NODES} nodes");
    match fanout::run(&nodes, true, receivers, cli.cluster_rounds).await {
        Ok(f) => {
            r.fanout_cross = f.side;
            r.fanout_nodes = f.per_node;
        }
        Err(e) => r.failures.push(format!("fan-out over the nodes: {e}")),
    }
    eprintln!(
        "ws-bench: cluster: Redis restart under {} msg/s for {} s",
        cli.cluster_rate, cli.cluster_restart_secs
    );
    let mut redis =
        match restart::run(&nodes, redis, cli.cluster_rate, cli.cluster_restart_secs).await {
            Ok((x, redis)) => {
                r.restart = Some(x);
                Some(redis)
            }
            Err(e) => {
                r.failures.push(format!("Redis restart: {e}"));
                None
            }
        };
    for node in &mut nodes {
        if let Err(e) = node.check_alive() {
            r.failures.push(format!("{} died: {e}", node.label()));
        }
    }
    if let Some(redis) = redis.as_mut() {
        if !redis.alive() {
            r.failures.push("redis-server died".into());
        }
    }
    check_exactly_once(&mut r);
    r.secs = started.elapsed().as_secs_f64();
    r.command = format!(
        "cargo run --release -p ws-bench -- {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    )
    .trim_end()
    .to_string();
    r.generated = report::fmt_utc(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    r.machine = env.line();
    r.setup = setup_lines(cli, receivers);
    drop(nodes); // kills them
    drop(redis);
    Ok(r)
}

/// While Redis is up the cluster delivers exactly once; across its restart at most once.
fn check_exactly_once(r: &mut ClusterReport) {
    let sides: [(&str, &Side); 4] = [
        ("push by id to the same node", &r.push_same),
        ("push by id across nodes", &r.push_cross),
        ("fan-out on one node", &r.fanout_single),
        ("fan-out over the nodes", &r.fanout_cross),
    ];
    let mut found = Vec::new();
    for (what, s) in sides {
        if s.lost > 0 || s.duplicated > 0 {
            found.push(format!(
                "{what}: {} lost, {} duplicated while Redis was up (exactly once expected)",
                s.lost, s.duplicated
            ));
        }
    }
    if let Some(x) = &r.restart {
        for row in &x.rows {
            if row.duplicated > 0 {
                found.push(format!(
                    "Redis restart: {} got {} duplicate(s) (at most once expected)",
                    row.receiver, row.duplicated
                ));
            }
        }
    }
    r.failures.extend(found);
}

/// What ran, one line each.
fn setup_lines(cli: &Cli, receivers: usize) -> Vec<String> {
    vec![
        format!(
            "{NODES} nodes (`node_id` 1-{NODES}, one `broker`, one unique `cluster` name), each in \
             its own working directory, ports 0; a private `redis-server` (no persistence) on a \
             free loopback port"
        ),
        format!(
            "push by id: one `/chat` receiver on node 1 (its id from `/whoami`); {} \
             `POST /push?id=ID` one at a time, alternately to node 1's `http` server (one \
             node) and node 2's (across nodes), each timed from sending the request until the \
             receiver has the message, after 20 untimed ones to each",
            report::fmt_count(usize::try_from(cli.cluster_pushes).unwrap_or(usize::MAX))
        ),
        format!(
            "fan-out: {} `/chat` receivers in the lobby, all on node 1 (one node) or round-robin \
             over the {NODES} nodes (across nodes), one sender on node 1; {} rounds after an \
             untimed one, each timed until the last receiver has it, 20 ms apart",
            report::fmt_count(receivers),
            cli.cluster_rounds
        ),
        format!(
            "Redis restart: {} msg/s for {} s from the sender on node 1 to the lobby, a receiver \
             on each of nodes 2 and 3; Redis killed half-way and started again on the same port \
             {} ms later",
            cli.cluster_rate, cli.cluster_restart_secs, 1_500
        ),
    ]
}

/// Prints the section, writes it into `BENCHMARKS.md` (unless `--no-write`) and lists the
/// failures: the exit code is a failure if there are any or if the file cannot be written.
fn publish(cli: &Cli, report: &ClusterReport) -> ExitCode {
    let md = report::render_cluster_markdown(report);
    println!("{md}");
    if !cli.no_write {
        let out = cli.output.clone().unwrap_or_else(workspace::default_output);
        let old = std::fs::read_to_string(&out).unwrap_or_default();
        match std::fs::write(&out, report::splice_cluster_section(&old, &md)) {
            Ok(()) => eprintln!("ws-bench: wrote the cluster section of {}", out.display()),
            Err(e) => {
                eprintln!("ws-bench: cannot write {}: {e}", out.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if report.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("ws-bench: cluster: {} failure(s):", report.failures.len());
        for f in &report.failures {
            eprintln!("  - {f}");
        }
        ExitCode::FAILURE
    }
}
