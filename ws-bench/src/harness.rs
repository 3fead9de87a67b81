//! The run from start to end: the plan from the command line, the machine set-up, the
//! measurements in order (`run`), then the report printed and written.
//!
//! Where the parts are: the command line in [`crate::cli`], the plan in [`crate::plan`];
//! the servers under test and the measurement steps are private modules (`bench`, `slot`,
//! `measure/*`), and the report is assembled from them in `assemble`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::assemble::{self, Measured};
use crate::bench::Bench;
use crate::cli::Cli;
use crate::error::BenchError;
use crate::machine::Env;
use crate::measure::{valgrind_version, CALLGRIND_MESSAGES, HEAP, INSTRUCTIONS};
use crate::mode::until_interrupted;
use crate::plan::Plan;
use crate::report::{self, Report};
use crate::{binaries, workspace};

/// Entry point of the binary: returns 0 on success, 1 on any failure, 2 on a plan the
/// command line does not make (an unknown server, a connection count of 0).
pub fn main_with(cli: Cli) -> ExitCode {
    if let Some(addr) = cli.fanout_client {
        return crate::fanout::client_main(addr, cli.fanout_client_conns, cli.fanout_publishes);
    }
    if let Some(addr) = cli.scale_client {
        return crate::fanout::scale_client_main(
            addr,
            cli.fanout_client_conns,
            std::time::Duration::from_millis(cli.scale_window_ms),
            cli.client_source,
        );
    }
    if cli.scale {
        return crate::fanout::scale_main(&cli);
    }
    if cli.fanout {
        return crate::fanout::main_with(&cli);
    }
    if cli.soak {
        return crate::soak::main_with(&cli);
    }
    if cli.cluster {
        return crate::cluster::main_with(&cli);
    }
    if cli.deflate {
        return crate::deflate::main_with(&cli);
    }
    let plan = match Plan::from_cli(&cli) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ws-bench: {e}");
            return ExitCode::from(2);
        }
    };
    if !cli.no_build {
        binaries::build_peers(&plan);
    }
    let env = Env::prepare(&cli, plan.fds_needed());
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
    let result = rt.block_on(until_interrupted(run(&cli, &plan, &env)));
    // Servers are stopped (killed by PID) when `run` returns or is dropped.
    match result {
        Ok(report) => publish(&cli, &report),
        Err(e) => {
            eprintln!("ws-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One run: starts every server, measures idle memory (on pristine servers), the echo
/// matrix, handshakes and fan-out, stops the servers, takes the valgrind measurements on
/// fresh ones, and assembles the report.
async fn run(cli: &Cli, plan: &Plan, env: &Env) -> Result<Report, BenchError> {
    let started = Instant::now();
    let mut bench = Bench::start(cli, plan, env)?;
    eprintln!(
        "ws-bench: servers up after {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let idle = bench.idle_memory().await;
    let rows = bench.echo_matrix().await;
    let handshakes = bench.handshake_rates().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fanout = bench.fanout_rows().await;
    bench.stop_servers();
    let measured_secs = started.elapsed().as_secs_f64();
    let valgrind = valgrind_version();
    let instructions = bench
        .profile(&INSTRUCTIONS, valgrind.is_some(), &[CALLGRIND_MESSAGES])
        .await
        .pop()
        .unwrap_or_default();
    let heap = bench
        .profile(&HEAP, valgrind.is_some(), &plan.massif_conns)
        .await;
    let measured = Measured {
        rows,
        idle,
        handshakes,
        fanout,
        instructions,
        heap,
        valgrind,
        measured_secs,
    };
    Ok(assemble::report(cli, env, started, bench, measured))
}

/// `md` with the sections of `old` that other modes write (or that are written by hand)
/// put back: "Soak", "Cluster", "TLS", "TLS crypto provider", "Compression".
fn keep_sections(md: String, old: &str) -> String {
    let mut text = md;
    if let Some(soak) = report::soak_section(old) {
        text = report::splice_soak_section(&text, soak);
    }
    if let Some(cluster) = report::cluster_section(old) {
        text = report::splice_cluster_section(&text, cluster);
    }
    if let Some(tls) = report::tls_section(old) {
        text = report::splice_tls_section(&text, tls);
    }
    if let Some(provider) = report::tls_provider_section(old) {
        text = report::splice_tls_provider_section(&text, provider);
    }
    for heading in report::KEPT_HEADINGS {
        if let Some(section) = report::named_section(old, heading) {
            text = report::splice_named_section(&text, heading, section);
        }
    }
    text
}

/// Prints the report, writes it (unless `--no-write`; with `--tls` only its "TLS" section;
/// otherwise the file's sections written by other modes or by hand are kept) and lists its failures: the exit code is a failure if there are any or
/// if the report cannot be written.
fn publish(cli: &Cli, report: &Report) -> ExitCode {
    let md = report::render_markdown(report);
    println!("{md}");
    if !cli.no_write {
        let out = cli.output.clone().unwrap_or_else(workspace::default_output);
        let old = std::fs::read_to_string(&out).unwrap_or_default();
        let text = if cli.tls {
            report::splice_tls_section(&old, &report::render_tls_section(&md))
        } else {
            keep_sections(md, &old)
        };
        match std::fs::write(&out, &text) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sections_of_other_modes_and_by_hand_are_kept() {
        let old = "# B\n\n## Notes\n\nold\n\n## Fan-out\n\nf\n\n## Fan-out before and after\n\nba\n\n## Scale\n\ns\n\n## Sizing a node\n\nz\n\n## Echo: system calls and allocations\n\ne\n";
        let text = keep_sections("# B\n\n## Notes\n\nnew\n".to_string(), old);
        for kept in [
            "## Fan-out\n\nf\n",
            "## Fan-out before and after\n\nba\n",
            "## Scale\n\ns\n",
            "## Sizing a node\n\nz\n",
            "## Echo: system calls and allocations\n\ne\n",
        ] {
            assert!(text.contains(kept), "{kept:?} in {text:?}");
        }
        assert!(text.contains("new") && !text.contains("old"), "{text}");
    }
}
