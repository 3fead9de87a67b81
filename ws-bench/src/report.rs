//! The report: data model, Markdown rendering (printed and written to
//! `BENCHMARKS.md`), and the small parsers that fill in machine and versions.

use std::fmt::Write as _;

/// Whether a server could be measured.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnStatus {
    /// Started and measured.
    Ok,
    /// Its binary is missing.
    NotBuilt(String),
    /// It failed (did not start, died, or echoed wrongly).
    Failed(String),
}

/// One server = one column of every table.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Header label.
    pub label: String,
    /// Status, listed under "Servers".
    pub status: ColumnStatus,
}

/// Medians over the repetitions of one (server, payload, connections) cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellSummary {
    /// Median echoed messages per second.
    pub msgs_per_sec: f64,
    /// Median of the per-repetition p50 round-trip latencies, µs.
    pub p50_us: f64,
    /// Median of the per-repetition p99 round-trip latencies, µs.
    pub p99_us: f64,
    /// Median server CPU per message, µs.
    pub cpu_us_per_msg: Option<f64>,
    /// Repetitions that went into the medians.
    pub reps: usize,
}

/// A table entry: a number or a note (`n/a`, `not built`, `skipped: ...`).
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<T> {
    /// A measurement.
    Value(T),
    /// Why there is no measurement.
    Note(String),
}

impl<T> Entry<T> {
    /// Shorthand for [`Entry::Note`].
    pub fn note(s: impl Into<String>) -> Self {
        Entry::Note(s.into())
    }

    fn value(&self) -> Option<&T> {
        match self {
            Entry::Value(v) => Some(v),
            Entry::Note(_) => None,
        }
    }
}

/// One matrix row: payload size × connections, one entry per column.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Payload bytes.
    pub size: usize,
    /// Concurrent connections.
    pub conns: usize,
    /// One entry per column.
    pub entries: Vec<Entry<CellSummary>>,
}

/// A per-server metric (one row of the "other metrics" table).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    /// Row label including the unit.
    pub label: String,
    /// True if larger is better (only used in the legend).
    pub higher_is_better: bool,
    /// One entry per column.
    pub entries: Vec<Entry<f64>>,
}

/// Everything the report shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// `quick` or `full`.
    pub mode: String,
    /// Quick runs are smoke runs: marked as such everywhere.
    pub smoke: bool,
    /// The command that produced it.
    pub command: String,
    /// UTC time stamp.
    pub generated: String,
    /// Machine facts (cpu, cores, kernel, limits...).
    pub machine: Vec<(String, String)>,
    /// Tool and crate versions.
    pub versions: Vec<(String, String)>,
    /// Run settings (repetitions, windows, pinning...).
    pub settings: Vec<(String, String)>,
    /// The servers.
    pub columns: Vec<Column>,
    /// Column index of raw fastwebsockets (the ratio baseline), if measured.
    pub baseline: Option<usize>,
    /// The echo matrix.
    pub rows: Vec<Row>,
    /// Per-server metrics: idle memory, handshakes, fan-out, instructions.
    pub metrics: Vec<MetricRow>,
    /// Free-form notes.
    pub notes: Vec<String>,
    /// Correctness failures (non-empty means the run exits non-zero).
    pub failures: Vec<String>,
}

/// Human size: `20 B`, `1 KiB`, `16 KiB`, `1 MiB`.
pub fn fmt_size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} B")
    }
}

/// Parses `20`, `20B`, `1KiB`, `16k`, `1MiB`, `1m` into bytes.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim().to_ascii_lowercase();
    let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
    let n: usize = digits.parse().map_err(|_| format!("bad size {s:?}"))?;
    let mult = match t[digits.len()..].trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        other => return Err(format!("bad size unit {other:?} in {s:?}")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} too large"))
}

