//! How the soak's clients ended, counted: one [`Tally`] per client kind, one line per outcome
//! (`close 1008`, `401 after the head`, `no answer within 20 s`), with the longest time an
//! outcome took.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Count and longest duration of one outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Outcome {
    /// How many times it happened.
    pub(crate) count: u64,
    /// The longest time it took (from the start of the attempt), seconds.
    pub(crate) max_secs: f64,
}

/// Outcomes by label, shared by the tasks of one client kind (cheap to clone).
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally(Arc<Mutex<BTreeMap<String, Outcome>>>);

impl Tally {
    /// Counts one `label` that took `took`.
    pub(crate) fn add(&self, label: impl Into<String>, took: Duration) {
        if let Ok(mut m) = self.0.lock() {
            let o = m.entry(label.into()).or_default();
            o.count += 1;
            o.max_secs = o.max_secs.max(took.as_secs_f64());
        }
    }

    /// The outcomes so far, by label.
    pub(crate) fn snapshot(&self) -> Vec<(String, Outcome)> {
        self.0
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }

    /// How many outcomes were counted in all.
    pub(crate) fn total(&self) -> u64 {
        self.snapshot().iter().map(|(_, o)| o.count).sum()
    }
}

/// A short label for a client-side error: `TCP reset`, `EOF`, `timed out`, else the error
/// text cut to 60 characters.
pub(crate) fn error_label(e: &crate::error::BenchError) -> String {
    use crate::error::BenchError;
    use fastwebsockets::WebSocketError;
    let io_label = |e: &std::io::Error| match e.kind() {
        std::io::ErrorKind::ConnectionReset => "TCP reset".to_string(),
        std::io::ErrorKind::BrokenPipe => "broken pipe".to_string(),
        std::io::ErrorKind::UnexpectedEof => "EOF without a close frame".to_string(),
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        _ => format!("i/o: {e}"),
    };
    let text = match e {
        BenchError::Io(io) => io_label(io),
        BenchError::Ws(WebSocketError::IoError(io)) => io_label(io),
        BenchError::Ws(WebSocketError::ConnectionClosed | WebSocketError::UnexpectedEOF) => {
            "EOF without a close frame".to_string()
        }
        BenchError::Timeout { what, after } => format!("timed out ({what}, {after:?})"),
        other => other.to_string(),
    };
    text.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::BenchError;

    #[test]
    fn counts_and_max() {
        let t = Tally::default();
        t.add("a", Duration::from_secs(1));
        t.clone().add("a", Duration::from_secs(3));
        t.add("b", Duration::ZERO);
        let s = t.snapshot();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0, "a");
        assert_eq!(s[0].1.count, 2);
        assert_eq!(s[0].1.max_secs, 3.0);
        assert_eq!(t.total(), 3);
    }

    #[test]
    fn labels() {
        let reset = BenchError::Io(std::io::ErrorKind::ConnectionReset.into());
        assert_eq!(error_label(&reset), "TCP reset");
        let eof = BenchError::Ws(fastwebsockets::WebSocketError::ConnectionClosed);
        assert_eq!(error_label(&eof), "EOF without a close frame");
        assert!(error_label(&BenchError::Server("x".repeat(200))).len() <= 60);
    }
}
