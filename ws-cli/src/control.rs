//! The control socket: how `status`, `reload`, `stop` and `restart` reach a running server.
//!
//! A Unix socket at `control_socket` (default `ws.sock`), owned by the server process, of mode
//! 0600 whatever the umask: only the server's user (and root) can connect. Each connection's
//! peer credentials (`SO_PEERCRED`) are checked as well: a uid other than the server's or
//! root's gets `{"ok":false,"error":".."}` and is closed (logged at most once per 10 s), so
//! a socket file made world-writable still does not let other users in.
//!
//! The protocol is one request line and one JSON reply line per connection:
//!
//! | request | reply |
//! | --- | --- |
//! | `status` | `{"ok":true,"status":{"pid":..,"uptime_secs":..,"servers":[{"name":..,"addr":..,"url":..,"connections":..}]}}` |
//! | `reload` | `{"ok":true,"reload":{"applied":[..],"needs_restart":[..]}}`, or `{"ok":false,"error":".."}` when the new config is invalid (nothing is applied) |
//! | `reload PATH` | the same with the config file at the absolute `PATH` (the rest of the line) instead of the server's; once it loads, the server keeps `PATH` for later reloads, and the reply's `reload` has `"config_file":PATH` |
//! | `routes` | `{"ok":true,"pid":..,"routes":[{"name":..,"url":..,"lines":[..]}]}`: each server's bound address and routes, as `routes` prints them |
//! | `stop` | `{"ok":true,"pid":..,"drain_timeout_secs":..}`, then, once stopped, `{"ok":true,"stopped":true,"drained":..}` just before the process exits |
//! | `takeover` | `{"ok":true,"pid":..,"servers":[..]}` with the listening sockets attached (`SCM_RIGHTS`), in the order of `servers` (with a networked broker also `"cluster_lease":"..","next_seq":N`: the new process is the same node of the cluster; under systemd's watchdog `"watchdog_usec":N`, which the new process keeps); then the new process sends `handover`, and the old one releases the pid file, answers `{"ok":true}` and drains with 1012 |
//!
//! The socket is bound in a new private directory (mode 0700) next to `control_socket`, given
//! mode 0600 there and renamed into place: nobody can reach it before its mode is set, a stale
//! socket left by a crash is replaced and a new process of a `restart` takes the path over
//! atomically.
//!
//! Hostile or broken clients: each connection is a task, not a thread. A request line longer
//! than 4 KiB, or not sent within 5 s, is answered with an error and the connection closed.
//! At most 64 connections are served at once; one more closes the oldest connection that has
//! not sent its request yet (so a pile of silent connections cannot lock out `status`), or,
//! if all 64 are busy with requests, is refused. When `accept` fails (out of descriptors), the
//! accept loop retries after 5 ms, doubling up to 1 s, warns once per episode and logs when it
//! accepts again; a control connection costs one descriptor.

use std::collections::VecDeque;
use std::io::{self, BufRead, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Interest};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{AbortHandle, JoinSet};

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
    /// `routes`: each server's address and routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) routes: Option<Vec<ServerRoutes>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) servers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) drain_timeout_secs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) stopped: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) drained: Option<bool>,
    /// `takeover` with a networked broker: the node id's lease token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cluster_lease: Option<String>,
    /// `takeover` with a networked broker: the first connection sequence number the new
    /// process may hand out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) next_seq: Option<u64>,
    /// `takeover` under systemd's watchdog: its interval, which the new process keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) watchdog_usec: Option<u64>,
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
    /// `wss://ADDR`, `https://ADDR`, `ws://ADDR` or `http://ADDR` (absent from a server of an
    /// older version: `ws://ADDR` is assumed).
    #[serde(default)]
    pub(crate) url: Option<String>,
    pub(crate) connections: usize,
}

/// `reload`: the changed keys, as `key: old -> new`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ReloadOutcome {
    pub(crate) applied: Vec<String>,
    pub(crate) needs_restart: Vec<String>,
    /// `reload PATH`: the config file the server now reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) config_file: Option<String>,
}

/// One server in `routes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ServerRoutes {
    pub(crate) name: String,
    /// `ws://ADDR`, `https://ADDR`, ...: where it listens.
    pub(crate) url: String,
    /// One line per route or middleware (`WS    /echo -> app::Echo`).
    pub(crate) lines: Vec<String>,
}

