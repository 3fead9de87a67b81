//! What one run measures ([`Plan`]), derived from the mode (`--quick` / `--full`) and the
//! overrides on the command line.

use std::time::Duration;

use crate::cli::Cli;
use crate::server::ServerKind;

/// What one run measures, derived from the mode and the overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// `quick` or `full`.
    pub mode: &'static str,
    /// The TLS run (`--tls`): its servers and counts, written to the "TLS" section.
    pub tls: bool,
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
    /// Messages each echo connection writes at once before reading their echoes.
    pub pipeline: usize,
    /// Idle connection counts for the RSS figure (one row each).
    pub idle_conns: Vec<usize>,
    /// Idle connection counts for the massif heap figure (one row each).
    pub massif_conns: Vec<usize>,
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
    /// Copy every valgrind output file into this directory (`--keep-valgrind`).
    pub keep_valgrind: Option<std::path::PathBuf>,
}

impl Plan {
    /// Builds the plan from the command line.
    pub fn from_cli(cli: &Cli) -> Result<Self, String> {
        let full = cli.full;
        let servers = if cli.servers.is_empty() {
            if cli.tls {
                ServerKind::TLS.to_vec()
            } else {
                ServerKind::ALL.to_vec()
            }
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
            tls: cli.tls,
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
            pipeline: cli.pipeline.max(1),
            idle_conns: or(
                &cli.idle_conns,
                if cli.tls {
                    &[2_000, 5_000]
                } else if full {
                    &[10_000]
                } else {
                    &[100]
                },
            ),
            massif_conns: or(
                &cli.massif_conns,
                if cli.tls { &[2_000, 5_000] } else { &[1_000] },
            ),
            handshake_window: Duration::from_millis(if full { 3_000 } else { 1_000 }),
            handshake_workers: 8,
            fanout_conns: or(
                &cli.fanout_conns,
                if full { &[100, 1_000, 10_000] } else { &[100] },
            ),
            fanout_publishes: if full { 50 } else { 20 },
            callgrind: if full || cli.tls {
                !cli.no_callgrind
            } else {
                cli.callgrind
            },
            keep_valgrind: cli.keep_valgrind.clone(),
        };
        if [
            &plan.conns,
            &plan.fanout_conns,
            &plan.idle_conns,
            &plan.massif_conns,
        ]
        .iter()
        .any(|v| v.contains(&0))
        {
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
            .chain(&self.idle_conns)
            .chain(&self.massif_conns)
            .copied()
            .max()
            .unwrap_or(0);
        m + 1_024
    }
}

/// What a soak run (`--soak`) does: how long, how much background load, and its bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct SoakPlan {
    /// How long the clients run.
    pub duration: Duration,
    /// Echo connections of the background load.
    pub echo_conns: usize,
    /// Each echo connection sends one message per period.
    pub echo_period: Duration,
    /// Payload of the background echo and of the canary, bytes.
    pub echo_size: usize,
    /// Connect/upgrade/close cycles per second.
    pub churn_per_sec: u32,
    /// The canary sends one message per period.
    pub canary_period: Duration,
    /// Concurrent slow `POST /push` bodies.
    pub slow_bodies: usize,
    /// Bound on the server's peak RSS, KiB.
    pub max_rss_kib: u64,
    /// Bound on the canary's p99 round trip.
    pub max_p99: Duration,
    /// Open fds the server may keep above its baseline once the clients stopped.
    pub fd_slack: u64,
    /// How long the server has to get its fds back near the baseline.
    pub fd_wait: Duration,
}

impl SoakPlan {
    /// Builds the soak plan from the command line.
    pub fn from_cli(cli: &Cli) -> Result<Self, String> {
        if cli.soak_conns == 0 {
            return Err("--soak-conns must be positive".into());
        }
        if !(cli.soak_max_p99_ms.is_finite() && cli.soak_max_p99_ms > 0.0) {
            return Err("--soak-max-p99-ms must be a positive number".into());
        }
        Ok(SoakPlan {
            duration: Duration::from_secs(cli.soak_secs),
            echo_conns: cli.soak_conns,
            echo_period: Duration::from_secs(1),
            echo_size: 20,
            churn_per_sec: cli.soak_churn,
            canary_period: Duration::from_millis(50),
            slow_bodies: 4,
            max_rss_kib: cli.soak_max_rss_mib.saturating_mul(1024),
            max_p99: Duration::from_secs_f64(cli.soak_max_p99_ms / 1e3),
            fd_slack: 10,
            fd_wait: Duration::from_secs(30),
        })
    }

    /// File descriptors the load generator needs: the echo connections, the churn and
    /// attackers in flight, and room to spare.
    pub fn fds_needed(&self) -> usize {
        self.echo_conns + 2_048
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

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
    fn tls_plan() {
        let p = Plan::from_cli(&cli(&["--tls"])).expect("plan");
        assert!(p.tls);
        assert_eq!(p.servers, ServerKind::TLS.to_vec());
        assert_eq!(p.idle_conns, vec![2_000, 5_000]);
        assert_eq!(p.massif_conns, vec![2_000, 5_000]);
        assert!(p.callgrind);
        let p = Plan::from_cli(&cli(&[
            "--tls",
            "--no-callgrind",
            "--servers",
            "ours-tls,tungstenite-tls",
            "--idle-conns",
            "10",
        ]))
        .expect("plan");
        assert!(!p.callgrind);
        assert_eq!(
            p.servers,
            vec![ServerKind::OursTls, ServerKind::TungsteniteTls]
        );
        assert_eq!(p.idle_conns, vec![10]);
        let p = Plan::from_cli(&cli(&["--full"])).expect("plan");
        assert!(!p.tls);
        assert_eq!(p.idle_conns, vec![10_000]);
        assert_eq!(p.massif_conns, vec![1_000]);
        assert!(Plan::from_cli(&cli(&["--massif-conns", "0"])).is_err());
        assert!(Cli::try_parse_from(["ws-bench", "--tls", "--soak"]).is_err());
    }

    #[test]
    fn soak_plan() {
        let p = SoakPlan::from_cli(&cli(&["--soak"])).expect("plan");
        assert_eq!(p.duration, Duration::from_secs(180));
        assert_eq!(p.echo_conns, 1_000);
        assert_eq!(p.churn_per_sec, 200);
        assert_eq!(p.max_rss_kib, crate::cli::DEFAULT_SOAK_MAX_RSS_MIB * 1024);
        assert!(p.fds_needed() > 1_000);
        let p = SoakPlan::from_cli(&cli(&[
            "--soak",
            "--soak-secs",
            "20",
            "--soak-max-p99-ms",
            "2.5",
        ]))
        .expect("plan");
        assert_eq!(p.duration, Duration::from_secs(20));
        assert_eq!(p.max_p99, Duration::from_micros(2_500));
        assert!(SoakPlan::from_cli(&cli(&["--soak", "--soak-conns", "0"])).is_err());
        assert!(Cli::try_parse_from(["ws-bench", "--soak", "--full"]).is_err());
        assert!(Cli::try_parse_from(["ws-bench", "--soak", "--soak-secs", "1"]).is_err());
    }
}
