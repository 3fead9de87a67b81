//! The process lifecycle with the real binary: `start -d`, `status`, `reload`, `stop`,
//! `restart` under a stream of new connections, pid file handling.
//!
//! Every server runs as a daemon in its own temporary directory on ports picked by the
//! kernel; a guard kills (by pid) every server process a test started, whatever happens.
//! Waits are bounded; nothing depends on timing.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

mod support;

use support::{alive, close_code, connect, next, parse_started, run, text, wait_gone, Ws, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_ws-cli");

const CONFIG: &str = "log_level = \"debug\"\n\
                      [servers.http]\nport = 0\n\
                      [servers.ws]\nport = 0\n";

/// A temporary directory and the server processes started in it, killed on drop.
struct Env {
    dir: PathBuf,
    pids: Vec<u32>,
}

impl Env {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ws-life-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ws.toml"), CONFIG).unwrap();
        Self {
            dir,
            pids: Vec::new(),
        }
    }

    fn write_config(&self, text: &str) {
        std::fs::write(self.dir.join("ws.toml"), text).unwrap();
    }

    /// Runs `ws-cli ARGS --config ws.toml` to completion (killed after `WAIT`).
    fn cli(&self, args: &[&str]) -> Output {
        cli(&self.dir, args)
    }

    /// `start -d`: the daemon's pid and the servers' addresses.
    fn start(&mut self) -> (u32, BTreeMap<String, SocketAddr>) {
        let out = self.cli(&["start", "-d"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "start -d failed: {text}{err}");
        let started = parse_started(&text);
        self.pids.push(started.0);
        started
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("ws.log")).unwrap_or_default()
    }
}

impl Drop for Env {
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

async fn echo(ws: &mut Ws, text: String) {
    ws.send(Message::text(text.clone())).await.unwrap();
    match next(ws).await {
        Some(Message::Text(t)) => assert_eq!(t.as_str(), text),
        other => panic!("expected the echo, got {other:?}"),
    }
}

/// The HTTP status of a handshake on `/echo` with `Origin: origin` (101 when accepted).
async fn handshake_from(addr: SocketAddr, origin: &str) -> u16 {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}/echo").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    let result = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("an answer within the budget");
    match result {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("handshake failed without an HTTP answer: {e}"),
    }
}

/// The status of `POST /push` with bearer `key` (one request, raw HTTP/1.1).
async fn push(addr: SocketAddr, key: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /push HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\nhi"
    );
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