/// Longest request line, newline included.
const MAX_REQUEST: usize = 4096;

/// How long a connection may take to send its request line.
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

/// How long a reply may take to be written.
const WRITE_DEADLINE: Duration = Duration::from_secs(5);

/// How long the old process of a `restart` waits for the new one to say `handover`.
const HANDOVER_DEADLINE: Duration = Duration::from_secs(120);

/// Most control connections served at once.
const MAX_CONNECTIONS: usize = 64;

/// Retry delays of the accept loop after a failed `accept` (out of descriptors).
const BACKOFF_MIN: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// At most one warning about refused peers per this interval.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// What the old process of a `restart` hands to the new one.
#[derive(Debug)]
pub(crate) struct HandedOver {
    /// Second handles on the listening sockets, by server name.
    pub(crate) listeners: Vec<(String, OwnedFd)>,
    /// The node's lease and connection ids, with a networked broker.
    pub(crate) cluster: Option<ws_core::broker::ClusterHandover>,
    /// systemd's watchdog interval, if the process keeps one.
    pub(crate) watchdog: Option<std::time::Duration>,
}

/// A request for the main loop, which owns the running app.
#[derive(Debug)]
pub(crate) enum Request {
    Status(oneshot::Sender<Reply>),
    /// Reload, from this config file instead of the server's when one is given.
    Reload(oneshot::Sender<Reply>, Option<PathBuf>),
    Routes(oneshot::Sender<Reply>),
    /// Stop; the main loop writes the replies to this connection.
    Stop(UnixStream),
    /// Second handles on the listening sockets, by server name, and the node's place in its
    /// cluster (networked broker only).
    Listeners(oneshot::Sender<HandedOver>),
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
    /// Binds at `path` (mode 0600, through a private directory and a rename) and serves
    /// requests, sending them to `requests`. Must be called inside the Tokio runtime.
    pub(crate) fn bind(path: &Path, requests: mpsc::Sender<Request>) -> Result<Self, String> {
        let err = |e: io::Error| format!("control socket {}: {e}", path.display());
        let listener = bind_private(path).map_err(err)?;
        let ino = std::fs::symlink_metadata(path).map_err(err)?.ino();
        tokio::spawn(accept_loop(listener, requests));
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

/// Binds a socket in a new directory of mode 0700 next to `path`, sets the socket's mode to
/// 0600 and renames it to `path`. Nobody else can reach the socket before its mode is set (the
/// directory shuts them out), whatever the umask, and the process's umask is left alone
/// (changing it would race with other threads creating files).
fn bind_private(path: &Path) -> io::Result<UnixListener> {
    let name = path
        .file_name()
        .map_or_else(|| "ws.sock".into(), |n| n.to_string_lossy().into_owned());
    let dir = path.with_file_name(format!(".{name}.{}.d", std::process::id()));
    let tmp = dir.join("s");
    // Left by a crash of an earlier process with this pid.
    let _ = std::fs::remove_file(&tmp);
    let _ = std::fs::remove_dir(&dir);
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    let bound = (|| {
        // The umask can only have narrowed 0700; make it exactly that.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        let listener = UnixListener::bind(&tmp)?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&tmp, path)?;
        Ok(listener)
    })();
    let _ = std::fs::remove_file(&tmp);
    let _ = std::fs::remove_dir(&dir);
    bound
}

/// Accepts control connections until the runtime stops: refuses other users, serves each
/// connection as a task.
async fn accept_loop(listener: UnixListener, requests: mpsc::Sender<Request>) {
    let own_uid = nix::unistd::geteuid().as_raw();
    let mut connections = Connections::default();
    let mut refusals = Throttle::new(REFUSAL_LOG_INTERVAL);
    let mut backoff = BACKOFF_MIN;
    // Since when, and how often, `accept` has been failing.
    let mut failing: Option<(Instant, u64)> = None;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                if let Some((since, failures)) = failing.take() {
                    tracing::info!(
                        "control socket: accepting again after {failures} failed attempts \
                         over {:.1}s",
                        since.elapsed().as_secs_f64()
                    );
                }
                backoff = BACKOFF_MIN;
                stream
            }
            // That one connection is gone; the next may be fine.
            Err(e) if is_per_connection(&e) => continue,
            Err(e) => {
                // Out of descriptors (EMFILE, ENFILE) or memory: the pending connection stays
                // queued; retry with a growing delay, and say so once per episode.
                match &mut failing {
                    Some((_, failures)) => *failures += 1,
                    None => {
                        tracing::warn!(
                            "control socket: accept failed: {e}; retrying every {BACKOFF_MIN:?} \
                             to {BACKOFF_MAX:?}, quietly until it recovers"
                        );
                        failing = Some((Instant::now(), 1));
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        let peer_uid = stream.peer_cred().map(|c| c.uid());
        if let Err(why) = peer_allowed(peer_uid, own_uid) {
            if let Some(held_back) = refusals.ready(Instant::now()) {
                let more = if held_back > 0 {
                    format!(" ({held_back} more refused since the last warning)")
                } else {
                    String::new()
                };
                tracing::warn!("control socket: refused a connection: {why}{more}");
            }
            refuse(&stream, &why);
            continue;
        }
        connections.serve(stream, &requests);
    }
}

/// Errors of `accept` that concern only the connection being accepted.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// Who may use the control socket: the server's own user and root. `peer_uid` is the
/// connecting process's uid (`SO_PEERCRED`), or the error reading it.
fn peer_allowed(peer_uid: io::Result<u32>, own_uid: u32) -> Result<(), String> {
    match peer_uid {
        Ok(uid) if uid == own_uid || uid == 0 => Ok(()),
        Ok(uid) => Err(format!(
            "uid {uid} may not use this control socket (only the server's uid {own_uid} and root)"
        )),
        Err(e) => Err(format!("cannot read the peer's credentials: {e}")),
    }
}

/// Answers `why` as an error line without waiting (a short line into the empty buffer of a
/// new connection) and closes the connection.
fn refuse(stream: &UnixStream, why: &str) {
    use nix::sys::socket::{send, MsgFlags};
    let line = Reply::error(why).line();
    let _ = send(
        stream.as_raw_fd(),
        line.as_bytes(),
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
    );
}

/// The control connections being served: at most [`MAX_CONNECTIONS`]. When all are taken, a
/// new connection closes the oldest one that has not sent its request yet, so a pile of
/// silent connections cannot lock out `status` (only the server's user and root get this far;
/// they could stop the server anyway).
#[derive(Debug, Default)]
struct Connections {
    tasks: JoinSet<()>,
    /// The tasks still waiting for their request line, oldest first.
    waiting: VecDeque<Waiting>,
}

#[derive(Debug)]
struct Waiting {
    task: AbortHandle,
    waiting: Arc<AtomicBool>,
}

impl Connections {
    fn serve(&mut self, stream: UnixStream, requests: &mpsc::Sender<Request>) {
        while self.tasks.try_join_next().is_some() {}
        self.waiting
            .retain(|w| !w.task.is_finished() && w.waiting.load(Ordering::Relaxed));
        if self.tasks.len() >= MAX_CONNECTIONS {
            match self.waiting.pop_front() {
                Some(oldest) => {
                    tracing::debug!(
                        "control socket: {MAX_CONNECTIONS} connections open; closing the oldest \
                         one that has sent no request"
                    );
                    oldest.task.abort();
                }
                None => {
                    refuse(
                        &stream,
                        &format!("busy: {MAX_CONNECTIONS} control requests are under way"),
                    );
                    return;
                }
            }
        }
        let waiting = Arc::new(AtomicBool::new(true));
        let task = self
            .tasks
            .spawn(converse(stream, requests.clone(), Arc::clone(&waiting)));
        self.waiting.push_back(Waiting { task, waiting });
    }
}

/// Logs at most once per interval; counts what it held back.
#[derive(Debug)]
struct Throttle {
    every: Duration,
    last: Option<Instant>,
    held_back: u64,
}

impl Throttle {
    fn new(every: Duration) -> Self {
        Self {
            every,
            last: None,
            held_back: 0,
        }
    }

    /// `Some(held back since the last time)` when it is time to log again.
    fn ready(&mut self, now: Instant) -> Option<u64> {
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < self.every)
        {
            self.held_back += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held_back))
    }
}

/// Why a request line could not be read.
#[derive(Debug)]
enum BadRequest {
    /// No newline within [`MAX_REQUEST`] bytes.
    TooLong,
    /// Not UTF-8.
    NotText,
    /// Not sent within [`REQUEST_DEADLINE`].
    TooSlow,
    Io(io::Error),
}

impl std::fmt::Display for BadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLong => write!(f, "request line longer than {MAX_REQUEST} bytes"),
            Self::NotText => f.write_str("request line is not UTF-8"),
            Self::TooSlow => write!(f, "no request line within {REQUEST_DEADLINE:?}"),
            Self::Io(e) => write!(f, "reading the request: {e}"),
        }
    }
}

