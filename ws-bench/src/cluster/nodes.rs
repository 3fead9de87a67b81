//! The three nodes: `ws-cli` (the demo) started in the foreground, each in its own working
//! directory (so pid file and control socket differ) with its own `node_id` and the same
//! broker and cluster name; their `ws` and `http` addresses read from their start-up lines.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::client::Target;
use crate::config;
use crate::error::BenchError;
use crate::server::{Launch, ServerKind, ServerProcess};

/// Bound on a node's start-up (its listening lines).
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// One running node. Dropping it kills the process by its PID.
#[derive(Debug)]
pub(crate) struct Node {
    /// Its `node_id`.
    pub(crate) id: u16,
    /// Its `ws` server.
    pub(crate) ws: SocketAddr,
    /// Its `http` server (`POST /push`).
    pub(crate) http: SocketAddr,
    process: ServerProcess,
}

impl Node {
    /// A target on its `ws` server.
    pub(crate) fn target(&self, path: &str) -> Target {
        Target {
            addr: self.ws,
            path: path.to_string(),
            raw_tcp: false,
            tls: None,
        }
    }

    /// Error unless the process is still running.
    pub(crate) fn check_alive(&mut self) -> Result<(), BenchError> {
        self.process.check_alive()
    }

    /// Its label in the report.
    pub(crate) fn label(&self) -> String {
        format!("node {}", self.id)
    }
}

/// What every node shares.
#[derive(Debug, Clone)]
pub(crate) struct Shared<'a> {
    /// The `ws-cli` binary.
    pub(crate) bin: PathBuf,
    /// `log_level` of the config.
    pub(crate) log_level: &'a str,
    /// `secret_key` (for `POST /push`).
    pub(crate) key: &'a str,
    /// `broker` URL.
    pub(crate) broker: String,
    /// `cluster` name.
    pub(crate) cluster: String,
}

/// Starts node `id` in `dir/node-ID` and waits for both its listening lines.
pub(crate) fn start(shared: &Shared<'_>, dir: &Path, id: u16) -> Result<Node, BenchError> {
    let cwd = dir.join(format!("node-{id}"));
    let cfg = config::write_config(
        &cwd,
        &config::render_cluster_config(
            shared.log_level,
            shared.key,
            id,
            &shared.broker,
            &shared.cluster,
        ),
    )?;
    let process = ServerProcess::start(&Launch {
        kind: ServerKind::Ours,
        bin: shared.bin.clone(),
        config: Some(cfg),
        cwd,
        cpus: None,
        valgrind: None,
        tls: None,
        start_timeout: START_TIMEOUT,
    })
    .map_err(|e| BenchError::Server(format!("node {id}: {e}")))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let http = loop {
        if let Some(a) = process.listening_addr("http") {
            break a;
        }
        if std::time::Instant::now() >= deadline {
            return Err(BenchError::Server(format!(
                "node {id} printed no `http listening at ws://IP:PORT` line{}",
                process.tail_text()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Node {
        id,
        ws: process.addr,
        http,
        process,
    })
}
