//! Operating the real binary (with the demo app): JSON logs, a `log_level` that is no level,
//! disabled servers, and systemd's notify protocol against a fake `NOTIFY_SOCKET` (readiness,
//! reloads, the watchdog).
//!
//! Every server runs in its own temporary directory on ports picked by the kernel; a guard
//! kills (by pid) every server process a test started, whatever happens. Waits are bounded.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Output, Stdio};

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

mod support;

use support::{connect, next, parse_started, run, text, wait_gone, Workdir, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_ws-cli");

const SERVERS: &str = "[servers.http]\nport = 0\n[servers.ws]\nport = 0\n";

/// A temporary directory and the server processes started in it, killed on drop.
struct Env {
    dir: Workdir,
}

impl Env {
    fn new(name: &str, config: &str) -> Self {
        let env = Self {
            dir: Workdir::new(name),
        };
        env.write_config(config);
        env
    }

    fn write_config(&self, text: &str) {
        std::fs::write(self.dir.join("ws.toml"), text).unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .args(["--config", "ws.toml"])
            .current_dir(&self.dir)
            .env_remove("WS_SECRET_KEY")
            .env_remove("WS_LOG_LEVEL")
            .env_remove("WS_LOG_FORMAT")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID");
        cmd
    }

    /// Runs `ws-cli ARGS --config ws.toml` to completion (killed after `WAIT`).
    fn cli(&self, args: &[&str]) -> Output {
        self.cli_with(args, &[])
    }

    fn cli_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(args);
        cmd.envs(vars.iter().copied());
        run(cmd, &format!("ws-cli {}", args.join(" ")), WAIT)
    }

    /// `start -d` (with `vars`): the daemon's pid and the servers' addresses.
    fn start(&mut self, vars: &[(&str, &str)]) -> (u32, BTreeMap<String, SocketAddr>) {
        let out = self.cli_with(&["start", "-d"], vars);
        assert!(out.status.success(), "start -d failed: {}", text(&out));
        let started = parse_started(&String::from_utf8_lossy(&out.stdout));
        self.dir.track(started.0);
        started
    }

    fn stop(&self, pid: u32) {
        let out = self.cli(&["stop"]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(wait_gone(pid), "pid {pid} still runs after `stop`");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("ws.log")).unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_lines_parse_and_carry_the_connection_fields() {
    let mut env = Env::new(
        "json",
        &format!("log_level = \"debug\"\nlog_format = \"json\"\n{SERVERS}"),
    );
    let (pid, addrs) = env.start(&[]);
    let mut ws = connect(addrs["ws"], "/echo").await;
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(next(&mut ws).await, Some(Message::text("hello")));
    ws.close(None).await.unwrap();
    env.stop(pid);

    let log = env.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let message = |line: &serde_json::Value| line["fields"]["message"].as_str().map(str::to_owned);
    assert!(
        lines.iter().any(
            |l| message(l).is_some_and(|m| m.starts_with("ws listening at ws://"))
                && l["level"] == "INFO"
        ),
        "{log}"
    );
    // The connection's own lines carry its span: id, server and route.
    let open = lines
        .iter()
        .find(|l| message(l).as_deref() == Some("open"))
        .unwrap_or_else(|| panic!("no `open` line: {log}"));
    let span = &open["span"];
    assert_eq!(span["name"], "conn", "{open}");
    assert_eq!(span["server"], "ws", "{open}");
    assert_eq!(span["path"], "/echo", "{open}");
    let conn = span["conn"].as_str().unwrap_or_else(|| panic!("{open}"));
    assert!(
        conn.split_once('-')
            .is_some_and(|(node, seq)| node.parse::<u16>().is_ok() && seq.parse::<u64>().is_ok()),
        "{open}"
    );
    assert!(
        open["spans"]
            .as_array()
            .is_some_and(|spans| spans.iter().any(|s| s["conn"] == conn)),
        "{open}"
    );
}

#[test]
fn a_log_level_or_format_that_is_none_fails_the_start_naming_the_key() {
    let env = Env::new("level", &format!("log_level = \"verbose\"\n{SERVERS}"));
    let out = env.cli(&["start"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("config key `log_level`") && all.contains("\"verbose\" is not a level"),
        "{all}"
    );
    assert!(!all.contains("listening"), "{all}");

    env.write_config(SERVERS);
    let out = env.cli_with(&["start"], &[("WS_LOG_LEVEL", "verbose")]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("log_level") && all.contains("WS_LOG_LEVEL"),
        "{all}"
    );

    // A level in any case and `TARGET=LEVEL` directives are levels; `routes` loads the same
    // config as `start`, without binding.
    env.write_config(&format!("log_level = \"DEBUG,ws_core=warn\"\n{SERVERS}"));
    let out = env.cli(&["routes"]);
    assert!(out.status.success(), "{}", text(&out));

    env.write_config(&format!("log_format = \"xml\"\n{SERVERS}"));
    let out = env.cli(&["start"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("log_format") && all.contains("xml"), "{all}");
    assert!(!all.contains("listening"), "{all}");
}

#[test]
fn reload_with_a_log_level_that_is_no_level_exits_1_and_applies_nothing() {
    let mut env = Env::new("reload", &format!("log_level = \"info\"\n{SERVERS}"));
    let (pid, _) = env.start(&[]);

    env.write_config(&format!(
        "log_level = \"verbose\"\ndrain_timeout = 3\n{SERVERS}"
    ));
    let out = env.cli(&["reload"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("log_level") && all.contains("\"verbose\" is not a level"),
        "{all}"
    );
    // The server said so in its log, which is still on.
    let log = env.log();
    assert!(
        log.contains("reload failed") && log.contains("verbose"),
        "{log}"
    );

    // Nothing was applied: the next good reload applies both keys.
    env.write_config(&format!(
        "log_level = \"debug\"\ndrain_timeout = 3\n{SERVERS}"
    ));
    let out = env.cli(&["reload"]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("applied: log_level: info -> debug"), "{all}");
    assert!(all.contains("applied: drain_timeout: 10s -> 3s"), "{all}");
    env.stop(pid);
}

#[test]
fn a_route_on_a_disabled_server_fails_the_start_naming_both() {
    // The demo has routes on `http`: disabling it is refused, by file or by env.
    let env = Env::new(
        "disabled",
        "[servers.http]\nport = 0\nenabled = false\n[servers.ws]\nport = 0\n",
    );
    for out in [env.cli(&["start"]), env.cli(&["routes"]), {
        env.write_config(SERVERS);
        env.cli_with(&["start"], &[("WS_HTTP_ENABLED", "false")])
    }] {
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(
            all.contains(
                "targets server `http`, which is disabled (`servers.http.enabled = false`"
            ),
            "{all}"
        );
        // The registration is named with its file and line.
        assert!(all.contains("demo/") && all.contains(".rs:"), "{all}");
        assert!(!all.contains("listening"), "{all}");
    }
}

/// The next datagram on the fake notify socket.
fn received(socket: &UnixDatagram) -> String {
    let mut buf = [0; 4096];
    let n = socket
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("no notification within {WAIT:?}: {e}"));
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// The lines of a notification, sorted (their order within a datagram is free).
fn lines(datagram: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = datagram.lines().collect();
    lines.sort_unstable();
    lines
}

#[test]
fn systemd_hears_ready_the_main_pid_across_a_restart_and_stopping() {
    // An extra server that is disabled: no listener, not in `status` or `routes`.
    let mut env = Env::new(
        "notify",
        &format!("{SERVERS}[servers.admin]\nport = 0\nenabled = false\n"),
    );
    let path = env.dir.join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let notify = [("NOTIFY_SOCKET", path.to_str().unwrap())];

    // Foreground `start`: ready once serving, stopping on SIGTERM.
    let mut child = env
        .command(&["start"])
        .envs(notify)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    env.dir.track(pid);
    let ready = received(&socket);
    assert_eq!(
        lines(&ready),
        [format!("MAINPID={pid}").as_str(), "READY=1"]
    );
    let out = env.cli(&["status"]);
    assert!(out.status.success(), "{}", text(&out));
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert_eq!(received(&socket), "STOPPING=1");
    assert!(wait_gone(pid));
    let _ = child.wait();

    // `start -d`: the daemon's pid, before `start -d` returns.
    let (old, addrs) = env.start(&notify);
    assert_eq!(addrs.keys().collect::<Vec<_>>(), ["http", "ws"]);
    let ready = received(&socket);
    assert_eq!(
        lines(&ready),
        [format!("MAINPID={old}").as_str(), "READY=1"]
    );
    let status = text(&env.cli(&["status"]));
    assert!(
        status.contains("server ws at") && !status.contains("admin"),
        "{status}"
    );
    let routes = text(&env.cli(&["routes"]));
    assert!(
        routes.contains("/echo") && !routes.contains("admin"),
        "{routes}"
    );

    // `restart` (run where systemd gives it the socket, as `ExecReload=` does): the new
    // process is the main one, and the old one does not say it stops.
    let out = env.cli_with(&["restart"], &notify);
    assert!(out.status.success(), "{}", text(&out));
    let (new, _) = parse_started(&String::from_utf8_lossy(&out.stdout));
    env.dir.track(new);
    assert_ne!(new, old);
    let ready = received(&socket);
    assert_eq!(
        lines(&ready),
        [format!("MAINPID={new}").as_str(), "READY=1"]
    );
    assert!(wait_gone(old), "the old process did not exit");

    env.stop(new);
    assert_eq!(received(&socket), "STOPPING=1");
    // Every sender has exited: nothing else was sent.
    socket.set_nonblocking(true).unwrap();
    let mut buf = [0; 4096];
    match socket.recv(&mut buf) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!(
            "an extra notification: {:?}",
            other.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
        ),
    }
}

/// The next datagram on the fake notify socket and the pid of its sender (the kernel's
/// `SCM_CREDENTIALS`, as systemd reads them), skipping `WATCHDOG=1` unless `watchdog`.
fn received_from(socket: &UnixDatagram, watchdog: bool) -> (String, u32) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
    use std::io::IoSliceMut;
    use std::os::fd::AsRawFd;
    loop {
        let mut buf = [0u8; 4096];
        let mut space = nix::cmsg_space!(nix::sys::socket::UnixCredentials);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<UnixAddr>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::empty(),
        )
        .unwrap_or_else(|e| panic!("no notification within {WAIT:?}: {e}"));
        let pid = msg
            .cmsgs()
            .unwrap()
            .find_map(|c| match c {
                ControlMessageOwned::ScmCredentials(cred) => Some(cred.pid() as u32),
                _ => None,
            })
            .expect("the sender's credentials");
        let n = msg.bytes;
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if watchdog || text != "WATCHDOG=1" {
            return (text, pid);
        }
    }
}

#[test]
fn systemd_hears_reloads_and_the_watchdog_which_a_restart_keeps() {
    let mut env = Env::new("watchdog", SERVERS);
    let path = env.dir.join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::PassCred, &true).unwrap();
    let path = path.to_str().unwrap();

    // Under a watchdog of 200 ms (no WATCHDOG_PID: any process of the service).
    let (old, _) = env.start(&[("NOTIFY_SOCKET", path), ("WATCHDOG_USEC", "200000")]);
    let (ready, from) = received_from(&socket, false);
    assert_eq!(
        (lines(&ready), from),
        (vec![format!("MAINPID={old}").as_str(), "READY=1"], old)
    );
    for _ in 0..3 {
        assert_eq!(received_from(&socket, true), ("WATCHDOG=1".to_owned(), old));
    }

    // SIGHUP (what `Type=notify-reload` sends): RELOADING=1 with the monotonic clock, then
    // READY=1 once the reload is done.
    let status = Command::new("kill")
        .args(["-HUP", &old.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (reloading, _) = received_from(&socket, false);
    let reloading = lines(&reloading);
    assert_eq!(reloading[1], "RELOADING=1", "{reloading:?}");
    let usec: u64 = reloading[0]
        .strip_prefix("MONOTONIC_USEC=")
        .unwrap_or_else(|| panic!("{reloading:?}"))
        .parse()
        .unwrap();
    assert!(usec > 0);
    assert_eq!(received_from(&socket, false), ("READY=1".to_owned(), old));
    // A `reload` request is a reload too.
    let out = env.cli(&["reload"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(received_from(&socket, false).0.contains("RELOADING=1"));
    assert_eq!(received_from(&socket, false).0, "READY=1");

    // `restart` without WATCHDOG_USEC (systemd gives it to the main process only): the new
    // process keeps the old one's watchdog, which stops sending.
    let out = env.cli_with(&["restart"], &[("NOTIFY_SOCKET", path)]);
    assert!(out.status.success(), "{}", text(&out));
    let (new, _) = parse_started(&String::from_utf8_lossy(&out.stdout));
    env.dir.track(new);
    let (ready, from) = received_from(&socket, false);
    assert_eq!(
        (lines(&ready), from),
        (vec![format!("MAINPID={new}").as_str(), "READY=1"], new)
    );
    assert!(wait_gone(old), "the old process did not exit");
    // Pings sent before the old process went may still be queued: skip them, then three in a
    // row from the new process.
    let mut from_new = 0;
    for _ in 0..100 {
        let (text, from) = received_from(&socket, true);
        assert_eq!(text, "WATCHDOG=1");
        if from == new {
            from_new += 1;
            if from_new == 3 {
                break;
            }
        } else {
            assert_eq!(from, old, "a ping from an unknown process");
            assert_eq!(
                from_new, 0,
                "the old process pinged after the new one began"
            );
        }
    }
    assert_eq!(from_new, 3);
    env.stop(new);
    assert_eq!(
        received_from(&socket, false),
        ("STOPPING=1".to_owned(), new)
    );
}