/// Reads one request line (without its line end) within `deadline`; `None` when the peer
/// hung up before sending anything.
async fn read_request(
    stream: &mut UnixStream,
    deadline: Duration,
) -> Result<Option<String>, BadRequest> {
    let mut line = Vec::new();
    let mut reader = BufReader::new(AsyncReadExt::take(&mut *stream, MAX_REQUEST as u64));
    let read = tokio::time::timeout(deadline, reader.read_until(b'\n', &mut line)).await;
    match read {
        Err(_) => return Err(BadRequest::TooSlow),
        Ok(Err(e)) => return Err(BadRequest::Io(e)),
        Ok(Ok(0)) => return Ok(None),
        Ok(Ok(_)) => {}
    }
    if !line.ends_with(b"\n") && line.len() >= MAX_REQUEST {
        return Err(BadRequest::TooLong);
    }
    let text = String::from_utf8(line).map_err(|_| BadRequest::NotText)?;
    Ok(Some(text.trim().to_owned()))
}

/// Writes `reply`, giving up after [`WRITE_DEADLINE`].
pub(crate) async fn answer(stream: &mut UnixStream, reply: &Reply) {
    let line = reply.line();
    let _ = tokio::time::timeout(WRITE_DEADLINE, stream.write_all(line.as_bytes())).await;
}

