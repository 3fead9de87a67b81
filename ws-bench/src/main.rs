//! `ws-bench`: load generator and report writer. See `ws-bench/README.md`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    ws_bench::harness::main_with(ws_bench::cli::Cli::parse())
}
