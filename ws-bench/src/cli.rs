//! The command line of `ws-bench`: modes, overrides, server binaries, output.

use std::path::PathBuf;

use clap::Parser;

use crate::report;

/// Default of `--soak-max-rss-mib`: the bound on the server's peak RSS in a soak run.
pub const DEFAULT_SOAK_MAX_RSS_MIB: u64 = 200;
/// Default of `--soak-max-p99-ms`: the bound on the canary's p99 round trip in a soak run.
pub const DEFAULT_SOAK_MAX_P99_MS: f64 = 100.0;

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
    /// Soak and attack run of our server alone (no other mode runs): for `--soak-secs`, 1,000
    /// echo connections (one 20 B message a second each), 200 connect/upgrade/close cycles a
    /// second, a `/chat` client that stops reading, a JSON-RPC abuser (huge and amplifying
    /// batches, invalid JSON), slow and oversized `POST /push` bodies, and a canary echoing
    /// 20 B every 50 ms. Fails (exit 1) if the server's peak RSS exceeds `--soak-max-rss-mib`
    /// (default 200 MiB), the canary's p99 exceeds `--soak-max-p99-ms` (default 100 ms) or it
    /// saw an error, the server died or does not answer `GET /health`, or its open fds are
    /// not back within 10 of their baseline 30 s after the clients stopped. Writes the
    /// "Soak" section of BENCHMARKS.md (unless `--no-write`).
    #[arg(long, conflicts_with_all = ["full", "quick"])]
    pub soak: bool,
    /// Length of the soak run, seconds.
    #[arg(long, default_value_t = 180, value_parser = clap::value_parser!(u64).range(5..=3600))]
    pub soak_secs: u64,
    /// Echo connections of the soak's background load.
    #[arg(long, default_value_t = 1_000)]
    pub soak_conns: usize,
    /// Connect/upgrade/close cycles per second in the soak.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub soak_churn: u32,
    /// Bound on the server's peak RSS in the soak, MiB.
    #[arg(long, default_value_t = DEFAULT_SOAK_MAX_RSS_MIB)]
    pub soak_max_rss_mib: u64,
    /// Bound on the canary's p99 round-trip latency in the soak, ms.
    #[arg(long, default_value_t = DEFAULT_SOAK_MAX_P99_MS)]
    pub soak_max_p99_ms: f64,
    /// TLS run (#15): the servers `ours` and `fastwebsockets` (plain, for comparison),
    /// `ours-tls` (server `ws` with `tls_cert`/`tls_key`), `fastwebsockets-tls` and
    /// `tungstenite-tls` (the peers on tokio-rustls), unless `--servers` says otherwise; a self-signed certificate made with
    /// rcgen; the load generator on tokio-rustls (ALPN `http/1.1`, no session resumption).
    /// Idle memory (RSS and massif heap) at 2,000 and 5,000 connections unless
    /// `--idle-conns`/`--massif-conns` say otherwise; valgrind on unless `--no-callgrind`.
    /// With `--quick` (the default) or `--full` for the size of the echo matrix. Writes the
    /// "TLS" section of BENCHMARKS.md (unless `--no-write`), leaving the rest as it is.
    #[arg(long, conflicts_with_all = ["soak", "cluster"])]
    pub tls: bool,
    /// permessage-deflate run (no other mode runs): our server with compression off, on
    /// without contexts (the default) and on with contexts kept; echo throughput of 1 KiB and
    /// 16 KiB text over `--deflate-conns` connections for `--window-ms` (default 2 s),
    /// callgrind instructions per 20 B and 1 KiB echo, massif heap per idle connection at the
    /// first `--massif-conns` (default 1,000). Writes the "Compression" section of
    /// BENCHMARKS.md (unless `--no-write`).
    #[arg(long, conflicts_with_all = ["soak", "cluster", "tls"])]
    pub deflate: bool,
    /// Connections of the `--deflate` echo throughput.
    #[arg(long, default_value_t = 50)]
    pub deflate_conns: usize,
    /// Cluster run (no other mode runs): a private `redis-server` and three of our nodes on
    /// it; push-by-id latency to the same node vs across nodes, fan-out to
    /// `--cluster-receivers` on one node vs spread over three, and messages lost or
    /// duplicated while Redis is restarted under `--cluster-rate` messages a second. Writes
    /// the "Cluster" section of BENCHMARKS.md (unless `--no-write`).
    #[arg(long, conflicts_with_all = ["full", "quick", "soak"])]
    pub cluster: bool,
    /// Receivers of the cluster fan-out (spread over the three nodes, then all on one).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(3..=20_000))]
    pub cluster_receivers: u64,
    /// Pushes by id timed in the cluster run, half to the receiver's node, half to another.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(2..=100_000))]
    pub cluster_pushes: u64,
    /// Fan-out rounds timed in the cluster run, on each side.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub cluster_rounds: u64,
    /// Messages a second during the Redis restart of the cluster run.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub cluster_rate: u32,
    /// Seconds of load during the Redis restart (Redis is killed half-way).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(4..=600))]
    pub cluster_restart_secs: u64,
    /// Fan-out run (no other mode runs): `--fanout-receivers` `/chat` receivers held by
    /// `--fanout-procs` client processes, `--fanout-publishes` pushes through `POST /push`
    /// each timed until the last receiver has it; ours pinned to CPU 0, then on both cores,
    /// and the uWebSockets.js peer of `ws-bench/uws` on CPU 0 when it is installed
    /// (`npm install --prefix ws-bench/uws`); server and clients' CPU per delivered message;
    /// callgrind instructions per delivered message of ours unless `--no-callgrind`. Writes
    /// the "Fan-out" section of BENCHMARKS.md (unless `--no-write`).
    #[arg(long, conflicts_with_all = ["full", "quick", "soak", "cluster", "tls"])]
    pub fanout: bool,
    /// Receiver counts of `--fanout`.
    #[arg(long, value_delimiter = ',', default_values_t = [1_000usize, 10_000])]
    pub fanout_receivers: Vec<usize>,
    /// Client processes that hold the receivers in `--fanout`.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub fanout_procs: u64,
    /// Publishes per row of `--fanout`.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub fanout_publishes: u64,
    /// Repetitions of every row of `--fanout` (servers alternated).
    #[arg(long, default_value_t = 1)]
    pub fanout_reps: usize,
    /// Directory of the uWebSockets.js peer (`fanout-server.js` and its `node_modules`);
    /// default `ws-bench/uws`.
    #[arg(long)]
    pub uws_dir: Option<PathBuf>,
    /// Scale run (no other mode runs): ours pinned to CPU 0 with `--scale-conns` `/echo`
    /// connections held by `--fanout-procs` client processes; how many were opened or
    /// refused, handshakes per second to get there, server RSS per connection and fds, then
    /// 20 B echo on all of them for `--scale-window-ms`. Writes the "Scale" section of
    /// BENCHMARKS.md (unless `--no-write`).
    #[arg(long, conflicts_with_all = ["full", "quick", "soak", "cluster", "tls", "fanout"])]
    pub scale: bool,
    /// Connection counts of `--scale`.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000usize, 20_000])]
    pub scale_conns: Vec<usize>,
    /// Echo window of `--scale`, ms.
    #[arg(long, default_value_t = 5_000)]
    pub scale_window_ms: u64,
    /// Internal: run as one client process of `--scale`, connecting to this address.
    #[arg(long, hide = true)]
    pub scale_client: Option<std::net::SocketAddr>,
    /// Internal: the source address of a `--scale-client` process.
    #[arg(long, hide = true)]
    pub client_source: Option<std::net::IpAddr>,
    /// Internal: run as one client process of `--fanout`, connecting to this address.
    #[arg(long, hide = true)]
    pub fanout_client: Option<std::net::SocketAddr>,
    /// Internal: the receivers of a `--fanout-client` process.
    #[arg(long, hide = true, default_value_t = 0)]
    pub fanout_client_conns: usize,
    /// Servers to run (comma list of ours, fastwebsockets, tungstenite, axum, tcp, and the TLS
    /// ones ours-tls, fastwebsockets-tls, tungstenite-tls); default the first five (with
    /// `--tls`: ours, ours-tls, fastwebsockets, fastwebsockets-tls, tungstenite-tls).
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
    /// Messages each connection of the echo matrix writes at once (one write of N frames)
    /// before it reads their N echoes: a pipelining client. 1, the default, sends one message
    /// and awaits its echo.
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// Override the idle connections of the memory measurement (a list: one RSS row per
    /// count, each on a freshly started server).
    #[arg(long, value_delimiter = ',')]
    pub idle_conns: Vec<usize>,
    /// Override the idle connections of the massif measurement (a list: one heap row per
    /// count; default 1000, with `--tls` 2000,5000).
    #[arg(long, value_delimiter = ',')]
    pub massif_conns: Vec<usize>,
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
    /// Copy every valgrind output file (`massif.KEY.N.out`, `callgrind.KEY.N.out`, N the
    /// workload size) into this directory, for `ms_print` / `callgrind_annotate`.
    #[arg(long)]
    pub keep_valgrind: Option<PathBuf>,
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
