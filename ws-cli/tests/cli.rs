//! The real `ws-cli` binary (with the demo app): start-up lines, config errors, `routes`.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ws-cli");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ws-cli-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(dir: &PathBuf, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("WS_SECRET_KEY")
        .output()
        .unwrap()
}

/// Kills the child on drop so a failing test never leaves a server behind.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn start_logs_one_line_per_server_and_stops_on_sigterm() {
    let dir = temp_dir("start");
    std::fs::write(
        dir.join("ws.toml"),
        "[servers.http]\nport = 0\n[servers.ws]\nport = 0\n",
    )
    .unwrap();
    let child = Command::new(BIN)
        .args(["start", "--config", "ws.toml"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let stderr = guard.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).expect("listening lines within 20 s");
        for (name, scheme) in [("http", "http"), ("ws", "ws")] {
            if line.contains(&format!("{name} listening at {scheme}://127.0.0.1:"))
                && !seen.contains(&name)
            {
                seen.push(name);
            }
        }
    }
    let status = Command::new("kill")
        .args(["-TERM", &guard.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(code) = guard.0.try_wait().unwrap() {
            assert!(code.success(), "graceful stop exits 0, got {code}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "did not stop within 20 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_config_key_names_file_line_and_key() {
    let dir = temp_dir("badkey");
    std::fs::write(
        dir.join("ws.toml"),
        "log_level = \"info\"\n\n[servers.ws]\nprot = 9502\n",
    )
    .unwrap();
    let out = run(&dir, &["start", "--config", "ws.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ws.toml"), "{err}");
    assert!(err.contains("line 4"), "{err}");
    assert!(err.contains("unknown field `prot`"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_toml_and_missing_file_are_clear_errors() {
    let dir = temp_dir("malformed");
    std::fs::write(dir.join("ws.toml"), "[servers.ws\nport = 1\n").unwrap();
    let out = run(&dir, &["start", "--config", "ws.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ws.toml") && err.contains("line 1"), "{err}");

    let out = run(&dir, &["start", "--config", "missing.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot read config file missing.toml"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn port_in_use_names_server_and_config_key() {
    let dir = temp_dir("inuse");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    std::fs::write(
        dir.join("ws.toml"),
        format!("[servers.http]\nport = 0\n[servers.ws]\nport = {port}\n"),
    )
    .unwrap();
    let out = run(&dir, &["start", "--config", "ws.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server `ws` cannot listen on 127.0.0.1:"),
        "{err}"
    );
    assert!(err.contains("servers.ws.port"), "{err}");
    assert!(err.contains("ws.toml"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn env_and_dotenv_override_the_file() {
    let dir = temp_dir("env");
    std::fs::write(dir.join(".env"), "WS_WS_PORT=notaport\n").unwrap();
    let out = run(&dir, &["routes"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WS_WS_PORT"), "{err}");
    assert!(err.contains(".env"), "{err}");

    std::fs::write(dir.join(".env"), "WS_WS_PORT=9700\n").unwrap();
    let out = Command::new(BIN)
        .arg("routes")
        .current_dir(&dir)
        .env("WS_HTTP_PORT", "9701")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("server ws  ws://127.0.0.1:9700"), "{text}");
    assert!(
        text.contains("server http  http://127.0.0.1:9701"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn routes_lists_servers_routes_and_controllers() {
    let dir = temp_dir("routes");
    let out = run(&dir, &["routes"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "server http  http://127.0.0.1:9501",
        "server ws  ws://127.0.0.1:9502",
        "WS    /chat -> ws_cli::demo::controllers::chat::Chat",
        "WS    /echo -> ws_cli::demo::controllers::echo::Echo",
        "WS    / -> ws_cli::demo::controllers::home::Home",
        "GET   /health -> ws_cli::demo::controllers::health::health",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
