//! A `## ` section of `BENCHMARKS.md` that one mode writes in place (the "Soak" and
//! "Cluster" sections): find it, and replace it without touching the rest of the file.

/// The section of `doc` under `heading` (a `## ` line; through the next `## ` heading or the
/// end), if any.
pub(super) fn section<'a>(doc: &'a str, heading: &str) -> Option<&'a str> {
    let start = section_start(doc, heading)?;
    let end = next_heading(doc, start, heading);
    Some(&doc[start..end])
}

/// `doc` with its section under `heading` replaced by `section` (appended if it has none).
pub(super) fn splice_section(doc: &str, heading: &str, section: &str) -> String {
    let (before, after) = match section_start(doc, heading) {
        Some(start) => (&doc[..start], &doc[next_heading(doc, start, heading)..]),
        None => (doc, ""),
    };
    let mut out = before.trim_end().to_string();
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    out.push_str(section.trim_end());
    out.push('\n');
    if !after.is_empty() {
        out.push('\n');
        out.push_str(after);
    }
    out
}

fn section_start(doc: &str, heading: &str) -> Option<usize> {
    if doc.starts_with(&format!("{heading}\n")) {
        return Some(0);
    }
    doc.find(&format!("\n{heading}\n")).map(|p| p + 1)
}

fn next_heading(doc: &str, start: usize, heading: &str) -> usize {
    let body = start + heading.len();
    doc[body..]
        .find("\n## ")
        .map_or(doc.len(), |p| body + p + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_sections_side_by_side() {
        let doc = "# T\n\n## A\n\na\n\n## Soak\n\ns\n";
        let with = splice_section(doc, "## Cluster", "## Cluster\n\nc1\n");
        assert_eq!(
            with,
            "# T\n\n## A\n\na\n\n## Soak\n\ns\n\n## Cluster\n\nc1\n"
        );
        let again = splice_section(&with, "## Cluster", "## Cluster\n\nc2\n");
        assert_eq!(
            again,
            "# T\n\n## A\n\na\n\n## Soak\n\ns\n\n## Cluster\n\nc2\n"
        );
        assert_eq!(section(&again, "## Soak"), Some("## Soak\n\ns\n\n"));
        assert_eq!(section(&again, "## Cluster"), Some("## Cluster\n\nc2\n"));
        let soak = splice_section(&again, "## Soak", "## Soak\n\nt\n");
        assert_eq!(
            soak,
            "# T\n\n## A\n\na\n\n## Soak\n\nt\n\n## Cluster\n\nc2\n"
        );
    }
}