/// Serves one control connection. `waiting` is cleared once the request line is in.
async fn converse(
    mut stream: UnixStream,
    requests: mpsc::Sender<Request>,
    waiting: Arc<AtomicBool>,
) {
    let request = match read_request(&mut stream, REQUEST_DEADLINE).await {
        Ok(Some(request)) => request,
        Ok(None) => return,
        Err(e) => {
            tracing::debug!("control connection: {e}");
            if !matches!(e, BadRequest::Io(_)) {
                answer(&mut stream, &Reply::error(format!("{e}; closing"))).await;
            }
            return;
        }
    };
    waiting.store(false, Ordering::Relaxed);
    if let Err(e) = dispatch(stream, &request, &requests).await {
        tracing::debug!("control connection ({request}): {e}");
    }
}

fn stopping() -> io::Error {
    io::Error::other("the server is stopping")
}

/// Carries out one request.
async fn dispatch(
    mut stream: UnixStream,
    request: &str,
    requests: &mpsc::Sender<Request>,
) -> io::Result<()> {
    let reload_file = request.strip_prefix("reload ").map(str::trim);
    match (request, reload_file) {
        (_, Some(file)) if !Path::new(file).is_absolute() => {
            let reply = Reply::error(format!("reload: {file:?} is not an absolute path"));
            answer(&mut stream, &reply).await;
            Ok(())
        }
        ("status" | "reload" | "routes", _) | (_, Some(_)) => {
            let (tx, rx) = oneshot::channel();
            let request = match request {
                "status" => Request::Status(tx),
                "routes" => Request::Routes(tx),
                _ => Request::Reload(tx, reload_file.map(PathBuf::from)),
            };
            let reply = match requests.send(request).await {
                Ok(()) => rx
                    .await
                    .unwrap_or_else(|_| Reply::error("the server is stopping")),
                Err(_) => Reply::error("the server is stopping"),
            };
            answer(&mut stream, &reply).await;
            Ok(())
        }
        ("stop", _) => requests
            .send(Request::Stop(stream))
            .await
            .map_err(|_| stopping()),
        ("takeover", _) => takeover(stream, requests).await,
        (other, _) => {
            let reply = Reply::error(format!(
                "unknown request {other:?}; one of status, reload, reload PATH, routes, stop, \
                 takeover"
            ));
            answer(&mut stream, &reply).await;
            Ok(())
        }
    }
}

