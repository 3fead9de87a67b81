//! The report as Markdown: printed, and written to `BENCHMARKS.md`.

use std::fmt::Write as _;

use super::model::{CellSummary, Column, ColumnStatus, Entry, Report};
use super::units::{fmt_count, fmt_num, fmt_ratio, fmt_size};

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
    let ratio_note = match r.baseline.and_then(|b| r.columns.get(b)) {
        Some(c) if c.label == "fastwebsockets" => {
            "Ratios are value ÷ raw fastwebsockets in the same cell.".to_string()
        }
        Some(c) => format!("Ratios are value ÷ {} in the same cell.", c.label),
        None => "No ratios: raw fastwebsockets was not measured.".to_string(),
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

#[cfg(test)]
mod tests {
    use super::super::model::{MetricRow, Row};
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
}
