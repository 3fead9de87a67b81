//! The cluster run's report: its figures ([`ClusterReport`]) and their Markdown (the
//! "Cluster" section of `BENCHMARKS.md`, spliced in place like the "Soak" section).

use std::fmt::Write as _;

use super::section::{section, splice_section};
use super::units::{fmt_count, fmt_num, fmt_ratio};

/// Heading of the cluster section.
pub const CLUSTER_HEADING: &str = "## Cluster";

/// p50 / p99 / max of a set of timings, ms.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Spread {
    /// Median.
    pub p50: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// One side (one node, or across nodes) of a measurement.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Side {
    /// Timings, ms (None: nothing measured).
    pub ms: Option<Spread>,
    /// Samples behind them.
    pub samples: usize,
    /// Deliveries that never came (within the measurement's bound).
    pub lost: u64,
    /// Deliveries that came more than once.
    pub duplicated: u64,
}

/// One receiver of the Redis restart measurement.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RestartRow {
    /// Which receiver (`node 2`).
    pub receiver: String,
    /// Distinct messages received.
    pub received: u64,
    /// Messages sent but never received.
    pub lost: u64,
    /// Receipts of a message already received.
    pub duplicated: u64,
    /// Messages that came after a later one.
    pub reordered: u64,
    /// The longest time between two receipts, ms (the outage as this receiver saw it).
    pub longest_gap_ms: f64,
    /// Sequence numbers of the first and last lost message, if any.
    pub lost_range: Option<(u64, u64)>,
}

/// The Redis restart measurement.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Restart {
    /// Messages sent.
    pub sent: u64,
    /// Messages a second.
    pub rate: u32,
    /// Seconds of publishing.
    pub secs: f64,
    /// When Redis was killed, seconds after the first message.
    pub killed_at_secs: f64,
    /// From the kill until the new Redis answered `PING`, ms.
    pub redis_down_ms: f64,
    /// One row per receiver.
    pub rows: Vec<RestartRow>,
}

/// Everything the cluster section shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClusterReport {
    /// The command that produced it.
    pub command: String,
    /// UTC time stamp.
    pub generated: String,
    /// One line on the machine.
    pub machine: String,
    /// Seconds the whole run took.
    pub secs: f64,
    /// What ran, one line each.
    pub setup: Vec<String>,
    /// `POST /push?id=` to a receiver on node 1, sent to node 1 and to node 2.
    pub push_same: Side,
    /// See [`ClusterReport::push_same`].
    pub push_cross: Side,
    /// Receivers of the fan-out.
    pub fanout_receivers: usize,
    /// Fan-out to every receiver on node 1 (the time until the last one had it).
    pub fanout_single: Side,
    /// Fan-out to receivers spread over three nodes.
    pub fanout_cross: Side,
    /// Per node of the spread fan-out: (node, receivers, p50 / p99 of its last receiver, ms).
    pub fanout_nodes: Vec<(String, usize, Option<Spread>)>,
    /// The Redis restart under load.
    pub restart: Option<Restart>,
    /// Measurements that could not be taken, and other failures.
    pub failures: Vec<String>,
}

/// Picks one figure of a [`Spread`].
type Pick = fn(&Spread) -> f64;

fn spread_cell(s: &Side, f: Pick) -> String {
    s.ms.as_ref().map_or_else(|| "–".into(), |m| fmt_num(f(m)))
}

fn ratio_cell(cross: &Side, same: &Side, f: Pick) -> String {
    match (&cross.ms, &same.ms) {
        (Some(c), Some(s)) => fmt_ratio(f(c), Some(f(s))),
        _ => "–".into(),
    }
}

