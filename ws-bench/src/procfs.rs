//! Parsing of `/proc` files: process RSS and CPU time, machine description.

use std::path::Path;

/// Parses `VmRSS:` (in KiB) out of the text of `/proc/PID/status`.
pub fn parse_vmrss_kib(status: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix("VmRSS:")?;
        let mut it = rest.split_whitespace();
        let n: u64 = it.next()?.parse().ok()?;
        match it.next() {
            Some("kB") | None => Some(n),
            Some(_) => None,
        }
    })
}

/// Parses `Threads:` out of the text of `/proc/PID/status`.
pub fn parse_threads(status: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        line.strip_prefix("Threads:")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// Parses `utime + stime` (clock ticks) out of the text of `/proc/PID/stat`.
///
/// The command name (field 2) may contain spaces and parentheses, so fields are
/// counted from the last `)`.
pub fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    // After ")" come fields 3 (state) onward; utime is field 14, stime 15.
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// Reads the resident set size of process `pid` in KiB.
pub fn read_rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vmrss_kib(&s)
}

/// Reads the resident set size (KiB) and the thread count of process `pid`.
pub fn read_rss_and_threads(pid: u32) -> Option<(u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((parse_vmrss_kib(&s)?, parse_threads(&s)?))
}

/// Counts the open file descriptors of process `pid` (entries of `/proc/PID/fd`).
pub fn read_fd_count(pid: u32) -> Option<u64> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(dir.filter(Result::is_ok).count() as u64)
}

/// Reads user + system CPU time of process `pid` (all threads) in clock ticks.
pub fn read_cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_cpu_ticks(&s)
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 when unknown).
pub fn clock_ticks_per_sec() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t: &u64| t > 0)
        .unwrap_or(100)
}

/// Extracts the first `model name` from the text of `/proc/cpuinfo`.
pub fn parse_cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == "model name").then(|| v.trim().to_string())
    })
}

/// Reads a one-line kernel parameter such as `/proc/sys/net/core/somaxconn`.
pub fn read_trimmed(path: impl AsRef<Path>) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\techo-tcp\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t  12345 kB\nVmRSS:\t    4321 kB\nRssAnon:\t 1000 kB\n";

    #[test]
    fn vmrss() {
        assert_eq!(parse_vmrss_kib(STATUS), Some(4321));
        assert_eq!(parse_vmrss_kib("Name: x\n"), None);
        assert_eq!(parse_vmrss_kib("VmRSS: 12 MB\n"), None);
        assert_eq!(parse_threads("Name: x\nThreads:\t7\n"), Some(7));
        assert_eq!(parse_threads(STATUS), None);
    }

    #[test]
    fn stat_cpu() {
        let stat = "1234 (my (weird) prog) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 3 0 100 1000 200 18446744073709551615";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(281));
        assert_eq!(parse_stat_cpu_ticks("1234 (x) S 1 2"), None);
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn stat_of_self_parses() {
        let s = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
        assert!(parse_stat_cpu_ticks(&s).is_some());
        let st = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
        assert!(parse_vmrss_kib(&st).is_some_and(|k| k > 0));
        assert!(parse_threads(&st).is_some_and(|t| t > 0));
        let me = std::process::id();
        assert!(read_fd_count(me).is_some_and(|n| n >= 3));
        assert!(read_rss_and_threads(me).is_some());
    }

    #[test]
    fn cpu_model() {
        let info = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t: fpu\n";
        assert_eq!(parse_cpu_model(info).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(parse_cpu_model("processor : 0\n"), None);
    }
}
