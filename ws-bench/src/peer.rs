//! Shared command line and runtime set-up for the peer echo servers in `src/bin/`.

use std::io::Write;
use std::net::SocketAddr;

use clap::Parser;

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
}

/// Prints `listening at ws://IP:PORT` as one line on stdout and flushes it;
/// the harness waits for this line to learn the bound port.
pub fn announce(addr: SocketAddr) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening at ws://{addr}")?;
    out.flush()
}
