//! The standard `process_*` families, as every Prometheus client library names them, read at
//! each scrape: from `/proc/self` on Linux (nothing elsewhere).
//!
//! | family | from |
//! | --- | --- |
//! | `process_cpu_seconds_total` | `/proc/self/stat` `utime + stime`, in clock ticks of 1/100 s (`USER_HZ`, fixed by the Linux ABI) |
//! | `process_resident_memory_bytes` | `/proc/self/status` `VmRSS` |
//! | `process_virtual_memory_bytes` | `/proc/self/stat` `vsize` |
//! | `process_open_fds` | entries of `/proc/self/fd` |
//! | `process_max_fds` | the soft `RLIMIT_NOFILE` |
//! | `process_start_time_seconds` | `/proc/self/stat` `starttime` after `btime` of `/proc/stat` |

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Reads the process's figures at each scrape.
#[derive(Debug, Default)]
pub(super) struct ProcessCollector {}

impl ProcessCollector {
    pub(super) fn new() -> Self {
        Self {}
    }
}

/// One scrape's figures; each `None` when it could not be read.
#[derive(Debug, Default, PartialEq)]
struct Figures {
    cpu_seconds: Option<f64>,
    resident_bytes: Option<i64>,
    virtual_bytes: Option<i64>,
    open_fds: Option<i64>,
    max_fds: Option<i64>,
    start_time_seconds: Option<f64>,
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let f = figures();
        if let Some(v) = f.cpu_seconds {
            let m = ConstCounter::new(v);
            let e = encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                m.metric_type(),
            )?;
            m.encode(e)?;
        }
        let gauges_i = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                f.resident_bytes,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                f.virtual_bytes,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                f.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors",
                f.max_fds,
            ),
        ];
        for (name, help, value) in gauges_i {
            if let Some(v) = value {
                let m = ConstGauge::new(v);
                let e = encoder.encode_descriptor(name, help, None, m.metric_type())?;
                m.encode(e)?;
            }
        }
        if let Some(v) = f.start_time_seconds {
            let m = ConstGauge::new(v);
            let e = encoder.encode_descriptor(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds",
                None,
                m.metric_type(),
            )?;
            m.encode(e)?;
        }
        Ok(())
    }
}

#[cfg(target_os = "linux")]
fn figures() -> Figures {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let mut f = read("/proc/self/stat")
        .and_then(|stat| parse_stat(&stat, read("/proc/stat").as_deref()))
        .unwrap_or_default();
    f.resident_bytes = read("/proc/self/status").and_then(|s| parse_rss(&s));
    f.open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| i64::try_from(d.count()).unwrap_or(i64::MAX));
    f.max_fds = rlimit::Resource::NOFILE
        .get()
        .ok()
        .map(|(soft, _)| i64::try_from(soft).unwrap_or(i64::MAX));
    f
}

#[cfg(not(target_os = "linux"))]
fn figures() -> Figures {
    Figures::default()
}

/// CPU time, virtual size and start time from `/proc/self/stat` (and `btime` of `/proc/stat`).
#[cfg(any(target_os = "linux", test))]
fn parse_stat(stat: &str, proc_stat: Option<&str>) -> Option<Figures> {
    // The command name (field 2) is in parentheses and may hold spaces and parentheses: the
    // fields that follow start after the last `)`, with field 3 (state) first.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field n (1-based, as `proc(5)` numbers them) is `fields[n - 3]`.
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let (utime, stime) = (field(14)?, field(15)?);
    // Clock ticks per second of `/proc` times: `USER_HZ`, 100 on every architecture that
    // user space sees.
    let ticks = 100.0;
    let btime = proc_stat.and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<u64>().ok())
    });
    Some(Figures {
        cpu_seconds: Some((utime + stime) as f64 / ticks),
        virtual_bytes: field(23).map(|v| i64::try_from(v).unwrap_or(i64::MAX)),
        start_time_seconds: btime
            .zip(field(22))
            .map(|(b, start)| b as f64 + start as f64 / ticks),
        ..Figures::default()
    })
}

/// `VmRSS` of `/proc/self/status`, in bytes.
#[cfg(any(target_os = "linux", test))]
fn parse_rss(status: &str) -> Option<i64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kb: i64 = line.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb.saturating_mul(1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_count_after_the_command_name() {
        // A command name with a space and a parenthesis, as `proc(5)` allows.
        let stat = "4242 (ws (cli) x) S 1 4242 4242 0 -1 4194304 2000 0 0 0 \
                    250 50 0 0 20 0 9 0 1000 123456789 3000 18446744073709551615";
        let f = parse_stat(stat, Some("cpu 1 2 3\nbtime 1700000000\n")).unwrap();
        assert_eq!(f.cpu_seconds, Some(3.0));
        assert_eq!(f.virtual_bytes, Some(123_456_789));
        assert_eq!(f.start_time_seconds, Some(1_700_000_010.0));
        assert_eq!(parse_rss("Name:\tws\nVmRSS:\t  2048 kB\n"), Some(2 << 20));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_figures() {
        let f = figures();
        assert!(f.cpu_seconds.is_some());
        assert!(f.resident_bytes.is_some_and(|b| b > 0));
        assert!(f.open_fds.is_some_and(|n| n > 0));
        assert!(f.start_time_seconds.is_some_and(|t| t > 1.0e9));
    }
}
