//! What the report holds: columns (servers), the echo matrix, per-server metrics, notes.

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

    /// The measurement, if it is one.
    pub(crate) fn value(&self) -> Option<&T> {
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
