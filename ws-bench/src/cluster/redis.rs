//! The run's own `redis-server`: on a free loopback port, no persistence, killed by its PID
//! (on a restart, at the end, and when dropped).

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::error::BenchError;

/// Bound on a start until Redis answers `PING`.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `redis-server` that this run started.
#[derive(Debug)]
pub(crate) struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    /// Starts one on `port` and waits (bounded) until it answers `PING`.
    pub(crate) async fn start_on(port: u16) -> Result<Self, BenchError> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                BenchError::Server(format!(
                    "cannot start redis-server ({e}); the cluster run needs it installed \
                     (Debian: apt-get install redis-server)"
                ))
            })?;
        let mut redis = Redis { child, port };
        redis.wait_ready().await?;
        Ok(redis)
    }

    async fn wait_ready(&mut self) -> Result<(), BenchError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(BenchError::Server(format!(
                    "redis-server on port {} exited at start ({status})",
                    self.port
                )));
            }
            if ping(self.addr()).await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(BenchError::timeout(
            format!("redis-server on port {} to answer PING", self.port),
            READY_TIMEOUT,
        ))
    }

    /// Its address.
    pub(crate) fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Its port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The `broker` config value that reaches it.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Whether it is still running.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills it (SIGKILL to its PID) and reaps it.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether Redis at `addr` answers `PING` with `+PONG` within a second.
async fn ping(addr: SocketAddr) -> bool {
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(b"PING\r\n").await.ok()?;
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf).await.ok()?;
        buf.get(..n).map(|b| b.starts_with(b"+PONG"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), attempt).await,
        Ok(Some(true))
    )
}

/// A loopback port nothing listens on right now.
pub(crate) fn free_port() -> Result<u16, BenchError> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}
