//! The control socket: how `status`, `reload`, `stop` and `restart` reach a running server.
//!
//! A Unix socket at `control_socket` (default `ws.sock`), owned by the server process (mode
//! of the directory applies: whoever can write there can stop the server). The protocol is one
//! request line and one JSON reply line per connection:
//!
//! | request | reply |
//! | --- | --- |
//! | `status` | `{"ok":true,"status":{"pid":..,"uptime_secs":..,"servers":[{"name":..,"addr":..,"connections":..}]}}` |
//! | `reload` | `{"ok":true,"reload":{"applied":[..],"needs_restart":[..]}}`, or `{"ok":false,"error":".."}` when the new config is invalid (nothing is applied) |
//! | `stop` | `{"ok":true,"pid":..,"drain_timeout_secs":..}`, then, once stopped, `{"ok":true,"stopped":true,"drained":..}` just before the process exits |
//! | `takeover` | `{"ok":true,"pid":..,"servers":[..]}` with the listening sockets attached (`SCM_RIGHTS`), in the order of `servers`; then the new process sends `handover`, and the old one releases the pid file, answers `{"ok":true}` and drains with 1012 |
//!
//! The socket is bound at a temporary path and renamed into place, so a stale socket left by
//! a crash is replaced and a new process of a `restart` takes the path over atomically.

use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::UnixListener;
use tokio::sync::{mpsc, oneshot};

/// One reply line. Fields that don't apply to the request are absent.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Reply {
    pub(crate) ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reload: Option<ReloadOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) servers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) drain_timeout_secs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) stopped: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) drained: Option<bool>,
}

impl Reply {
    pub(crate) fn error(message: impl Into<String>) -> Self {
        Self {
            ok: false,
            error: Some(message.into()),
            ..Self::default()
        }
    }

    fn line(&self) -> String {
        let mut s = serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"ok\":false,\"error\":\"reply: {e}\"}}"));
        s.push('\n');
        s
    }
}

/// `status`: the process and its servers.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Status {
    pub(crate) pid: u32,
    pub(crate) uptime_secs: u64,
    pub(crate) servers: Vec<ServerStatus>,
}

/// One server in `status`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ServerStatus {
    pub(crate) name: String,
    pub(crate) addr: String,
    pub(crate) connections: usize,
}

/// `reload`: the changed keys, as `key: old -> new`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ReloadOutcome {
    pub(crate) applied: Vec<String>,
    pub(crate) needs_restart: Vec<String>,
}

/// A request for the main loop, which owns the running app.
#[derive(Debug)]
pub(crate) enum Request {
    Status(oneshot::Sender<Reply>),
    Reload(oneshot::Sender<Reply>),
    /// Stop; the main loop writes the replies to this connection.
    Stop(UnixStream),
    /// Second handles on the listening sockets, by server name.
    Listeners(oneshot::Sender<Vec<(String, OwnedFd)>>),
    /// The new process serves: stop with 1012; the main loop answers on this connection.
    Handover(UnixStream),
}

/// The bound control socket.
#[derive(Debug)]
pub(crate) struct ControlSocket {
    path: PathBuf,
    ino: u64,
}

