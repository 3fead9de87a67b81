//! Parsing of callgrind output files.

/// Total instruction count (`summary:` or `totals:` line) of a callgrind
/// output file.
pub fn parse_total_ir(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l
            .strip_prefix("summary:")
            .or_else(|| l.strip_prefix("totals:"))?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Instructions per message from a run with `n` messages and one with none.
pub fn per_message(with_n: u64, baseline: u64, n: u64) -> Option<f64> {
    (n > 0 && with_n >= baseline).then(|| (with_n - baseline) as f64 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_summary_and_totals() {
        let out = "# callgrind format\nversion: 1\ncmd: ./echo\nevents: Ir\nfl=(1) x.rs\nfn=(1) main\n3 4\n\nsummary: 123456\ntotals: 123456\n";
        assert_eq!(parse_total_ir(out), Some(123_456));
        assert_eq!(parse_total_ir("totals: 99 1\n"), Some(99));
        assert_eq!(parse_total_ir("events: Ir\n"), None);
    }

    #[test]
    fn per_message_difference() {
        assert_eq!(per_message(3_000, 1_000, 2_000), Some(1.0));
        assert_eq!(per_message(900, 1_000, 2_000), None);
        assert_eq!(per_message(900, 100, 0), None);
    }
}
