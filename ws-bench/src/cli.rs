//! The command line of `ws-bench`: modes, overrides, server binaries, output.

use std::path::PathBuf;

use clap::Parser;

use crate::report;

/// Default `log_level` of our framework's config (see [`Cli::ours_log_level`]).
pub const DEFAULT_OURS_LOG_LEVEL: &str = "warn,ws_core::app=info";

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