impl ControlSocket {
    /// Binds at `path` (through a temporary path and a rename) and serves requests, sending
    /// them to `requests`. Must be called inside the Tokio runtime.
    pub(crate) fn bind(path: &Path, requests: mpsc::Sender<Request>) -> Result<Self, String> {
        let err = |e: io::Error| format!("control socket {}: {e}", path.display());
        let name = path
            .file_name()
            .map_or_else(|| "ws.sock".into(), |n| n.to_string_lossy().into_owned());
        let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let listener = UnixListener::bind(&tmp).map_err(err)?;
        if let Err(e) = std::fs::rename(&tmp, path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(err(e));
        }
        let ino = std::fs::symlink_metadata(path).map_err(err)?.ino();
        tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((s, _)) => s,
                    Err(e) => {
                        tracing::warn!("control socket: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let requests = requests.clone();
                match stream.into_std() {
                    Ok(stream) => {
                        // Short conversations on blocking sockets; `takeover` waits for the
                        // new process, so each gets its own blocking thread.
                        tokio::task::spawn_blocking(move || {
                            if let Err(e) = converse(stream, &requests) {
                                tracing::debug!("control connection: {e}");
                            }
                        });
                    }
                    Err(e) => tracing::warn!("control socket: {e}"),
                }
            }
        });
        Ok(Self {
            path: path.to_path_buf(),
            ino,
        })
    }

    /// Removes the socket file if it is still this process's (after a hand-over it is the new
    /// process's).
    pub(crate) fn remove(&self) {
        if crate::pidfile::is_same_file(&self.path, self.ino) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Serves one control connection.
fn converse(stream: UnixStream, requests: &mpsc::Sender<Request>) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut line = String::new();
    BufReader::new(&stream).take_line(&mut line)?;
    let gone = || io::Error::other("the server is stopping");
    let mut stream = stream;
    match line.trim() {
        "status" | "reload" => {
            let (tx, rx) = oneshot::channel();
            let request = if line.trim() == "status" {
                Request::Status(tx)
            } else {
                Request::Reload(tx)
            };
            let reply = match requests.blocking_send(request) {
                Ok(()) => rx
                    .blocking_recv()
                    .unwrap_or_else(|_| Reply::error("stopping")),
                Err(_) => Reply::error("the server is stopping"),
            };
            stream.write_all(reply.line().as_bytes())
        }
        "stop" => requests
            .blocking_send(Request::Stop(stream))
            .map_err(|_| gone()),
        "takeover" => takeover(stream, requests),
        other => {
            let reply = Reply::error(format!(
                "unknown request {other:?}; one of status, reload, stop, takeover"
            ));
            stream.write_all(reply.line().as_bytes())
        }
    }
}

/// The old process's side of a `restart`.
fn takeover(mut stream: UnixStream, requests: &mpsc::Sender<Request>) -> io::Result<()> {
    let (tx, rx) = oneshot::channel();
    requests
        .blocking_send(Request::Listeners(tx))
        .map_err(|_| io::Error::other("the server is stopping"))?;
    let listeners = rx
        .blocking_recv()
        .map_err(|_| io::Error::other("the server is stopping"))?;
    let reply = Reply {
        ok: true,
        pid: Some(std::process::id()),
        servers: Some(listeners.iter().map(|(n, _)| n.clone()).collect()),
        ..Reply::default()
    };
    let fds: Vec<_> = listeners
        .iter()
        .map(|(_, fd)| std::os::fd::AsRawFd::as_raw_fd(fd))
        .collect();
    crate::handover::send(&mut stream, &reply.line(), &fds)?;
    drop(listeners);
    tracing::info!("restart: listening sockets handed to a new process; waiting for it to serve");
    // The new process starts its servers, then says `handover` (or hangs up on failure).
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut line = String::new();
    let got = BufReader::new(&stream).take_line(&mut line);
    if got.is_err() || line.trim() != "handover" {
        tracing::warn!("restart: the new process did not take over; serving on");
        return Ok(());
    }
    requests
        .blocking_send(Request::Handover(stream))
        .map_err(|_| io::Error::other("the server is stopping"))
}

trait TakeLine {
    /// Reads one line of at most 1 KiB.
    fn take_line(self, line: &mut String) -> io::Result<()>;
}

impl<R: io::Read> TakeLine for BufReader<R> {
    fn take_line(self, line: &mut String) -> io::Result<()> {
        let n = io::Read::take(self, 1024).read_line(line)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

/// Writes `reply` to a connection held for a `stop` or `handover`.
pub(crate) fn answer(stream: &mut UnixStream, reply: &Reply) {
    let _ = stream.write_all(reply.line().as_bytes());
}

/// Client side: a connection to a running server.
#[derive(Debug)]
pub(crate) struct Client {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Client {
    /// Connects to the control socket at `path`.
    pub(crate) fn connect(path: &Path) -> io::Result<Self> {
        let stream = UnixStream::connect(path)?;
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        let reader = BufReader::new(stream.try_clone()?);
        Ok(Self { stream, reader })
    }

    /// Sends a request line.
    pub(crate) fn send(&mut self, request: &str) -> io::Result<()> {
        self.stream.write_all(format!("{request}\n").as_bytes())
    }

    /// Reads one reply line, waiting at most `timeout`.
    pub(crate) fn reply(&mut self, timeout: Duration) -> io::Result<Reply> {
        self.stream.set_read_timeout(Some(timeout))?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection without answering",
            ));
        }
        serde_json::from_str(&line)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{e}: {line:?}")))
    }

    /// The connection, for the hand-over's descriptor passing.
    pub(crate) fn stream(&mut self) -> &mut UnixStream {
        &mut self.stream
    }
}