/// Renders the cluster section (from [`CLUSTER_HEADING`] to its end).
pub fn render_cluster_markdown(r: &ClusterReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{CLUSTER_HEADING}\n");
    let _ = writeln!(
        out,
        "Three ws-cli nodes (the demo) on one private `redis-server`: {} s in all, generated {} \
         by `{}` on {}.\n",
        fmt_num(r.secs),
        r.generated,
        r.command,
        r.machine
    );
    for s in &r.setup {
        let _ = writeln!(out, "- {s}");
    }
    out.push('\n');
    if !r.failures.is_empty() {
        out.push_str("**FAILURES (the run exited non-zero):**\n\n");
        for f in &r.failures {
            let _ = writeln!(out, "- {}", f.replace('\n', " "));
        }
        out.push('\n');
    }
    out.push_str("| figure | one node | across nodes | across ÷ one |\n|---|---:|---:|---:|\n");
    let rows: [(&str, &Side, &Side); 2] = [
        ("push by id (`POST /push?id=`)", &r.push_same, &r.push_cross),
        (
            "fan-out to the lobby, until the last receiver",
            &r.fanout_single,
            &r.fanout_cross,
        ),
    ];
    let spreads: [(&str, Pick); 3] = [("p50", |s| s.p50), ("p99", |s| s.p99), ("max", |s| s.max)];
    for (i, (label, one, across)) in rows.iter().enumerate() {
        let label = if i == 1 {
            format!("{label} ({} receivers)", fmt_count(r.fanout_receivers))
        } else {
            (*label).to_string()
        };
        for (p, f) in spreads {
            let _ = writeln!(
                out,
                "| {label}, {p}, ms | {} | {} | {} |",
                spread_cell(one, f),
                spread_cell(across, f),
                ratio_cell(across, one, f)
            );
        }
        let _ = writeln!(
            out,
            "| {label}: samples / lost / duplicated | {} / {} / {} | {} / {} / {} | |",
            fmt_count(one.samples),
            one.lost,
            one.duplicated,
            fmt_count(across.samples),
            across.lost,
            across.duplicated
        );
    }
    if !r.fanout_nodes.is_empty() {
        out.push_str(
            "\nFan-out across nodes, per node: the time until the last receiver of that node \
             had the message (the sender is on node 1).\n\n",
        );
        out.push_str(
            "| node | receivers | last receiver p50, ms | p99, ms |\n|---|---:|---:|---:|\n",
        );
        for (node, n, s) in &r.fanout_nodes {
            let (p50, p99) = s.map_or(("–".into(), "–".into()), |s| {
                (fmt_num(s.p50), fmt_num(s.p99))
            });
            let _ = writeln!(out, "| {node} | {} | {p50} | {p99} |", fmt_count(*n));
        }
    }
    if let Some(x) = &r.restart {
        let _ = writeln!(
            out,
            "\nRedis restart under load: {} numbered messages at {}/s for {} s from a `/chat` \
             client on node 1 to the lobby; Redis killed (SIGKILL) {} s in and started again on \
             the same port: down for {} ms until it answered `PING`.\n",
            fmt_count(usize::try_from(x.sent).unwrap_or(usize::MAX)),
            x.rate,
            fmt_num(x.secs),
            fmt_num(x.killed_at_secs),
            fmt_num(x.redis_down_ms)
        );
        out.push_str(
            "| receiver | received | lost | duplicated | out of order | lost messages | longest gap, ms |\n\
             |---|---:|---:|---:|---:|---|---:|\n",
        );
        for row in &x.rows {
            let range = row
                .lost_range
                .map_or_else(|| "none".into(), |(a, b)| format!("#{a} … #{b}"));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {range} | {} |",
                row.receiver,
                fmt_count(usize::try_from(row.received).unwrap_or(usize::MAX)),
                row.lost,
                row.duplicated,
                row.reordered,
                fmt_num(row.longest_gap_ms)
            );
        }
    }
    out.push_str(
        "\nHow to read it: \"across ÷ one\" is what the trip through Redis costs. A push by id \
         to a connection on another node is published to that node's channel and acknowledged; \
         a room message reaches the other nodes once per node, and each node then delivers it \
         locally, so the per-node times show the Redis hop plus that node's own fan-out; with the receivers \
         spread, each node writes to a third of them, so fan-out across nodes can beat one node \
         (a ratio below 1) when the writes cost more than the hop. Lost \
         and duplicated must be 0 while Redis is up (exactly once). Across a Redis outage the \
         guarantee is at most once: messages published while the nodes are cut off from Redis \
         are lost for the other nodes (pub/sub keeps nothing), none may arrive twice. The \
         sender's row is its own node's local delivery, which needs no Redis: a gap there \
         means the sender's messages were held up on its node too. The longest gap is the \
         outage as each receiver saw it, and the lost messages' numbers say when in the run \
         they were sent.\n",
    );
    out
}

/// The cluster section of `doc`, if any.
pub fn cluster_section(doc: &str) -> Option<&str> {
    section(doc, CLUSTER_HEADING)
}

/// `doc` with its cluster section replaced by `section` (appended if it has none).
pub fn splice_cluster_section(doc: &str, section: &str) -> String {
    splice_section(doc, CLUSTER_HEADING, section)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_both_sides_and_the_restart() {
        let side = |p50: f64| Side {
            ms: Some(Spread {
                p50,
                p99: p50 * 2.0,
                max: p50 * 3.0,
            }),
            samples: 1_000,
            lost: 0,
            duplicated: 0,
        };
        let r = ClusterReport {
            command: "ws-bench --cluster".into(),
            push_same: side(0.1),
            push_cross: side(0.4),
            fanout_receivers: 1_000,
            fanout_single: side(2.0),
            fanout_cross: side(3.0),
            fanout_nodes: vec![("node 2".into(), 333, Some(Spread::default()))],
            restart: Some(Restart {
                sent: 9_000,
                rate: 300,
                secs: 30.0,
                killed_at_secs: 15.0,
                redis_down_ms: 1_500.0,
                rows: vec![RestartRow {
                    receiver: "node 2".into(),
                    received: 8_400,
                    lost: 600,
                    lost_range: Some((4_500, 5_099)),
                    longest_gap_ms: 2_000.0,
                    ..RestartRow::default()
                }],
            }),
            ..ClusterReport::default()
        };
        let md = render_cluster_markdown(&r);
        assert!(md.starts_with("## Cluster\n"), "{md}");
        assert!(
            md.contains("| push by id (`POST /push?id=`), p50, ms | 0.100 | 0.400 | 4.00× |"),
            "{md}"
        );
        assert!(
            md.contains("(1,000 receivers), p99, ms | 4.00 | 6.00 | 1.50× |"),
            "{md}"
        );
        assert!(
            md.contains("| node 2 | 8,400 | 600 | 0 | 0 | #4500 … #5099 | 2,000 |"),
            "{md}"
        );
        assert!(!md.contains("FAILURES"), "{md}");
        let doc = splice_cluster_section("# B\n\n## Soak\n\ns\n", &md);
        assert_eq!(cluster_section(&doc), Some(md.as_str()));
    }
}
