//! `ws-bench --cluster`: three of our nodes on a private Redis, measured side by side with one
//! node.
//!
//! The run ([`run`]) starts its own `redis-server` ([`redis`]) and three `ws-cli` demo nodes on
//! it ([`nodes`]), then measures: push-by-id latency to a receiver on node 1, the request sent
//! to node 1 vs to node 2 ([`push_latency`]); fan-out of a lobby message to N receivers all on
//! node 1 vs spread over the three nodes ([`fanout`]); and what a Redis restart under load
//! costs, in messages lost or duplicated per receiver ([`restart`]). Every process it started
//! is killed by PID at the end; nothing leaves 127.0.0.1.
//!
//! Timings are recorded, never asserted. The run fails (exit 1) when a node or Redis cannot be
//! started, a measurement cannot be taken, a node died, or a message was lost or duplicated
//! while Redis was up (the cluster promises exactly once then).

mod fanout;
mod nodes;
mod push_latency;
mod redis;
mod restart;
mod run;

pub(crate) use run::main_with;

use crate::report::Spread;
use crate::stats;

/// p50 / p99 / max of `ns` (nanoseconds) in ms; sorts `ns`.
fn spread(ns: &mut [u64]) -> Option<Spread> {
    let (p50, p99) = stats::p50_p99(ns)?;
    let max = ns.last().copied().unwrap_or(p99);
    let ms = |v: u64| v as f64 / 1e6;
    Some(Spread {
        p50: ms(p50),
        p99: ms(p99),
        max: ms(max),
    })
}

/// The number after `prefix` at the start of `payload` (`fan-12` → 12).
fn seq_after(payload: &[u8], prefix: &str) -> Option<u64> {
    let rest = payload.strip_prefix(prefix.as_bytes())?;
    std::str::from_utf8(rest).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers() {
        assert_eq!(seq_after(b"fan-12", "fan-"), Some(12));
        assert_eq!(seq_after(b"fan-", "fan-"), None);
        assert_eq!(seq_after(b"rs-1x", "rs-"), None);
        assert_eq!(seq_after(b"push-3", "fan-"), None);
    }

    #[test]
    fn spreads() {
        let mut ns: Vec<u64> = (1..=100).map(|i| i * 1_000_000).collect();
        let s = spread(&mut ns).expect("spread");
        assert_eq!((s.p50, s.p99, s.max), (50.0, 99.0, 100.0));
        assert!(spread(&mut []).is_none());
    }
}
