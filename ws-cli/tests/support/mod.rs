//! What the tests of the real binaries share: bounded process runs, the `start` output,
//! process liveness, a WebSocket client, and private `redis-server` and `nginx` processes.

#![allow(dead_code)] // Each test binary uses its own part.

pub(crate) mod nginx;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

/// Budget of each wait; generous for a loaded 2-core machine.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// Runs `cmd` to completion with piped output, killing it after `budget`.
pub(crate) fn run(mut cmd: Command, what: &str, budget: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `{what}`: {e}"));
    // Read both pipes while waiting, so that a chatty child never blocks on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + budget;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{what}` did not finish within {budget:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// `started: pid N` / `restarted: pid N (...)` and `NAME listening at SCHEME://ADDR` lines.
pub(crate) fn parse_started(text: &str) -> (u32, BTreeMap<String, SocketAddr>) {
    let mut pid = None;
    let mut addrs = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.split("started: pid ").nth(1) {
            pid = rest.split_whitespace().next().and_then(|p| p.parse().ok());
        }
        if let Some((name, url)) = line.split_once(" listening at ") {
            let (_scheme, addr) = url.split_once("://").unwrap();
            addrs.insert(name.to_owned(), addr.trim().parse().unwrap());
        }
    }
    (pid.unwrap_or_else(|| panic!("no pid in {text:?}")), addrs)
}

pub(crate) use ws_tests::redis::free_port;

/// Whether `pid` runs (zombies don't).
pub(crate) fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

pub(crate) fn wait_gone(pid: u32) -> bool {
    let deadline = Instant::now() + WAIT;
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

pub(crate) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) async fn connect(addr: SocketAddr, path: &str) -> Ws {
    let url = format!("ws://{addr}{path}");
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("handshake within the budget")
        .expect("handshake accepted");
    ws
}

/// The next message, skipping pings and pongs.
pub(crate) async fn next(ws: &mut Ws) -> Option<Message> {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame within the budget");
        match msg {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(m)) => return Some(m),
            Some(Err(_)) | None => return None,
        }
    }
}

/// Reads until the server's close frame; its code.
pub(crate) async fn close_code(ws: &mut Ws) -> Option<u16> {
    loop {
        match next(ws).await? {
            Message::Close(frame) => {
                // Keep reading so tungstenite sends the reply and the handshake completes.
                let _ = tokio::time::timeout(WAIT, ws.next()).await;
                return frame.map(|f| u16::from(f.code));
            }
            _ => continue,
        }
    }
}

pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A private temporary directory for one test and the server processes started in it: on
/// drop, each still alive is killed (by pid) and the directory removed (kept, and named, when
/// the test failed).
pub(crate) struct Workdir {
    dir: std::path::PathBuf,
    pids: Vec<u32>,
}

impl Workdir {
    /// A fresh, empty `ws-cli-<test binary pid>-<name>` under the temporary directory.
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ws-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            dir,
            pids: Vec::new(),
        }
    }

    /// Kills `pid` when the test ends, if it still runs.
    pub(crate) fn track(&mut self, pid: u32) {
        self.pids.push(pid);
    }
}

impl std::ops::Deref for Workdir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.dir
    }
}

impl AsRef<std::path::Path> for Workdir {
    fn as_ref(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        for &pid in &self.pids {
            if alive(pid) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
        if std::thread::panicking() {
            eprintln!("kept {} for inspection", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
