//! TLS with the real binary: `start -d`, `status` and `routes` say `wss://` for a TLS server
//! with WebSocket routes (`http://` for the plaintext HTTP-only one), `reload` of a bad
//! certificate pair exits 1 naming the key and the file and keeps the old certificate, and a
//! good new pair is taken.
//!
//! Each server runs as a daemon in its own temporary directory on ports picked by the kernel;
//! a guard kills (by pid) every server process a test started, whatever happens. Waits are
//! bounded.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use ws_tests::tls::{peer_cert, toml_str};
use ws_tests::{client_config, tls_connect_with, try_tls_connect, Ca, Leaf};

mod support;

use support::{alive, run, text, wait_gone, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_ws-cli");

/// A temporary directory with `ws.toml`, `cert.pem` and `key.pem`, and the server processes
/// started in it, killed on drop.
struct Env {
    dir: PathBuf,
    pids: Vec<u32>,
}

impl Env {
    fn new(name: &str, leaf: &Leaf) -> Self {
        let dir = std::env::temp_dir().join(format!("ws-tls-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let env = Self {
            dir,
            pids: Vec::new(),
        };
        env.write_pair(&leaf.cert_pem, &leaf.key_pem);
        let config = format!(
            "[servers.http]\nport = 0\n[servers.ws]\nport = 0\ntls_cert = {}\ntls_key = {}\n",
            toml_str(&env.cert()),
            toml_str(&env.key())
        );
        std::fs::write(env.dir.join("ws.toml"), config).unwrap();
        env
    }

    fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    fn write_pair(&self, cert: &str, key: &str) {
        std::fs::write(self.cert(), cert).unwrap();
        std::fs::write(self.key(), key).unwrap();
    }

    /// Runs `ws-cli ARGS --config ws.toml` in the directory to completion (killed after
    /// `WAIT`).
    fn cli(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .args(["--config", "ws.toml"])
            .current_dir(&self.dir)
            .env_remove("WS_SECRET_KEY")
            .env_remove("WS_WS_TLS_CERT")
            .env_remove("WS_WS_TLS_KEY")
            .env_remove("WS_WS_TLS_CLIENT_CA");
        run(cmd, &format!("ws-cli {}", args.join(" ")), WAIT)
    }

    /// `start -d`: the daemon's pid and its whole output.
    fn start(&mut self) -> (u32, String) {
        let out = self.cli(&["start", "-d"]);
        let all = text(&out);
        assert!(out.status.success(), "start -d failed: {all}");
        let pid = all
            .lines()
            .find_map(|l| l.split("started: pid ").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no pid in {all:?}"));
        self.pids.push(pid);
        (pid, all)
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

/// The address after `<server> listening at <scheme>://` in `text`.
fn listening(text: &str, server: &str, scheme: &str) -> SocketAddr {
    let marker = format!("{server} listening at {scheme}://");
    text.lines()
        .find_map(|l| l.split(&marker).nth(1))
        .unwrap_or_else(|| panic!("no `{marker}ADDR` line in {text:?}"))
        .trim()
        .parse()
        .unwrap()
}

/// A `wss://` echo on `/echo`, trusting `ca` only.
async fn wss_echo(addr: SocketAddr, ca: &Ca, message: &str) {
    let tls = tls_connect_with(addr, client_config(&[ca], None, &[b"http/1.1"])).await;
    let url = format!("wss://localhost:{}/echo", addr.port());
    let (mut ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::client_async(url, tls))
        .await
        .expect("handshake within the budget")
        .expect("handshake accepted");
    ws.send(Message::text(message)).await.unwrap();
    let reply = tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("an echo within the budget");
    match reply {
        Some(Ok(Message::Text(t))) => assert_eq!(t.as_str(), message),
        other => panic!("expected the echo, got {other:?}"),
    }
}

#[tokio::test]
async fn start_status_and_routes_say_wss_and_reload_rereads_the_pair() {
    let ca_a = Ca::new("cli CA A");
    let ca_b = Ca::new("cli CA B");
    let cert_a = ca_a.server_cert();
    let mut env = Env::new("reload", &cert_a);

    // `routes` needs no running server: TLS with WebSocket routes is wss, plaintext with
    // HTTP routes only is http.
    let out = env.cli(&["routes"]);
    let routes = text(&out);
    assert!(out.status.success(), "{routes}");
    assert!(
        routes.contains("server ws  wss://127.0.0.1:"),
        "routes: {routes}"
    );
    assert!(
        routes.contains("server http  http://127.0.0.1:"),
        "routes: {routes}"
    );

    let (pid, started) = env.start();
    let ws = listening(&started, "ws", "wss");
    let http = listening(&started, "http", "http");
    assert_ne!(ws.port(), 0);
    assert_ne!(http.port(), 0);

    let out = env.cli(&["status"]);
    let status = text(&out);
    assert!(out.status.success(), "{status}");
    assert!(
        status.contains(&format!("server ws at wss://{ws}")),
        "status: {status}"
    );
    assert!(
        status.contains(&format!("server http at http://{http}")),
        "status: {status}"
    );

    wss_echo(ws, &ca_a, "with certificate A").await;
    // Plain HTTP on the TLS port gets no HTTP answer.
    let (code, answer) = ws_tests::http_get(ws, "/health").await;
    assert_eq!(
        code, 0,
        "plaintext on the TLS port was answered: {answer:?}"
    );
    // The plaintext http server is plain HTTP.
    let (code, _) = ws_tests::http_get(http, "/health").await;
    assert_eq!(code, 200);

    // A bad pair: B's certificate with A's key.
    let cert_b = ca_b.server_cert();
    env.write_pair(&cert_b.cert_pem, &cert_a.key_pem);
    let out = env.cli(&["reload"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "reload of a bad pair: {said}");
    let (cert_path, key_path) = (
        env.cert().display().to_string(),
        env.key().display().to_string(),
    );
    assert!(
        (said.contains("tls_key") && said.contains(&key_path))
            || (said.contains("tls_cert") && said.contains(&cert_path)),
        "names the key and the file: {said}"
    );
    // A key file that is not PEM.
    env.write_pair(&cert_b.cert_pem, "not a key\n");
    let out = env.cli(&["reload"]);
    let said = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "reload of a garbage key: {said}"
    );
    assert!(
        said.contains("tls_key") && said.contains(&key_path),
        "names tls_key and {key_path}: {said}"
    );
    // The server still presents certificate A.
    let tls = tls_connect_with(ws, client_config(&[&ca_a], None, &[b"http/1.1"])).await;
    assert_eq!(peer_cert(&tls).unwrap(), cert_a.cert_der);
    drop(tls);
    wss_echo(ws, &ca_a, "still certificate A").await;

    // A good new pair, from another CA.
    env.write_pair(&cert_b.cert_pem, &cert_b.key_pem);
    let out = env.cli(&["reload"]);
    assert!(
        out.status.success(),
        "reload of a good pair: {}",
        text(&out)
    );
    wss_echo(ws, &ca_b, "with certificate B").await;
    assert!(
        try_tls_connect(ws, client_config(&[&ca_a], None, &[b"http/1.1"]))
            .await
            .is_err(),
        "after the reload, CA A's clients no longer verify the server"
    );

    let out = env.cli(&["stop"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(wait_gone(pid), "pid {pid} still runs after stop");
}

#[test]
fn start_with_a_missing_key_file_fails_naming_it() {
    let ca = Ca::new("cli CA bad start");
    let mut env = Env::new("bad-start", &ca.server_cert());
    std::fs::remove_file(env.key()).unwrap();
    let out = env.cli(&["start", "-d"]);
    let said = text(&out);
    if let Some(pid) = said
        .lines()
        .find_map(|l| l.split("started: pid ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
    {
        env.pids.push(pid); // killed on drop
    }
    assert!(
        !out.status.success(),
        "started without its key file: {said}"
    );
    let key_path = env.key().display().to_string();
    assert!(
        said.contains("tls_key") && said.contains(&key_path),
        "names tls_key and {key_path}: {said}"
    );
}
