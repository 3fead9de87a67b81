//! `fd_reserve` with the real binary: a server started with a low `RLIMIT_NOFILE` refuses
//! WebSocket handshakes with 503 before it runs out of file descriptors, while `/health` and
//! the control socket still work; a closed connection makes room again.
//!
//! The server runs as a daemon in its own temporary directory on ports picked by the kernel,
//! started through `sh -c 'ulimit -n 256; exec ...'` (the daemon inherits the limit); a guard
//! kills it by pid whatever happens. Loops are bounded in count and time.

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Error;

mod support;

use support::{alive, parse_started, run, text, Ws, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_ws-cli");

/// The soft limit the server is started with.
const NOFILE: usize = 256;

const CONFIG: &str = "fd_reserve = 64\n\
                      [servers.http]\nport = 0\n\
                      [servers.ws]\nport = 0\n";

/// A temporary directory and the server started in it, killed on drop.
struct Env {
    dir: PathBuf,
    pid: Option<u32>,
}

impl Env {
    fn new(name: &str, config: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ws-limits-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ws.toml"), config).unwrap();
        Self { dir, pid: None }
    }

    /// `start -d`: the servers' addresses.
    fn start(&mut self) -> std::collections::BTreeMap<String, SocketAddr> {
        let out = self.cli(&["start", "-d"]);
        assert!(out.status.success(), "start -d failed: {}", text(&out));
        let (pid, addrs) = parse_started(&String::from_utf8_lossy(&out.stdout));
        self.pid = Some(pid);
        addrs
    }

    /// The log lines that contain `needle`.
    fn logged(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }

    /// Runs `ws-cli ARGS --config ws.toml` under `ulimit -n NOFILE`, to completion.
    fn cli(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -n {NOFILE} && exec \"$0\" \"$@\""))
            .arg(BIN)
            .args(args)
            .args(["--config", "ws.toml"])
            .current_dir(&self.dir)
            .env_remove("WS_FD_RESERVE");
        run(cmd, &format!("ws-cli {}", args.join(" ")), WAIT)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("ws.log")).unwrap_or_default()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.filter(|&pid| alive(pid)) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        if std::thread::panicking() {
            eprintln!("kept {} for inspection", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A WebSocket handshake on `/echo`: the connection, or the refusal's status and body.
async fn handshake(addr: SocketAddr) -> Result<Ws, (u16, String)> {
    let request = format!("ws://{addr}/echo").into_client_request().unwrap();
    let result = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("an answer within the budget (the server is out of file descriptors?)");
    match result {
        Ok((ws, _)) => Ok(ws),
        Err(Error::Http(response)) => Err((
            response.status().as_u16(),
            String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned(),
        )),
        Err(e) => panic!("handshake failed without an HTTP answer: {e}"),
    }
}

/// `GET /health` on `addr`: the status.
async fn health(addr: SocketAddr) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("a response within the budget")
        .unwrap();
    let response = String::from_utf8_lossy(&response);
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_get_503_at_the_fd_reserve_while_health_and_control_work() {
    let mut env = Env::new("fds", CONFIG);
    let addrs = env.start();
    let pid = env.pid.unwrap();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("Max open files") && l.contains(&format!(" {NOFILE} "))),
        "{limits}"
    );
    let (ws, http) = (addrs["ws"], addrs["http"]);

    // Open connections until the server refuses one: it must do so with 503 before it runs
    // out of descriptors (without the reserve the handshake past the limit gets no answer).
    let mut open = Vec::new();
    let refusal = loop {
        assert!(
            open.len() < NOFILE,
            "{} connections and no refusal",
            open.len()
        );
        match handshake(ws).await {
            Ok(c) => open.push(c),
            Err(refusal) => break refusal,
        }
    };
    assert_eq!(refusal.0, 503, "{refusal:?}");
    assert!(refusal.1.contains("fd_reserve"), "{refusal:?}");
    assert!(
        open.len() >= NOFILE / 2 && open.len() <= NOFILE - 64,
        "refused after {} connections",
        open.len()
    );

    // Plain HTTP on both servers and the control socket still work; upgrades stay refused.
    assert_eq!(health(http).await, 200);
    assert_eq!(health(ws).await, 200);
    let status = env.cli(&["status"]);
    assert!(status.status.success(), "{}", text(&status));
    assert!(
        text(&status).contains(&format!("{} connections", open.len())),
        "{}",
        text(&status)
    );
    assert_eq!(handshake(ws).await.err().map(|r| r.0), Some(503));
    // Warned once, not per refusal.
    assert_eq!(env.logged("minus fd_reserve"), 1, "{}", env.log());

    // Closing connections makes room again (bounded: the server sees the closes at once, or
    // soon after).
    open.truncate(open.len() - 8);
    let mut admitted = false;
    for _ in 0..300 {
        match handshake(ws).await {
            Ok(c) => {
                open.push(c);
                admitted = true;
                break;
            }
            Err((503, _)) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(admitted, "no handshake admitted after closing connections");
    drop(open);

    let out = env.cli(&["stop"]);
    assert!(out.status.success(), "{}", text(&out));
}

/// Opens connections on `addr` until one is admitted; bounded in attempts and time.
async fn admitted_eventually(addr: SocketAddr) -> Ws {
    for _ in 0..300 {
        match handshake(addr).await {
            Ok(c) => return c,
            Err((503, _)) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(other) => panic!("{other:?}"),
        }
    }
    panic!("no handshake admitted after closing a connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_warns_once_each_time_it_is_reached() {
    let mut env = Env::new(
        "max",
        "[servers.http]\nport = 0\n[servers.ws]\nport = 0\nmax_connections = 3\n",
    );
    let ws = env.start()["ws"];
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(handshake(ws).await.unwrap());
    }
    for _ in 0..3 {
        let refusal = handshake(ws).await.err().unwrap();
        assert_eq!(refusal.0, 503, "{refusal:?}");
        assert!(refusal.1.contains("max_connections"), "{refusal:?}");
    }
    let warning = "the max_connections limit";
    assert_eq!(env.logged(warning), 1, "{}", env.log());
    // Below the limit and at it again: one more warning.
    drop(open.pop());
    open.push(admitted_eventually(ws).await);
    for _ in 0..3 {
        assert_eq!(handshake(ws).await.err().map(|r| r.0), Some(503));
    }
    assert_eq!(env.logged(warning), 2, "{}", env.log());
    drop(open);
    let out = env.cli(&["stop"]);
    assert!(out.status.success(), "{}", text(&out));
}
