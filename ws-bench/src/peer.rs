//! Shared command line and runtime set-up for the peer echo servers in `src/bin/`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use tokio_rustls::TlsAcceptor;

/// Command line of every peer echo server.
#[derive(Debug, Clone, Parser)]
pub struct PeerArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,
    /// Use tokio's current-thread runtime instead of the multi-thread one
    /// (whose worker count follows the CPU affinity mask, so 1 when pinned).
    #[arg(long)]
    pub current_thread: bool,
    /// Speak TLS only (tokio-rustls on ring, ALPN `http/1.1`) with this PEM certificate.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert`.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl PeerArgs {
    /// Builds the tokio runtime selected by the flags.
    pub fn runtime(&self) -> std::io::Result<tokio::runtime::Runtime> {
        if self.current_thread {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
        }
    }

    /// The TLS acceptor of `--tls-cert`/`--tls-key`, if given.
    pub fn tls(&self) -> Result<Option<TlsAcceptor>, Box<dyn std::error::Error>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => crate::tls::acceptor(cert, key).map(Some),
            _ => Ok(None),
        }
    }
}

/// Prints `listening at ws://IP:PORT` (`wss://` with `tls`) as one line on stdout and
/// flushes it; the harness waits for this line to learn the bound port.
pub fn announce(addr: SocketAddr, tls: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let scheme = if tls { "wss" } else { "ws" };
    writeln!(out, "listening at {scheme}://{addr}")?;
    out.flush()
}
