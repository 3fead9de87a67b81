//! A private `redis-server` for a test: on a free loopback port, no persistence, stopped (by
//! its PID) when dropped. The binary must be installed (`.ci/run` installs Debian's
//! `redis-server`); a test that needs it fails, never skips, when it is missing.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A running `redis-server`.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts one on a free port and waits until it answers `PING`.
    pub async fn start() -> Self {
        let port = free_port();
        Self::start_on(port).await
    }

    /// Starts one on `port` (e.g. again after [`RedisServer::stop`]).
    pub async fn start_on(port: u16) -> Self {
        Self::spawn(port, &[]).await
    }

    /// Starts one that requires `password` (`requirepass`).
    pub async fn with_password(password: &str) -> Self {
        Self::spawn(free_port(), &["--requirepass", password]).await
    }

    async fn spawn(port: u16, extra: &[&str]) -> Self {
        let child = Command::new("redis-server")
            .args(extra)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start redis-server ({e}): this test needs Redis installed \
                     (Debian: apt-get install redis-server; .ci/run installs it)"
                )
            });
        let mut server = Self { child, port };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&mut self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "redis-server on port {} exited at start: {status}",
                    self.port
                );
            }
            if let Ok(mut s) = tokio::net::TcpStream::connect(self.addr()).await {
                let mut buf = [0u8; 16];
                if s.write_all(b"PING\r\n").await.is_ok() {
                    if let Ok(Ok(n)) =
                        tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await
                    {
                        // `-NOAUTH` from a server with a password: it answers, it is up.
                        if buf[..n].starts_with(b"+PONG") || buf[..n].starts_with(b"-NOAUTH") {
                            return;
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server on port {} did not answer PING", self.port);
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The `broker` config value that reaches it.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops it (SIGKILL to its own PID) and waits for it to exit.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
