//! What the modes share: a run stops at Ctrl-C or SIGTERM ([`until_interrupted`]), and a mode
//! that writes one section of `BENCHMARKS.md` (`--fanout`, `--scale`, `--deflate`) ends the
//! same way ([`finish_section`]). Below every mode, so that each imports it and it imports
//! none of them.

use std::future::Future;
use std::process::ExitCode;

use crate::cli::Cli;
use crate::error::BenchError;
use crate::{report, workspace};

/// Ends a mode that writes one section of `BENCHMARKS.md` (`--fanout`, `--scale`,
/// `--deflate`): prints the section, writes it under `heading` (unless `--no-write`; the file's
/// other sections are kept), or reports the mode's error.
pub(crate) fn finish_section<E: std::fmt::Display>(
    cli: &Cli,
    heading: &str,
    mode: &str,
    result: Result<String, E>,
) -> ExitCode {
    let md = match result {
        Ok(md) => md,
        Err(e) => {
            eprintln!("ws-bench: {mode}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{md}");
    if !cli.no_write {
        let out = cli.output.clone().unwrap_or_else(workspace::default_output);
        let old = std::fs::read_to_string(&out).unwrap_or_default();
        let text = report::splice_named_section(&old, heading, &md);
        if let Err(e) = std::fs::write(&out, text) {
            eprintln!("ws-bench: cannot write {}: {e}", out.display());
            return ExitCode::FAILURE;
        }
        eprintln!("ws-bench: wrote the {mode} section of {}", out.display());
    }
    ExitCode::SUCCESS
}

/// Runs `run` unless Ctrl-C or SIGTERM comes first ([`BenchError::Interrupted`]).
pub(crate) async fn until_interrupted<T>(
    run: impl Future<Output = Result<T, BenchError>>,
) -> Result<T, BenchError> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let sigterm = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        r = run => r,
        _ = tokio::signal::ctrl_c() => Err(BenchError::Interrupted),
        () = sigterm => Err(BenchError::Interrupted),
    }
}
