//! The harness's error type.

use std::time::Duration;

/// Everything that can go wrong while benchmarking.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Socket or process I/O failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The WebSocket layer reported an error.
    #[error("websocket: {0}")]
    Ws(#[from] fastwebsockets::WebSocketError),
    /// The server's upgrade response was not a valid `101 Switching Protocols`.
    #[error("handshake: {0}")]
    Handshake(String),
    /// The server did not echo the message exactly (a correctness failure).
    #[error("wrong echo: {0}")]
    Echo(String),
    /// An operation did not complete within its time bound.
    #[error("timed out after {after:?}: {what}")]
    Timeout {
        /// What was being waited for.
        what: String,
        /// The bound that was exceeded.
        after: Duration,
    },
    /// A server process failed to start, or died.
    #[error("server: {0}")]
    Server(String),
    /// The run was interrupted (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
}

impl BenchError {
    /// Builds a [`BenchError::Timeout`].
    pub fn timeout(what: impl Into<String>, after: Duration) -> Self {
        BenchError::Timeout {
            what: what.into(),
            after,
        }
    }
}

/// Runs `fut` with a time bound, mapping expiry to [`BenchError::Timeout`].
pub async fn within<T>(
    after: Duration,
    what: &str,
    fut: impl std::future::Future<Output = Result<T, BenchError>>,
) -> Result<T, BenchError> {
    match tokio::time::timeout(after, fut).await {
        Ok(r) => r,
        Err(_) => Err(BenchError::timeout(what, after)),
    }
}
