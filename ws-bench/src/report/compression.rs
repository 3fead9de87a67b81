//! The "Compression" section of `BENCHMARKS.md`, written by `--deflate` and kept by the other
//! modes (it is one of [`KEPT_HEADINGS`](super::KEPT_HEADINGS)).

/// The heading of the compression section.
pub const COMPRESSION_HEADING: &str = "## Compression";
