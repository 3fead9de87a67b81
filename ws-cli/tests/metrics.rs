//! The metrics server with the real binary: `routes` lists `/metrics`, `/healthz` and
//! `/readyz` (not with `WS_METRICS=false`), an unknown `metrics_server` fails, and `stop` turns
//! `/readyz` to 503 while a connection that does not answer the close keeps the drain going.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

mod support;

use support::{alive, parse_started, run, text, wait_gone, WAIT};
use ws_tests::{http_get, within, RawClient};

const BIN: &str = env!("CARGO_BIN_EXE_ws-cli");

/// A temporary directory with `ws.toml`; kills the server (by pid) on drop.
struct Env {
    dir: PathBuf,
    pid: Option<u32>,
}

impl Env {
    fn new(name: &str, config: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ws-metrics-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ws.toml"), config).unwrap();
        Self { dir, pid: None }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.filter(|&p| alive(p)) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn cli(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .args(["--config", "ws.toml"])
        .current_dir(dir)
        .env_remove("WS_SECRET_KEY")
        .env_remove("WS_METRICS")
        .env_remove("WS_METRICS_SERVER");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd, &format!("ws-cli {}", args.join(" ")), WAIT)
}

#[test]
fn routes_lists_the_metrics_routes_unless_metrics_is_off() {
    let env = Env::new("routes", "");
    let out = cli(&env.dir, &["routes"], &[]);
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", text(&out));
    let http = listed.split("server ws ").next().unwrap();
    for path in ["/metrics", "/healthz", "/readyz"] {
        assert!(
            http.contains(&format!("GET   {path} -> ws-core")),
            "{listed}"
        );
    }

    let out = cli(&env.dir, &["routes"], &[("WS_METRICS", "false")]);
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", text(&out));
    assert!(!listed.contains("/metrics"), "{listed}");

    let out = cli(&env.dir, &["routes"], &[("WS_METRICS_SERVER", "admin")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("metrics_server") && err.contains("WS_METRICS_SERVER"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_turns_readyz_503_while_the_drain_lasts() {
    // The client below never answers the stop's close frame: the drain lasts `drain_timeout`.
    let mut env = Env::new(
        "stop",
        "drain_timeout = 6\n\
         [servers.http]\nport = 0\n\
         [servers.ws]\nport = 0\nclose_timeout = 60\n",
    );
    let out = cli(&env.dir, &["start", "-d"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let (pid, addrs) = parse_started(&String::from_utf8_lossy(&out.stdout));
    env.pid = Some(pid);
    let (http, ws) = (addrs["http"], addrs["ws"]);
    assert_eq!(http_get(http, "/readyz").await.0, 200);
    let mut client = RawClient::connect(ws, "/echo").await;
    client.send_text("hi").await;
    assert_eq!(client.recv_text().await, "hi");

    let dir = env.dir.clone();
    let stop = tokio::task::spawn_blocking(move || cli(&dir, &["stop"], &[]));
    assert_eq!(client.expect_close().await, Some(1001));
    within("readyz turns 503", async {
        while http_get(http, "/readyz").await.0 != 503 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let (status, body) = http_get(http, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("ws_connections{server=\"ws\",route=\"/echo\"} 1"),
        "{body}"
    );
    assert!(alive(pid), "the drain must still be going on");

    let out = within("stop returns", stop).await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(wait_gone(pid));
    drop(client);
}
