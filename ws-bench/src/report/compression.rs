//! The "Compression" section of `BENCHMARKS.md`, written by `--deflate` and kept by the other
//! modes.

use super::section::{section, splice_section};

/// The heading of the compression section.
pub const COMPRESSION_HEADING: &str = "## Compression";

/// The compression section of `doc`, if any.
pub fn compression_section(doc: &str) -> Option<&str> {
    section(doc, COMPRESSION_HEADING)
}

/// `doc` with its compression section replaced by `section` (appended if it has none).
pub fn splice_compression_section(doc: &str, section: &str) -> String {
    splice_section(doc, COMPRESSION_HEADING, section)
}
