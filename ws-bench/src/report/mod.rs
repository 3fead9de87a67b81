//! The report: data model, Markdown rendering (printed and written to
//! `BENCHMARKS.md`), and the small parsers that fill in machine and versions.
//!
//! One concept per file: the model ([`Report`] and its rows), the Markdown
//! ([`render_markdown`]), number and size formats ([`fmt_num`], [`parse_size`], ...), and
//! the `Cargo.lock` reader ([`lock_versions`]), and the soak run's section
//! ([`SoakReport`], [`render_soak_markdown`], [`splice_soak_section`]).

mod lock;
mod markdown;
mod model;
mod soak;
mod units;

pub use lock::lock_versions;
pub use markdown::render_markdown;
pub use model::{CellSummary, Column, ColumnStatus, Entry, MetricRow, Report, Row};
pub use soak::{
    render_soak_markdown, soak_section, splice_soak_section, ClientOutcome, Footprint, SoakReport,
    SOAK_HEADING,
};
pub use units::{fmt_count, fmt_num, fmt_ratio, fmt_size, fmt_utc, parse_size};