fn cli(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .args(["--config", "ws.toml"])
        .current_dir(dir)
        .env_remove("WS_SECRET_KEY");
    run(cmd, &format!("ws-cli {}", args.join(" ")), WAIT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_status_reload_and_stop() {
    let mut env = Env::new("main");
    let (pid, addrs) = env.start();
    let ws_addr = addrs["ws"];
    assert!(addrs.contains_key("http"), "{addrs:?}");
    let pid_file = env.dir.join("ws.pid");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        pid.to_string()
    );

    // A second start on the same pid file refuses.
    let out = env.cli(&["start", "-d"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("already running"), "{}", text(&out));

    let mut client = connect(ws_addr, "/echo").await;
    echo(&mut client, "hello".into()).await;

    let out = env.cli(&["status"]);
    let status = text(&out);
    assert!(out.status.success(), "{status}");
    assert!(status.contains(&format!("pid {pid}")), "{status}");
    assert!(
        status.contains(&format!("server ws at ws://{ws_addr}, 1 connection")),
        "{status}"
    );
    assert!(
        status.contains(&format!(
            "server http at http://{}, 0 connections",
            addrs["http"]
        )),
        "{status}"
    );

    // Every log line about a connection names it.
    let log = env.log();
    assert!(
        log.lines().any(|l| l.contains("conn{conn=")
            && l.contains("path=\"/echo\"")
            && l.contains("}: open")),
        "{log}"
    );

    // Reload with a smaller message limit: applied to new connections, the open one stays.
    env.write_config(&format!("{CONFIG}max_message_size = 1000\n"));
    let out = env.cli(&["reload"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("applied: servers.ws.max_message_size: 16777216 -> 1000"),
        "{}",
        text(&out)
    );
    let mut fresh = connect(ws_addr, "/echo").await;
    fresh.send(Message::text("x".repeat(2000))).await.unwrap();
    assert_eq!(
        close_code(&mut fresh).await,
        Some(1009),
        "new limit applies"
    );
    echo(&mut client, "y".repeat(2000)).await; // still connected, with its own limit

    // Reload with middleware settings and a secret key: both apply to the next request.
    assert_eq!(
        push(addrs["http"], "k2").await,
        401,
        "no key configured yet"
    );
    let with_settings = format!(
        "secret_key = \"k2\"\n{CONFIG}max_message_size = 1000\n\
         [middleware.origin]\nallow = [\"http://good.example\"]\n"
    );
    env.write_config(&with_settings);
    let out = env.cli(&["reload"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out)
            .contains("applied: middleware.origin: none -> { allow = [\"http://good.example\"] }"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("applied: secret_key: none -> <redacted>"),
        "{}",
        text(&out)
    );
    assert_eq!(handshake_from(ws_addr, "http://evil.example").await, 403);
    assert_eq!(handshake_from(ws_addr, "http://good.example").await, 101);
    assert_eq!(push(addrs["http"], "k2").await, 200, "the new key applies");
    echo(&mut client, "after settings".into()).await;

    // Settings that do not fit their type: the reload fails and changes nothing.
    env.write_config(&with_settings.replace("[\"http://good.example\"]", "\"everyone\""));
    let out = env.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("config key `middleware.origin`"),
        "{}",
        text(&out)
    );
    assert_eq!(handshake_from(ws_addr, "http://evil.example").await, 403);
    echo(&mut client, "still on the old settings".into()).await;

    // A broken config: reload fails, the server keeps serving with the config in effect.
    env.write_config("[servers.ws]\nprot = 1\n");
    let out = env.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("unknown field `prot`"),
        "{}",
        text(&out)
    );
    assert!(env.log().contains("reload failed"), "{}", env.log());
    echo(&mut client, "still here".into()).await;
    let mut another = connect(ws_addr, "/echo").await;
    echo(&mut another, "new one".into()).await;
    drop(another);
    env.write_config(CONFIG);

    // Stop: the client gets 1001, the process and its pid file are gone.
    let dir = env.dir.clone();
    let stop = tokio::task::spawn_blocking(move || cli(&dir, &["stop"]));
    assert_eq!(close_code(&mut client).await, Some(1001));
    let out = stop.await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("stopped"), "{}", text(&out));
    assert!(wait_gone(pid), "pid {pid} still runs after stop");
    assert!(!pid_file.exists(), "pid file left behind");
    assert!(
        !env.dir.join("ws.sock").exists(),
        "control socket left behind"
    );

    let out = env.cli(&["status"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_refuses_no_handshake() {
    restart_under_new_connections("restart", CONFIG).await;
}

/// The same on I/O threads (`io_threads`): the old process's threads accept until it hands
/// over, the new process's from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_refuses_no_handshake_on_io_threads() {
    let config = format!("io_threads = 2\n{CONFIG}");
    restart_under_new_connections("restart-io", &config).await;
}

/// The names of the threads of process `pid`.
fn thread_names(pid: u32) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_owned())
        .collect();
    names.sort();
    names
}

/// `restart` while four clients open connection after connection: none is refused, the
/// long-lived one gets 1012. With `io_threads = N` in `config`, both processes serve on N
/// I/O threads.
async fn restart_under_new_connections(name: &str, config: &str) {
    let io_threads: usize = config
        .lines()
        .find_map(|l| l.strip_prefix("io_threads = "))
        .map_or(0, |n| n.parse().unwrap());
    let has_io_threads = |pid: u32| {
        let names = thread_names(pid);
        let io = names.iter().filter(|n| n.starts_with("ws-io-")).count();
        assert_eq!(io, io_threads, "threads of {pid}: {names:?}");
    };
    let mut env = Env::new(name);
    env.write_config(config);
    let (old_pid, addrs) = env.start();
    has_io_threads(old_pid);
    let ws_addr = addrs["ws"];
    let mut long_lived = connect(ws_addr, "/").await;
    assert_eq!(next(&mut long_lived).await, Some(Message::text("Opened")));

    // A stream of new connections, one after another, during the restart.
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(Mutex::new(Vec::<String>::new()));
    // Four clients, each opening connections one after another.
    let loopers: Vec<_> = (0..4)
        .map(|_| {
            let (stop, ok, refused) = (stop.clone(), ok.clone(), refused.clone());
            tokio::spawn(async move {
                let deadline = Instant::now() + Duration::from_secs(120);
                for _ in 0..100_000 {
                    if stop.load(Ordering::Acquire) || Instant::now() > deadline {
                        break;
                    }
                    let url = format!("ws://{ws_addr}/");
                    let attempt = async {
                        let tcp = tokio::net::TcpStream::connect(ws_addr)
                            .await
                            .map_err(|e| e.to_string())?;
                        let local = tcp.local_addr().map_err(|e| e.to_string())?;
                        tokio_tungstenite::client_async(url, tcp)
                            .await
                            .map_err(|e| format!("from {local}: {e}"))
                    };
                    match tokio::time::timeout(WAIT, attempt).await {
                        Ok(Ok((mut ws, _))) => {
                            ok.fetch_add(1, Ordering::AcqRel);
                            // "Opened", or 1012 when the old process took it just before its
                            // stop: either way the handshake was accepted.
                            let _ = tokio::time::timeout(WAIT, ws.next()).await;
                            let _ = ws.close(None).await;
                        }
                        Ok(Err(e)) => refused.lock().await.push(e),
                        Err(_) => refused.lock().await.push("timed out".to_owned()),
                    }
                }
            })
        })
        .collect();
    let warm_up = Instant::now() + WAIT;
    while ok.load(Ordering::Acquire) < 20 && Instant::now() < warm_up {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let dir = env.dir.clone();
    let out = tokio::task::spawn_blocking(move || cli(&dir, &["restart"]))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let (new_pid, new_addrs) = parse_started(&String::from_utf8_lossy(&out.stdout));
    env.pids.push(new_pid);
    assert_ne!(new_pid, old_pid);
    assert_eq!(
        new_addrs, addrs,
        "the new process serves on the same sockets"
    );

    // The old process's clients get 1012 and can reconnect at once.
    assert_eq!(close_code(&mut long_lived).await, Some(1012));
    let mut again = connect(ws_addr, "/").await;
    assert_eq!(next(&mut again).await, Some(Message::text("Opened")));
    drop(again);

    let after = ok.load(Ordering::Acquire) + 20;
    let settle = Instant::now() + WAIT;
    while ok.load(Ordering::Acquire) < after && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Release);
    for looper in loopers {
        tokio::time::timeout(WAIT, looper).await.unwrap().unwrap();
    }
    let refused = refused.lock().await.clone();
    assert!(
        refused.is_empty(),
        "{} refused of {} handshakes: {refused:?}",
        refused.len(),
        ok.load(Ordering::Acquire) + refused.len()
    );
    assert!(ok.load(Ordering::Acquire) >= 40);

    assert!(wait_gone(old_pid), "the old process is still running");
    has_io_threads(new_pid);
    let out = env.cli(&["status"]);
    assert!(
        text(&out).contains(&format!("running: pid {new_pid}")),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(env.dir.join("ws.pid"))
            .unwrap()
            .trim(),
        new_pid.to_string()
    );
    let out = env.cli(&["stop"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(wait_gone(new_pid));
}

#[test]
fn stale_pid_file_is_replaced_and_stop_without_server_succeeds() {
    let mut env = Env::new("stale");
    // A pid file nobody holds: its process died without cleaning up.
    std::fs::write(env.dir.join("ws.pid"), "999999\n").unwrap();
    std::fs::write(env.dir.join("ws.sock"), "").unwrap();
    let (pid, _) = env.start();
    assert_eq!(
        std::fs::read_to_string(env.dir.join("ws.pid"))
            .unwrap()
            .trim(),
        pid.to_string()
    );
    assert!(
        env.log().contains("replacing the pid file"),
        "{}",
        env.log()
    );
    let out = env.cli(&["stop"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(wait_gone(pid));
    let out = env.cli(&["stop"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("no server is running"),
        "{}",
        text(&out)
    );
}

#[test]
fn restart_without_a_server_fails_clearly() {
    let env = Env::new("norestart");
    let out = env.cli(&["restart"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("use `start`"), "{}", text(&out));
}

/// Sends `signal` (e.g. `-TERM`) to `pid`.
fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {pid} failed");
}

/// Waits (bounded) until the server's log contains `needle`.
fn wait_for_log(env: &Env, needle: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = env.log();
        if log.contains(needle) {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "`{needle}` not logged within {WAIT:?}:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_a_second_stop_signal_forces_exit() {
    // Long drains, so that the first SIGTERM leaves the server draining for a while.
    let config = "drain_timeout = 120\nlog_level = \"debug\"\n\
                  [servers.http]\nport = 0\n\
                  [servers.ws]\nport = 0\nclose_timeout = 120\n";
    let mut env = Env::new("signals");
    env.write_config(config);
    let (pid, addrs) = env.start();
    let ws_addr = addrs["ws"];

    // SIGHUP re-reads the config like `reload`.
    env.write_config(&format!("{config}max_message_size = 1000\n"));
    send_signal(pid, "-HUP");
    wait_for_log(
        &env,
        "reload: applied servers.ws.max_message_size: 16777216 -> 1000",
    );

    // A client that never answers the server's close frame keeps the stop draining.
    let mut silent = tokio::net::TcpStream::connect(ws_addr).await.unwrap();
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let request = format!(
            "GET /echo HTTP/1.1\r\nHost: {ws_addr}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        silent.write_all(request.as_bytes()).await.unwrap();
        let mut head = [0u8; 12];
        tokio::time::timeout(WAIT, silent.read_exact(&mut head))
            .await
            .expect("a handshake answer within the budget")
            .unwrap();
        assert_eq!(&head, b"HTTP/1.1 101");
    }
    send_signal(pid, "-TERM");
    wait_for_log(&env, "stop requested by signal; draining");
    assert!(
        alive(pid),
        "the first signal drains; it does not exit at once"
    );

    send_signal(pid, "-TERM");
    assert!(
        wait_gone(pid),
        "pid {pid} still runs after a second SIGTERM"
    );
    assert!(env.log().contains("second stop signal: exiting now"));
    drop(silent);
}
