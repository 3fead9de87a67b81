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
pub use compression::{compression_section, splice_compression_section, COMPRESSION_HEADING};
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
pub use units::{fmt_count, fmt_num, fmt_ratio, fmt_size, fmt_utc, parse_size};
