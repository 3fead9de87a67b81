//! Server memory per idle connection (VmRSS growth).

use std::time::Duration;

use super::conn::{close_all, open_many, Target};
use super::message::Message;
use crate::error::BenchError;
use crate::procfs;

/// Server memory per idle connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdleMemory {
    /// Connections held open.
    pub conns: usize,
    /// Server VmRSS before opening them, KiB.
    pub rss_before_kib: u64,
    /// Server VmRSS with all of them open, KiB.
    pub rss_after_kib: u64,
}

impl IdleMemory {
    /// RSS growth per connection in KiB (may be negative through noise).
    pub fn kib_per_conn(&self) -> f64 {
        (self.rss_after_kib as f64 - self.rss_before_kib as f64) / self.conns.max(1) as f64
    }
}

/// Opens `n` connections (each does one verified 20 B round trip, then stays
/// idle) and measures the server's VmRSS growth.
pub async fn idle_memory(
    target: &Target,
    n: usize,
    server_pid: u32,
) -> Result<IdleMemory, BenchError> {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = procfs::read_rss_kib(server_pid)
        .ok_or_else(|| BenchError::Server(format!("cannot read /proc/{server_pid}/status")))?;
    let warm = Message::binary(20);
    let conns = open_many(target, n, Some(&warm)).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = procfs::read_rss_kib(server_pid)
        .ok_or_else(|| BenchError::Server(format!("cannot read /proc/{server_pid}/status")))?;
    close_all(conns).await;
    Ok(IdleMemory {
        conns: n,
        rss_before_kib: before,
        rss_after_kib: after,
    })
}
