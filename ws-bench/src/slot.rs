//! One server slot: a column of the report, the server process behind it and its status
//! (ok, not built, failed).

use std::path::PathBuf;
use std::time::Duration;

use crate::client::Target;
use crate::error::BenchError;
use crate::report::ColumnStatus;
use crate::server::{Launch, ServerKind, ServerProcess};
use crate::tls::TlsFiles;

/// One server slot: its column, process and results.
#[derive(Debug)]
pub(crate) struct Slot {
    /// Which server.
    pub(crate) kind: ServerKind,
    /// Its binary.
    pub(crate) bin: PathBuf,
    /// Column status; anything but `Ok` leaves notes instead of numbers.
    pub(crate) status: ColumnStatus,
    /// The running server, if it runs (dropping it kills it).
    pub(crate) proc: Option<ServerProcess>,
    /// Its config file (ours only).
    pub(crate) config: Option<PathBuf>,
    /// Its working directory (each of ours has its own: pid file, control socket).
    pub(crate) cwd: PathBuf,
    /// The certificate it serves, if it speaks TLS.
    pub(crate) tls: Option<TlsFiles>,
}

impl Slot {
    /// The server process if it still runs; a dead one is recorded as a failure and dropped.
    pub(crate) fn live(&mut self, failures: &mut Vec<String>) -> Option<&mut ServerProcess> {
        let alive = self.proc.as_mut()?.check_alive();
        if let Err(e) = alive {
            self.fail(failures, "alive check", &e);
            return None;
        }
        self.proc.as_mut()
    }

    /// Records that `what` failed with `e`: a failure of the run, the column marked failed,
    /// the server killed.
    pub(crate) fn fail(&mut self, failures: &mut Vec<String>, what: &str, e: &BenchError) {
        let msg = format!("{}: {what}: {e}", self.kind.key());
        eprintln!("ws-bench: FAILURE {msg}");
        failures.push(msg.clone());
        self.status = ColumnStatus::Failed(format!("{what}: {e}"));
        self.proc = None; // kills it
    }

    /// The table note for a server that is not measured (`not built`, `failed`).
    pub(crate) fn note(&self) -> Option<String> {
        match &self.status {
            ColumnStatus::Ok => None,
            ColumnStatus::NotBuilt(_) => Some("not built".into()),
            ColumnStatus::Failed(_) => Some("failed".into()),
        }
    }

    /// How to start this server: in its working directory (ours with its config), on CPU 0
    /// if `pinned`, not under valgrind.
    pub(crate) fn launch(&self, pinned: bool) -> Launch {
        Launch {
            kind: self.kind,
            bin: self.bin.clone(),
            config: self.config.clone(),
            cwd: self.cwd.clone(),
            cpus: pinned.then(|| "0".to_string()),
            valgrind: None,
            start_timeout: Duration::from_secs(20),
            tls: self.tls.clone(),
        }
    }
}

/// The endpoint `path` of the running server `p`.
pub(crate) fn target(p: &ServerProcess, path: &str) -> Target {
    Target {
        addr: p.addr,
        path: path.to_string(),
        raw_tcp: p.kind.raw_tcp(),
        tls: p.tls.clone(),
    }
}
