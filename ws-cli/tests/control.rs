//! The control socket against hostile clients, with the real binary: its mode under a
//! permissive umask, other users refused, a pile of silent connections, the descriptor limit.
//!
//! Every server runs as a daemon in its own temporary directory on ports picked by the
//! kernel; a guard kills (by pid) every server process a test started, whatever happens.
//! Waits are bounded; nothing depends on timing.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod support;

use support::{alive, parse_started, run, text, wait_gone, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_ws-cli");

const CONFIG: &str = "[servers.http]\nport = 0\nhandshake_timeout = 600\n\
                      [servers.ws]\nport = 0\n";

/// A temporary directory and the server processes started in it, killed on drop.
struct Env {
    dir: PathBuf,
    pids: Vec<u32>,
}

impl Env {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ws-control-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ws.toml"), CONFIG).unwrap();
        Self {
            dir,
            pids: Vec::new(),
        }
    }

    /// `ws-cli ARGS --config ws.toml` in the directory, not yet run.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .args(["--config", "ws.toml"])
            .current_dir(&self.dir)
            .env_remove("WS_SECRET_KEY");
        cmd
    }

    /// Runs `ws-cli ARGS --config ws.toml` to completion (killed after `WAIT`).
    fn cli(&self, args: &[&str]) -> Output {
        run(
            self.command(args),
            &format!("ws-cli {}", args.join(" ")),
            WAIT,
        )
    }

    /// `start -d` through `sh -c 'SETUP; exec ws-cli start -d ...'`: the daemon's pid and the
    /// servers' addresses.
    fn start_after(&mut self, setup: &str) -> (u32, BTreeMap<String, SocketAddr>) {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("{setup}; exec \"$0\" \"$@\""))
            .arg(BIN)
            .args(["start", "-d", "--config", "ws.toml"])
            .current_dir(&self.dir)
            .env_remove("WS_SECRET_KEY");
        let out = run(cmd, &format!("{setup}; ws-cli start -d"), WAIT);
        let all = text(&out);
        assert!(out.status.success(), "start -d failed: {all}");
        let started = parse_started(&String::from_utf8_lossy(&out.stdout));
        self.pids.push(started.0);
        started
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("ws.sock")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("ws.log")).unwrap_or_default()
    }

    /// `stop`, and the process is gone.
    fn stop(&self, pid: u32) {
        let out = self.cli(&["stop"]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(wait_gone(pid), "pid {pid} still runs after stop");
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

/// The `Threads:` count of `/proc/PID/status`.
fn threads(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Threads: line in {status}"))
}

/// How many descriptors process `pid` has open.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(Iterator::count)
        .unwrap_or(0)
}

/// Runs `status` until it succeeds, for at most twice `WAIT`; its last output.
fn status_until_ok(env: &Env) -> Output {
    let deadline = Instant::now() + WAIT * 2;
    loop {
        let out = env.cli(&["status"]);
        if out.status.success() || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn control_socket_is_0600_under_umask_000() {
    let mut env = Env::new("umask");
    let (pid, _) = env.start_after("umask 000");
    let mode = std::fs::symlink_metadata(env.socket()).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o600, "control socket mode {mode:o}");
    // The private directory it was bound in is gone.
    let leftovers: Vec<_> = std::fs::read_dir(&env.dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".ws.sock"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let out = env.cli(&["status"]);
    assert!(out.status.success(), "{}", text(&out));
    env.stop(pid);
}

/// Needs root (to run a client as another user); says so and passes otherwise.
#[test]
fn other_users_are_refused_even_on_a_world_writable_socket() {
    let me = std::fs::metadata("/proc/self").unwrap().uid();
    if me != 0 {
        eprintln!("skipped: needs root to run a client as uid 65534 (running as uid {me})");
        return;
    }
    let mut env = Env::new("peer");
    let (pid, _) = env.start_after("true");
    // As if someone loosened the modes: the peer check alone must keep others out.
    std::fs::set_permissions(&env.dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        env.dir.join("ws.toml"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::set_permissions(env.socket(), std::fs::Permissions::from_mode(0o666)).unwrap();

    const TRIES: usize = 10;
    for _ in 0..TRIES {
        let mut cmd = env.command(&["status"]);
        cmd.uid(65534).gid(65534);
        let out = run(cmd, "ws-cli status as uid 65534", WAIT);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(
            all.contains("uid 65534 may not use this control socket"),
            "{all}"
        );
        assert!(!all.contains("running: pid"), "{all}");
    }
    // Root and the server's user still get in.
    let out = env.cli(&["status"]);
    assert!(out.status.success(), "{}", text(&out));
    // Logged, but not once per refused connection.
    let log = env.log();
    let warnings = log
        .lines()
        .filter(|l| l.contains("control socket: refused a connection"))
        .count();
    assert!(
        (1..TRIES / 2).contains(&warnings),
        "{warnings} warnings:\n{log}"
    );
    env.stop(pid);
}

#[test]
fn silent_control_connections_cost_no_thread_and_are_closed() {
    let mut env = Env::new("silent");
    let (pid, _) = env.start_after("true");
    // Settled: one request answered.
    let out = env.cli(&["status"]);
    assert!(out.status.success(), "{}", text(&out));
    let before = threads(pid);

    let silent: Vec<UnixStream> = (0..300)
        .map(|_| UnixStream::connect(env.socket()).unwrap())
        .collect();
    // Accepted in order: once `status` is answered, all 300 have been accepted.
    let out = env.cli(&["status"]);
    assert!(
        out.status.success(),
        "status with 300 silent connections open: {}",
        text(&out)
    );
    let after = threads(pid);
    assert!(
        after <= before + 4,
        "threads grew from {before} to {after} with 300 silent control connections"
    );

    // Each is closed: the older ones to make room, the others at the request deadline.
    let mut told = 0;
    for mut s in silent {
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut got = String::new();
        s.read_to_string(&mut got)
            .unwrap_or_else(|e| panic!("a silent connection was not closed: {e}"));
        if !got.is_empty() {
            assert!(got.contains("no request line within"), "{got}");
            told += 1;
        }
    }
    assert!(told > 0, "no silent connection was told why it was closed");
    assert!(alive(pid));
    env.stop(pid);
}

#[test]
fn control_socket_recovers_from_the_fd_limit() {
    const LIMIT: usize = 128;
    let mut env = Env::new("fdlimit");
    let (pid, addrs) = env.start_after(&format!("ulimit -n {LIMIT}"));
    let http = addrs["http"];

    // Use up the server's descriptors: connections that send nothing (the handshake timeout
    // is long), more than the limit; the kernel queues those the server cannot accept.
    let mut clients = Vec::new();
    let deadline = Instant::now() + WAIT;
    while clients.len() < 2 * LIMIT && Instant::now() < deadline {
        match TcpStream::connect_timeout(&http, Duration::from_secs(5)) {
            Ok(c) => clients.push(c),
            Err(_) => break,
        }
    }
    assert!(clients.len() > LIMIT, "only {} connections", clients.len());
    let deadline = Instant::now() + WAIT;
    while open_fds(pid) < LIMIT - 1 && !env.log().contains("http: accept failed") {
        assert!(
            Instant::now() < deadline,
            "the server did not reach its descriptor limit: {} open\n{}",
            open_fds(pid),
            env.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // A control connection now waits in the queue while the server is out of descriptors;
    // `status` may or may not be answered (it waits up to 10 s).
    let _ = env.cli(&["status"]);

    drop(clients);
    let out = status_until_ok(&env);
    assert!(
        out.status.success(),
        "status after the connections closed: {}\n{}",
        text(&out),
        env.log()
    );

    let log = env.log();
    let warnings = log
        .lines()
        .filter(|l| l.contains("control socket: accept failed"))
        .count();
    eprintln!("control socket accept warnings: {warnings}");
    assert!(warnings <= 3, "{warnings} accept warnings:\n{log}");
    if warnings > 0 {
        assert!(log.contains("control socket: accepting again"), "{log}");
    }
    env.stop(pid);
}