/// Number with thousands separators (>= 100) or 2-3 significant digits.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    if a >= 100.0 {
        let out = fmt_count(a.round() as usize);
        if v < 0.0 {
            format!("-{out}")
        } else {
            out
        }
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Integer with thousands separators: `10,000`.
pub fn fmt_count(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `value / baseline` as `0.93×`, or `–` if there is no usable baseline.
pub fn fmt_ratio(value: f64, baseline: Option<f64>) -> String {
    match baseline {
        Some(b) if b != 0.0 && b.is_finite() && value.is_finite() => format!("{:.2}×", value / b),
        _ => "–".into(),
    }
}

fn header(out: &mut String, first: &str, cols: &[Column]) {
    let _ = write!(out, "| {first} |");
    for c in cols {
        let _ = write!(out, " {} |", c.label);
    }
    out.push_str("\n|---|");
    for _ in cols {
        out.push_str("---:|");
    }
    out.push('\n');
}

fn matrix_table(
    out: &mut String,
    r: &Report,
    title: &str,
    legend: &str,
    cell: impl Fn(&CellSummary, Option<&CellSummary>) -> Option<String>,
) {
    let _ = writeln!(out, "### {title}\n\n{legend}\n");
    header(out, "payload × conns", &r.columns);
    for row in &r.rows {
        let _ = write!(out, "| {} × {} |", fmt_size(row.size), fmt_count(row.conns));
        let base = r
            .baseline
            .and_then(|b| row.entries.get(b))
            .and_then(Entry::value);
        for e in &row.entries {
            let text = match e {
                Entry::Value(v) => cell(v, base).unwrap_or_else(|| "n/a".into()),
                Entry::Note(n) => n.clone(),
            };
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
    out.push('\n');
}

/// Renders the whole report as Markdown.
pub fn render_markdown(r: &Report) -> String {
    let mut out = String::new();
    out.push_str("# WebSocket server benchmarks\n\n");
    if r.smoke {
        out.push_str(
            "> **SMOKE RUN (`--quick`)** — a short check that the harness and every server work. \
             Windows are short and there is one repetition: these numbers are NOT benchmark results. \
             Run `--full` for numbers worth comparing.\n\n",
        );
    }
    let _ = writeln!(
        out,
        "Mode: **{}**. Generated {} by `{}`.\n",
        r.mode, r.generated, r.command
    );
    if !r.failures.is_empty() {
        out.push_str("**FAILURES (the run exited non-zero):**\n\n");
        for f in &r.failures {
            let _ = writeln!(out, "- {}", f.replace('\n', " "));
        }
        out.push('\n');
    }
    for (title, kv) in [
        ("Machine", &r.machine),
        ("Versions", &r.versions),
        ("Settings", &r.settings),
    ] {
        let _ = writeln!(out, "## {title}\n\n| | |\n|---|---|");
        for (k, v) in kv {
            let _ = writeln!(out, "| {k} | {v} |");
        }
        out.push('\n');
    }
    out.push_str("## Servers\n\n");
    for c in &r.columns {
        let status = match &c.status {
            ColumnStatus::Ok => "measured".to_string(),
            ColumnStatus::NotBuilt(p) => format!("**not built** ({p})"),
            ColumnStatus::Failed(e) => format!("**FAILED**: {}", e.replace('\n', " ")),
        };
        let _ = writeln!(out, "- {}: {status}", c.label);
    }
    out.push_str("\n## Echo matrix (medians over repetitions)\n\n");
    let ratio_note = match r.baseline {
        Some(_) => "Ratios are value ÷ raw fastwebsockets in the same cell.",
        None => "No ratios: raw fastwebsockets was not measured.",
    };
    matrix_table(
        &mut out,
        r,
        "Throughput, messages/second",
        &format!("Echoed messages per second over the window (higher is better). {ratio_note}"),
        |v, b| {
            Some(format!(
                "{} ({})",
                fmt_num(v.msgs_per_sec),
                fmt_ratio(v.msgs_per_sec, b.map(|b| b.msgs_per_sec))
            ))
        },
    );
    matrix_table(
        &mut out,
        r,
        "Server CPU per echoed message, µs",
        &format!(
            "utime+stime of the server process from /proc/PID/stat over the window ÷ messages \
             (lower is better; the figure that is stable on a noisy machine). {ratio_note}"
        ),
        |v, b| {
            let c = v.cpu_us_per_msg?;
            Some(format!(
                "{} ({})",
                fmt_num(c),
                fmt_ratio(c, b.and_then(|b| b.cpu_us_per_msg))
            ))
        },
    );
    matrix_table(
        &mut out,
        r,
        "Round-trip latency p50 / p99, µs",
        &format!("Client-side send→echo time (lower is better). {ratio_note}"),
        |v, b| {
            Some(format!(
                "{} / {} ({} / {})",
                fmt_num(v.p50_us),
                fmt_num(v.p99_us),
                fmt_ratio(v.p50_us, b.map(|b| b.p50_us)),
                fmt_ratio(v.p99_us, b.map(|b| b.p99_us))
            ))
        },
    );
    if !r.metrics.is_empty() {
        out.push_str("## Other metrics\n\n");
        let _ = writeln!(out, "{ratio_note}\n");
        header(&mut out, "metric", &r.columns);
        for m in &r.metrics {
            let _ = write!(
                out,
                "| {} ({}) |",
                m.label,
                if m.higher_is_better {
                    "higher is better"
                } else {
                    "lower is better"
                }
            );
            let base = r
                .baseline
                .and_then(|b| m.entries.get(b))
                .and_then(Entry::value)
                .copied();
            for e in &m.entries {
                let text = match e {
                    Entry::Value(v) => format!("{} ({})", fmt_num(*v), fmt_ratio(*v, base)),
                    Entry::Note(n) => n.clone(),
                };
                let _ = write!(out, " {text} |");
            }
            out.push('\n');
        }
        out.push('\n');
    }
    if !r.notes.is_empty() {
        out.push_str("## Notes\n\n");
        for n in &r.notes {
            let _ = writeln!(out, "- {n}");
        }
        out.push('\n');
    }
    out
}

/// Versions of `names` from the text of a `Cargo.lock` (several versions of
/// one crate are joined with `, `; missing crates are left out).
pub fn lock_versions(lock: &str, names: &[&str]) -> Vec<(String, String)> {
    let mut found: Vec<(String, Vec<String>)> =
        names.iter().map(|n| (n.to_string(), Vec::new())).collect();
    for block in lock.split("[[package]]").skip(1) {
        let mut name = None;
        let mut version = None;
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("name = ") {
                name = Some(v.trim().trim_matches('"').to_string());
            } else if let Some(v) = line.strip_prefix("version = ") {
                version = Some(v.trim().trim_matches('"').to_string());
            }
        }
        if let (Some(n), Some(v)) = (name, version) {
            if let Some((_, vs)) = found.iter_mut().find(|(k, _)| *k == n) {
                if !vs.contains(&v) {
                    vs.push(v);
                }
            }
        }
    }
    found
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| (n, v.join(", ")))
        .collect()
}

/// `YYYY-MM-DD HH:MM UTC` for seconds since the Unix epoch.
pub fn fmt_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(mps: f64, cpu: f64) -> Entry<CellSummary> {
        Entry::Value(CellSummary {
            msgs_per_sec: mps,
            p50_us: 10.0,
            p99_us: 20.0,
            cpu_us_per_msg: Some(cpu),
            reps: 1,
        })
    }

    fn sample() -> Report {
        Report {
            mode: "quick".into(),
            smoke: true,
            command: "cargo run --release -p ws-bench -- --quick".into(),
            generated: "2025-01-01 00:00 UTC".into(),
            machine: vec![("cpu".into(), "Test CPU".into())],
            versions: vec![("rustc".into(), "1.95.0".into())],
            settings: vec![("repetitions".into(), "1".into())],
            columns: vec![
                Column {
                    label: "ws-cli (ours)".into(),
                    status: ColumnStatus::NotBuilt("target/release/ws-cli".into()),
                },
                Column {
                    label: "fastwebsockets".into(),
                    status: ColumnStatus::Ok,
                },
                Column {
                    label: "raw TCP".into(),
                    status: ColumnStatus::Ok,
                },
            ],
            baseline: Some(1),
            rows: vec![Row {
                size: 20,
                conns: 100,
                entries: vec![
                    Entry::note("not built"),
                    summary(50_000.0, 4.0),
                    summary(100_000.0, 2.0),
                ],
            }],
            metrics: vec![MetricRow {
                label: "fan-out to 100, ms".into(),
                higher_is_better: false,
                entries: vec![
                    Entry::note("not built"),
                    Entry::note("n/a"),
                    Entry::note("n/a"),
                ],
            }],
            notes: vec!["a note".into()],
            failures: vec![],
        }
    }

    #[test]
    fn renders_tables_and_ratios() {
        let md = render_markdown(&sample());
        assert!(md.contains("SMOKE RUN"));
        assert!(md.contains("| payload × conns | ws-cli (ours) | fastwebsockets | raw TCP |"));
        assert!(md.contains("| 20 B × 100 | not built | 50,000 (1.00×) | 100,000 (2.00×) |"));
        assert!(md.contains("| 20 B × 100 | not built | 4.00 (1.00×) | 2.00 (0.50×) |"));
        assert!(md.contains("10.0 / 20.0 (1.00× / 1.00×)"));
        assert!(md.contains("- ws-cli (ours): **not built** (target/release/ws-cli)"));
        assert!(md.contains("| fan-out to 100, ms (lower is better) | not built | n/a | n/a |"));
        assert!(md.contains("| cpu | Test CPU |"));
        assert!(!md.contains("FAILURES"));
    }

    #[test]
    fn full_run_is_not_marked_smoke_and_failures_show() {
        let mut r = sample();
        r.smoke = false;
        r.baseline = None;
        r.failures.push("ours: wrong echo".into());
        let md = render_markdown(&r);
        assert!(!md.contains("SMOKE RUN"));
        assert!(md.contains("FAILURES"));
        assert!(md.contains("50,000 (–)"));
    }

    #[test]
    fn numbers_and_sizes() {
        assert_eq!(fmt_num(1234567.4), "1,234,567");
        assert_eq!(fmt_num(123.4), "123");
        assert_eq!(fmt_num(12.34), "12.3");
        assert_eq!(fmt_num(1.234), "1.23");
        assert_eq!(fmt_num(0.1234), "0.123");
        assert_eq!(fmt_num(-1500.0), "-1,500");
        assert_eq!(fmt_count(1), "1");
        assert_eq!(fmt_count(10_000), "10,000");
        assert_eq!(fmt_ratio(3.0, Some(2.0)), "1.50×");
        assert_eq!(fmt_ratio(3.0, Some(0.0)), "–");
        assert_eq!(fmt_size(20), "20 B");
        assert_eq!(fmt_size(1024), "1 KiB");
        assert_eq!(fmt_size(16 * 1024), "16 KiB");
        assert_eq!(fmt_size(1 << 20), "1 MiB");
        assert_eq!(fmt_size(1500), "1500 B");
        assert_eq!(parse_size("20"), Ok(20));
        assert_eq!(parse_size("16KiB"), Ok(16384));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert!(parse_size("x").is_err());
        assert!(parse_size("3 parsecs").is_err());
    }

    #[test]
    fn lock_parsing() {
        let lock = "version = 4\n\n[[package]]\nname = \"tokio\"\nversion = \"1.40.0\"\nsource = \"x\"\n\n\
                    [[package]]\nname = \"tungstenite\"\nversion = \"0.26.2\"\n\n[[package]]\nname = \"tungstenite\"\nversion = \"0.24.0\"\n";
        assert_eq!(
            lock_versions(lock, &["tokio", "tungstenite", "axum"]),
            vec![
                ("tokio".into(), "1.40.0".into()),
                ("tungstenite".into(), "0.26.2, 0.24.0".into())
            ]
        );
    }

    #[test]
    fn utc() {
        assert_eq!(fmt_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(fmt_utc(1_700_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(fmt_utc(951_782_400), "2000-02-29 00:00 UTC");
    }
}
