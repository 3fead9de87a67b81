//! The machine a run happens on: its set-up before the runtime starts (file descriptor
//! limit, CPU pinning) and the facts and versions the report lists.

use crate::cli::Cli;
use crate::{procfs, report, server, workspace};

/// The machine as this run found and set it up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Env {
    /// CPUs in `/proc/cpuinfo`.
    pub(crate) cores: usize,
    /// RLIMIT_NOFILE (soft, hard) after raising it.
    pub(crate) nofile: (u64, u64),
    /// Whether this process is pinned to CPU 1 (and the servers to CPU 0).
    pub(crate) pinned: bool,
}

impl Env {
    /// Raises RLIMIT_NOFILE to the `fds` a run needs and pins this process to CPU 1 unless
    /// `--no-pin`, fewer than two cores or no `taskset`. Call it before the tokio runtime
    /// exists so that all its threads inherit the mask.
    pub(crate) fn prepare(cli: &Cli, fds: usize) -> Env {
        let cores = cpu_count();
        let nofile = raise_nofile(fds as u64);
        // Pin before the runtime exists so that all its threads inherit the mask.
        let pinned =
            !cli.no_pin && cores >= 2 && server::taskset_available() && server::pin_self("1");
        Env {
            cores,
            nofile,
            pinned,
        }
    }

    /// CPU, cores and pinning in one line (the soak and cluster sections).
    pub(crate) fn line(&self) -> String {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| procfs::parse_cpu_model(&s))
            .unwrap_or_else(|| "?".into());
        format!(
            "{cpu}, {} cores, {}",
            self.cores,
            if self.pinned {
                "server on CPU 0, clients on CPU 1"
            } else {
                "not pinned"
            }
        )
    }

    /// The "Machine" section of the report: CPU, memory, kernel, and the limits and
    /// network settings that bound how many connections can be opened.
    pub(crate) fn facts(&self) -> Vec<(String, String)> {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| procfs::parse_cpu_model(&s));
        let mem = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .map(|l| l.trim_start_matches("MemTotal:").trim().to_string())
        });
        let sys = |p: &str| procfs::read_trimmed(p).unwrap_or_else(|| "?".into());
        vec![
            ("cpu".into(), cpu.unwrap_or_else(|| "?".into())),
            ("cores".into(), self.cores.to_string()),
            ("memory".into(), mem.unwrap_or_else(|| "?".into())),
            ("kernel".into(), sys("/proc/sys/kernel/osrelease")),
            (
                "RLIMIT_NOFILE (soft / hard, after raising)".into(),
                format!("{} / {}", self.nofile.0, self.nofile.1),
            ),
            (
                "fs.file-max / fs.nr_open".into(),
                format!(
                    "{} / {}",
                    sys("/proc/sys/fs/file-max"),
                    sys("/proc/sys/fs/nr_open")
                ),
            ),
            (
                "net.core.somaxconn".into(),
                sys("/proc/sys/net/core/somaxconn"),
            ),
            (
                "net.ipv4.tcp_max_syn_backlog".into(),
                sys("/proc/sys/net/ipv4/tcp_max_syn_backlog"),
            ),
            (
                "net.ipv4.ip_local_port_range".into(),
                sys("/proc/sys/net/ipv4/ip_local_port_range"),
            ),
            (
                "net.ipv4.tcp_tw_reuse".into(),
                sys("/proc/sys/net/ipv4/tcp_tw_reuse"),
            ),
        ]
    }
}

/// The "Versions" section of the report: rustc, and the compared crates from `Cargo.lock`.
pub(crate) fn versions() -> Vec<(String, String)> {
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into());
    let mut v = vec![("rustc".to_string(), rustc)];
    let lock = std::fs::read_to_string(workspace::root().join("Cargo.lock")).unwrap_or_default();
    v.extend(report::lock_versions(
        &lock,
        &[
            "ws-core",
            "ws-cli",
            "fastwebsockets",
            "hyper",
            "tokio",
            "tokio-tungstenite",
            "tungstenite",
            "axum",
            "rustls",
            "tokio-rustls",
            "ring",
        ],
    ));
    v
}

fn cpu_count() -> usize {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.lines().filter(|l| l.starts_with("processor")).count())
        .ok()
        .filter(|&n| n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}

/// Raises RLIMIT_NOFILE to at least `want` (soft up to hard; hard too when
/// permitted). Returns the resulting (soft, hard).
fn raise_nofile(want: u64) -> (u64, u64) {
    use rlimit::Resource;
    let _ = rlimit::increase_nofile_limit(want);
    if let Ok((soft, hard)) = Resource::NOFILE.get() {
        if soft < want {
            let _ = Resource::NOFILE.set(want.max(soft), want.max(hard));
        }
    }
    Resource::NOFILE.get().unwrap_or((0, 0))
}