/// The old process's side of a `restart`.
async fn takeover(mut stream: UnixStream, requests: &mpsc::Sender<Request>) -> io::Result<()> {
    let (tx, rx) = oneshot::channel();
    requests
        .send(Request::Listeners(tx))
        .await
        .map_err(|_| stopping())?;
    let HandedOver {
        listeners,
        cluster,
        watchdog,
    } = rx.await.map_err(|_| stopping())?;
    let reply = Reply {
        ok: true,
        pid: Some(std::process::id()),
        servers: Some(listeners.iter().map(|(n, _)| n.clone()).collect()),
        next_seq: cluster.as_ref().map(|c| c.next_seq),
        cluster_lease: cluster.map(|c| c.lease),
        watchdog_usec: watchdog.map(|w| u64::try_from(w.as_micros()).unwrap_or(u64::MAX)),
        ..Reply::default()
    };
    let fds: Vec<_> = listeners.iter().map(|(_, fd)| fd.as_raw_fd()).collect();
    let line = reply.line();
    let bytes = line.as_bytes();
    let send = async {
        let sent = stream
            .async_io(Interest::WRITABLE, || {
                crate::handover::send(stream.as_raw_fd(), bytes, &fds)
            })
            .await?;
        // The descriptors went with the first byte; the rest of the line follows plainly.
        stream
            .write_all(bytes.get(sent..).unwrap_or_default())
            .await
    };
    tokio::time::timeout(WRITE_DEADLINE, send)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "sending the listeners"))??;
    drop(listeners);
    tracing::info!("restart: listening sockets handed to a new process; waiting for it to serve");
    // The new process starts its servers, then says `handover` (or hangs up on failure).
    match read_request(&mut stream, HANDOVER_DEADLINE).await {
        Ok(Some(line)) if line == "handover" => requests
            .send(Request::Handover(stream))
            .await
            .map_err(|_| stopping()),
        _ => {
            tracing::warn!("restart: the new process did not take over; serving on");
            Ok(())
        }
    }
}

/// Client side: a connection to a running server.
#[derive(Debug)]
pub(crate) struct Client {
    stream: std::os::unix::net::UnixStream,
    reader: io::BufReader<std::os::unix::net::UnixStream>,
}

impl Client {
    /// Connects to the control socket at `path`.
    pub(crate) fn connect(path: &Path) -> io::Result<Self> {
        let stream = std::os::unix::net::UnixStream::connect(path)?;
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        let reader = io::BufReader::new(stream.try_clone()?);
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
    pub(crate) fn stream(&mut self) -> &mut std::os::unix::net::UnixStream {
        &mut self.stream
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_servers_user_and_root_get_in() {
        assert!(peer_allowed(Ok(1000), 1000).is_ok());
        assert!(peer_allowed(Ok(0), 1000).is_ok());
        assert!(peer_allowed(Ok(0), 0).is_ok());
        let refused = peer_allowed(Ok(65534), 1000).unwrap_err();
        assert!(refused.contains("uid 65534"), "{refused}");
        assert!(peer_allowed(Ok(1000), 0).is_err());
        assert!(peer_allowed(Err(io::Error::other("gone")), 1000).is_err());
    }

    #[test]
    fn refusals_are_logged_once_per_interval() {
        let mut throttle = Throttle::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(throttle.ready(t0), Some(0));
        assert_eq!(throttle.ready(t0 + Duration::from_secs(1)), None);
        assert_eq!(throttle.ready(t0 + Duration::from_secs(9)), None);
        assert_eq!(throttle.ready(t0 + Duration::from_secs(10)), Some(2));
        assert_eq!(throttle.ready(t0 + Duration::from_secs(11)), None);
    }

    #[tokio::test]
    async fn request_lines_are_bounded() {
        let (mut server, mut client) = UnixStream::pair().unwrap();
        client.write_all(b"status\n").await.unwrap();
        let got = read_request(&mut server, Duration::from_secs(30)).await;
        assert_eq!(got.unwrap().as_deref(), Some("status"));

        let (mut server, mut client) = UnixStream::pair().unwrap();
        client.write_all(&[b'x'; MAX_REQUEST + 10]).await.unwrap();
        let got = read_request(&mut server, Duration::from_secs(30)).await;
        assert!(matches!(got, Err(BadRequest::TooLong)), "{got:?}");

        let (mut server, client) = UnixStream::pair().unwrap();
        drop(client);
        let got = read_request(&mut server, Duration::from_secs(30)).await;
        assert!(matches!(got, Ok(None)), "{got:?}");

        let (mut server, _client) = UnixStream::pair().unwrap();
        let got = read_request(&mut server, Duration::from_millis(1)).await;
        assert!(matches!(got, Err(BadRequest::TooSlow)), "{got:?}");
    }
}
