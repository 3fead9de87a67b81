//! The operator's commands with the real binary: `check`, `config`, `completions`, the exit
//! statuses in `--help`, and, against a running daemon, `routes` and `reload --config FILE`.
//!
//! Each test works in its own temporary directory on ports picked by the kernel; a guard
//! kills (by pid) every server a test started. Waits are bounded; nothing depends on timing.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

mod support;

use support::{close_code, connect, next, parse_started, run, text, wait_gone, Workdir, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_ws-cli");

const CONFIG: &str = "[servers.http]\nport = 0\n[servers.ws]\nport = 0\n";

/// A temporary directory and the servers started in it, killed on drop.
struct Env {
    dir: Workdir,
}

impl Env {
    fn new(name: &str) -> Self {
        let dir = Workdir::new(name);
        std::fs::write(dir.join("ws.toml"), CONFIG).unwrap();
        Self { dir }
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.dir.join(file), text).unwrap();
    }

    /// Runs `ws-cli ARGS` in the directory, with `env` set and no `WS_*` of ours.
    fn cli_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(&self.dir)
            .env_remove("WS_SECRET_KEY");
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(cmd, &format!("ws-cli {}", args.join(" ")), WAIT)
    }

    fn cli(&self, args: &[&str]) -> Output {
        self.cli_with(args, &[])
    }

    /// `start -d --config ws.toml`: the daemon's pid and the servers' addresses.
    fn start(&mut self) -> (u32, BTreeMap<String, SocketAddr>) {
        let out = self.cli(&["start", "-d", "--config", "ws.toml"]);
        assert!(out.status.success(), "start -d failed: {}", text(&out));
        let started = parse_started(&String::from_utf8_lossy(&out.stdout));
        self.dir.track(started.0);
        started
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn check_reports_every_problem_at_once_and_exits_1() {
    let env = Env::new("check-bad");
    env.write(
        "bad.toml",
        "[servers.ws]\nport = 0\nmax_message_size = 0\n\
         [servers.http]\nport = 0\noutbound_queue = 0\n",
    );
    let out = env.cli_with(
        &["check", "--config", "bad.toml"],
        &[("WS_HTTP_PORT", "notaport")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("3 problems"), "{err}");
    for expected in [
        "WS_HTTP_PORT",
        "servers.ws.max_message_size",
        "servers.http.outbound_queue",
        "bad.toml",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    // Nothing started: no pid file, no control socket.
    assert!(!env.dir.join("ws.pid").exists());
    assert!(!env.dir.join("ws.sock").exists());
}

#[test]
fn check_binds_nothing_and_exits_0_on_a_good_config() {
    let env = Env::new("check-good");
    // `start` could not listen on this port while we hold it; `check` does not try.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    env.write(
        "ws.toml",
        &format!("[servers.http]\nport = 0\n[servers.ws]\nport = {port}\n"),
    );
    let out = env.cli(&["check", "--config", "ws.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout(&out).contains("ok: the config loads and the app builds: 2 servers (http, ws)"),
        "{}",
        text(&out)
    );
    assert!(!env.dir.join("ws.pid").exists());
    let out = env.cli(&["start", "--config", "ws.toml"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "start on a held port: {}",
        text(&out)
    );
}

#[test]
fn config_names_where_each_value_came_from() {
    let env = Env::new("config");
    env.write(
        "ws.toml",
        "log_level = \"debug\"\n\n[servers.http]\nport = 0\nidle_timeout = 5\n\
         [servers.ws]\nport = 0\n",
    );
    env.write(".env", "WS_HTTP_MAX_CONNECTIONS=7\n");
    let out = env.cli_with(
        &["config", "--config", "ws.toml"],
        &[("WS_WS_PORT", "9000"), ("WS_SECRET_KEY", "s3cret-value")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let listing = stdout(&out);
    let line_of = |table: &str, key: &str| -> String {
        let mut in_table = table.is_empty();
        for line in listing.lines() {
            if line.starts_with('[') {
                in_table = line == format!("[{table}]");
            } else if in_table && line.starts_with(&format!("{key} = ")) {
                return line.to_owned();
            }
        }
        panic!("no {key} in [{table}] in:\n{listing}");
    };
    let ends = |line: String, origin: &str| {
        assert!(
            line.ends_with(&format!("# {origin}")),
            "{line:?} in:\n{listing}"
        );
    };
    ends(line_of("servers.ws", "port"), "env WS_WS_PORT");
    ends(line_of("", "log_level"), "ws.toml:1");
    ends(line_of("servers.http", "idle_timeout"), "ws.toml:5");
    ends(
        line_of("servers.http", "max_connections"),
        ".env WS_HTTP_MAX_CONNECTIONS",
    );
    ends(line_of("", "drain_timeout"), "default");
    assert!(line_of("servers.ws", "port").starts_with("port = 9000 "));
    // The secret is set, and redacted.
    assert!(line_of("", "secret_key").contains("\"<redacted>\""));
    assert!(!listing.contains("s3cret-value"), "{listing}");
    // The listing is TOML with the effective values.
    let table: toml::Table = listing.parse().unwrap();
    assert_eq!(table["servers"]["ws"]["port"].as_integer(), Some(9000));
    assert_eq!(
        table["servers"]["http"]["idle_timeout"].as_integer(),
        Some(5)
    );

    // `--default`: the embedded default config, exactly.
    let out = env.cli(&["config", "--default"]);
    assert!(out.status.success(), "{}", text(&out));
    let embedded = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ws-core/src/config/default.toml");
    assert_eq!(stdout(&out), std::fs::read_to_string(embedded).unwrap());
}

#[test]
fn help_lists_exit_statuses_and_completions_print_a_script() {
    let env = Env::new("help");
    let out = env.cli(&["--help"]);
    assert!(out.status.success(), "{}", text(&out));
    let help = stdout(&out);
    for expected in [
        "Exit status:",
        "0  success",
        "1  failure",
        "2  usage error",
        "3  `status`: no server is running",
        "check",
        "completions",
    ] {
        assert!(help.contains(expected), "missing {expected:?} in:\n{help}");
    }
    // A usage error exits 2; `status` with no server, 3.
    assert_eq!(env.cli(&["no-such-command"]).status.code(), Some(2));
    assert_eq!(env.cli(&["status"]).status.code(), Some(3));

    let out = env.cli(&["completions", "bash"]);
    assert!(out.status.success(), "{}", text(&out));
    let script = stdout(&out);
    assert!(script.contains("complete -F"), "{script}");
    for sub in ["start", "reload", "check", "completions"] {
        assert!(script.contains(sub), "no {sub} in the script");
    }
    let out = env.cli(&["completions", "no-such-shell"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_come_from_the_running_server_when_there_is_one() {
    let mut env = Env::new("routes");
    let (pid, addrs) = env.start();
    let out = env.cli(&["routes", "--config", "ws.toml"]);
    assert!(out.status.success(), "{}", text(&out));
    let listing = stdout(&out);
    assert!(
        listing.starts_with(&format!("from the running server, pid {pid}\n")),
        "{listing}"
    );
    // The ports it listens on, not the config's `0`.
    assert!(
        listing.contains(&format!("server ws  ws://{}\n", addrs["ws"])),
        "{listing}"
    );
    assert!(
        listing.contains(&format!("server http  http://{}\n", addrs["http"])),
        "{listing}"
    );
    assert!(listing.contains("/echo"), "{listing}");

    let out = env.cli(&["stop", "--config", "ws.toml"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(wait_gone(pid));
    let out = env.cli(&["routes", "--config", "ws.toml"]);
    assert!(out.status.success(), "{}", text(&out));
    let listing = stdout(&out);
    assert!(
        listing.starts_with("from the config; no server running\n"),
        "{listing}"
    );
    assert!(
        listing.contains("server ws  ws://127.0.0.1:0\n"),
        "{listing}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_with_another_config_file_loads_that_file() {
    let mut env = Env::new("reload-other");
    let (pid, addrs) = env.start();
    env.write(
        "other.toml",
        "[servers.http]\nport = 0\n[servers.ws]\nport = 0\nmax_message_size = 1000\n",
    );
    let out = env.cli(&["reload", "--config", "other.toml"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = stdout(&out);
    let other = std::fs::canonicalize(env.dir.join("other.toml")).unwrap();
    assert!(
        said.contains(&format!(
            "the server now reads config file {}",
            other.display()
        )),
        "{said}"
    );
    assert!(
        said.contains("applied: servers.ws.max_message_size: 16777216 -> 1000"),
        "{said}"
    );
    // A new connection has the new limit: 2000 bytes close it with 1009.
    let mut ws = connect(addrs["ws"], "/echo").await;
    ws.send(Message::text("x".repeat(2000))).await.unwrap();
    assert_eq!(close_code(&mut ws).await, Some(1009));

    // The server keeps reading other.toml: a plain reload finds nothing new.
    let out = env.cli(&["reload"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("reloaded: nothing changed"),
        "{}",
        text(&out)
    );

    // Back to ws.toml; a missing file is refused before the server is asked.
    let out = env.cli(&["reload", "--config", "ws.toml"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("applied: servers.ws.max_message_size: 1000 -> 16777216"),
        "{}",
        text(&out)
    );
    let out = env.cli(&["reload", "--config", "missing.toml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("cannot read config file missing.toml"),
        "{}",
        text(&out)
    );
    let mut ws = connect(addrs["ws"], "/echo").await;
    ws.send(Message::text("x".repeat(2000))).await.unwrap();
    assert_eq!(next(&mut ws).await, Some(Message::text("x".repeat(2000))));

    let out = env.cli(&["stop", "--config", "ws.toml"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(wait_gone(pid));
}
