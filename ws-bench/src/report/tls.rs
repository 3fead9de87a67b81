//! The "TLS" section of `BENCHMARKS.md`, written by `--tls`: the whole report of a TLS run
//! (machine, versions, settings, echo matrix, idle memory) one heading level down, in place
//! of the section of the previous TLS run; the rest of the file is kept.

use super::section::{section, splice_section};

/// The heading of the TLS section.
pub const TLS_HEADING: &str = "## TLS";

/// The heading of the hand-written section on the build cost of the crypto provider, which
/// every mode keeps.
pub const TLS_PROVIDER_HEADING: &str = "## TLS crypto provider";

/// The TLS section made from a report rendered by [`super::render_markdown`]: its title
/// dropped, every heading one level down, under [`TLS_HEADING`].
pub fn render_tls_section(report_md: &str) -> String {
    let mut out = format!(
        "{TLS_HEADING}\n\nWebSocket over TLS (#15): ws-cli with `tls_cert`/`tls_key` beside the plain \
         ws-cli, fastwebsockets and tokio-tungstenite on tokio-rustls. Written by `--tls`; the \
         other modes keep this section.\n\n"
    );
    for line in report_md.lines() {
        if line.starts_with("# ") {
            continue;
        }
        if line.starts_with("##") {
            out.push('#');
        }
        out.push_str(line);
        out.push('\n');
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out.push('\n');
    out
}

/// The TLS section of `doc`, if any.
pub fn tls_section(doc: &str) -> Option<&str> {
    section(doc, TLS_HEADING)
}

/// The crypto-provider section of `doc`, if any.
pub fn tls_provider_section(doc: &str) -> Option<&str> {
    section(doc, TLS_PROVIDER_HEADING)
}

/// `doc` with its TLS section replaced by `section` (appended if it has none).
pub fn splice_tls_section(doc: &str, section: &str) -> String {
    splice_section(doc, TLS_HEADING, section)
}

/// `doc` with its crypto-provider section replaced by `section` (appended if it has none).
pub fn splice_tls_provider_section(doc: &str, section: &str) -> String {
    splice_section(doc, TLS_PROVIDER_HEADING, section)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_go_one_level_down_and_the_section_is_replaced() {
        let md = "# WebSocket server benchmarks\n\nMode: **quick**.\n\n## Machine\n\n| a |\n\n### Throughput\n\nx\n";
        let s = render_tls_section(md);
        assert!(s.starts_with("## TLS\n\n"), "{s}");
        assert!(s.contains("\n### Machine\n"), "{s}");
        assert!(s.contains("\n#### Throughput\n"), "{s}");
        assert!(!s.contains("# WebSocket"), "{s}");
        assert!(!s.contains("\n## Machine"), "{s}");
        let doc = "# T\n\n## Soak\n\ns\n\n## TLS crypto provider\n\np\n";
        let with = splice_tls_section(doc, &s);
        assert_eq!(tls_section(&with), Some(s.as_str()));
        assert_eq!(
            tls_provider_section(&with),
            Some("## TLS crypto provider\n\np\n\n")
        );
        let again = splice_tls_section(&with, "## TLS\n\nnew\n");
        assert_eq!(tls_section(&again), Some("## TLS\n\nnew\n"));
        assert!(again.contains("## TLS crypto provider\n\np\n"), "{again}");
    }
}
