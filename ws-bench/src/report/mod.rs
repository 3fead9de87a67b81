//! The report: data model, Markdown rendering (printed and written to
//! `BENCHMARKS.md`), and the small parsers that fill in machine and versions.
//!
//! One concept per file: the model ([`Report`] and its rows), the Markdown
//! ([`render_markdown`]), number and size formats ([`fmt_num`], [`parse_size`], ...), and
//! the `Cargo.lock` reader ([`lock_versions`]), and the soak run's section
//! ([`SoakReport`], [`render_soak_markdown`], [`splice_soak_section`]) and the cluster
//! run's ([`ClusterReport`], [`render_cluster_markdown`], [`splice_cluster_section`]), and
//! the TLS run's ([`render_tls_section`], [`splice_tls_section`]).

mod cluster;
mod compression;
mod lock;
mod markdown;
mod model;
mod section;
mod soak;
mod tls;
mod units;

pub use cluster::{
    cluster_section, render_cluster_markdown, splice_cluster_section, ClusterReport, Restart,
    RestartRow, Side, Spread, CLUSTER_HEADING,
};
pub use compression::COMPRESSION_HEADING;
pub use lock::lock_versions;
pub use markdown::render_markdown;
pub use model::{CellSummary, Column, ColumnStatus, Entry, MetricRow, Report, Row};
pub use soak::{
    render_soak_markdown, soak_section, splice_soak_section, ClientOutcome, Footprint, SoakReport,
    SOAK_HEADING,
};
pub use tls::{
    render_tls_section, splice_tls_provider_section, splice_tls_section, tls_provider_section,
    tls_section, TLS_HEADING, TLS_PROVIDER_HEADING,
};
/// Sections of `BENCHMARKS.md` written by a mode or by hand that the echo modes keep:
/// "Fan-out" (`--fanout`), "Scale" (`--scale`), and by hand "Fan-out before and after",
/// "Sizing a node" and "Echo: system calls and allocations".
pub const KEPT_HEADINGS: [&str; 6] = [
    compression::COMPRESSION_HEADING,
    "## Fan-out",
    "## Fan-out before and after",
    "## Scale",
    "## Sizing a node",
    "## Echo: system calls and allocations",
];

/// The section of `doc` under `heading` (a `## ` line), if any.
pub fn named_section<'a>(doc: &'a str, heading: &str) -> Option<&'a str> {
    section::section(doc, heading)
}

/// `doc` with its section under `heading` replaced by `section` (appended if it has none).
pub fn splice_named_section(doc: &str, heading: &str, section: &str) -> String {
    section::splice_section(doc, heading, section)
}

pub use units::{fmt_count, fmt_num, fmt_ratio, fmt_size, fmt_utc, parse_size};
