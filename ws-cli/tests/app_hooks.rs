//! An app of its own (this test binary, run again as the app) that adds a tracing layer
//! with `ws_cli::log_layer!` and disables the embedded default's `http` server: the layer
//! sees the events of ws-cli, ws-core and the app's handler, inside the connection's span,
//! and the disabled server has no listener and is in neither `status` nor `routes`.
//!
//! `harness = false`: `main` is the app when `APP_HOOKS_TEST_APP` is set, and the test otherwise.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;
use ws_core::{ws_handler, Recv, WebSocket};

/// Set in the environment of the app's processes.
const APP: &str = "APP_HOOKS_TEST_APP";
/// The file the app's layer appends what it observes to.
const OBSERVED: &str = "APP_HOOKS_TEST_OBSERVED";

/// Answers each text message with `ID: TEXT IN CAPITALS`, logging it first.
#[ws_handler(server = "ws", path = "/shout")]
async fn shout(mut ws: WebSocket) {
    while let Recv::Message(msg) = ws.recv().await {
        let text = msg.as_text().unwrap_or_default().to_owned();
        tracing::info!(text, "shouting");
        let reply = format!("{}: {}", ws.id(), text.to_uppercase());
        if ws.push(ws_core::Message::text(reply)).await.is_err() {
            break;
        }
    }
}

/// Appends one line per event: `MESSAGE conn=ID` (`conn=-` outside a connection).
struct Observer(Mutex<std::fs::File>);

/// The `conn` field of a `conn` span, kept in the span's extensions.
struct ConnField(String);

#[derive(Default)]
struct Fields {
    message: String,
    conn: Option<String>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "conn" => self.conn = Some(format!("{value:?}")),
            _ => {}
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Observer {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let (Some(conn), Some(span)) = (fields.conn, ctx.span(id)) {
            span.extensions_mut().insert(ConnField(conn));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let conn = ctx
            .event_scope(event)
            .and_then(|scope| {
                scope
                    .from_root()
                    .find_map(|span| span.extensions().get::<ConnField>().map(|c| c.0.clone()))
            })
            .unwrap_or_else(|| "-".to_owned());
        let mut file = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(file, "{} conn={conn}", fields.message);
    }
}

fn observer(
    _config: &ws_core::Config,
) -> Result<ws_cli::LogLayer, Box<dyn std::error::Error + Send + Sync>> {
    let path = std::env::var_os(OBSERVED).ok_or("APP_HOOKS_TEST_OBSERVED is not set")?;
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    Ok(Box::new(Observer(Mutex::new(file))))
}

ws_cli::log_layer!(observer);

fn main() {
    if std::env::var_os(APP).is_some() {
        ws_cli::main()
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(an_app_layer_sees_connection_events_and_http_is_disabled());
    println!("test an_app_layer_sees_connection_events_and_http_is_disabled ... ok");
}

/// Kills the app (by pid) and removes the directory when the test ends.
struct Daemon {
    dir: PathBuf,
    pid: Option<u32>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.filter(|&p| alive(p)) {
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

async fn an_app_layer_sees_connection_events_and_http_is_disabled() {
    let dir = std::env::temp_dir().join(format!("ws-app-hooks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ws.toml"),
        "log_level = \"debug\"\nmetrics_server = \"ws\"\n[servers.http]\nenabled = false\n[servers.ws]\nport = 0\n",
    )
    .unwrap();
    let mut daemon = Daemon {
        dir: dir.clone(),
        pid: None,
    };
    let observed = dir.join("observed.log");
    let app = std::env::current_exe().unwrap();
    let cli = |args: &[&str]| {
        let mut cmd = Command::new(&app);
        cmd.args(args)
            .args(["--config", "ws.toml"])
            .current_dir(&dir)
            .env(APP, "1")
            .env(OBSERVED, &observed)
            .env_remove("WS_SECRET_KEY")
            .env_remove("WS_LOG_LEVEL")
            .env_remove("WS_LOG_FORMAT");
        run(cmd, &format!("app {}", args.join(" ")))
    };

    let out = cli(&["start", "-d"]);
    assert!(out.status.success(), "{}", text(&out));
    let (pid, addrs) = parse_started(&String::from_utf8_lossy(&out.stdout));
    daemon.pid = Some(pid);
    let names: Vec<&str> = addrs.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["ws"], "{}", text(&out));
    let addr = addrs[0].1;

    let status = text(&cli(&["status"]));
    assert!(
        status.contains("server ws at") && !status.contains("http"),
        "{status}"
    );
    let routes = text(&cli(&["routes"]));
    assert!(
        routes.contains("/shout") && !routes.contains("http"),
        "{routes}"
    );

    let mut ws = connect(addr, "/shout").await;
    ws.send(Message::text("hello")).await.unwrap();
    let reply = match next(&mut ws).await {
        Some(Message::Text(t)) => t.as_str().to_owned(),
        other => panic!("expected the reply, got {other:?}"),
    };
    let (id, shouted) = reply.split_once(": ").unwrap();
    assert_eq!(shouted, "HELLO");
    ws.close(None).await.unwrap();

    let out = cli(&["stop"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(wait_gone(pid));

    // The layer saw ws-cli's and ws-core's lines, and the handler's inside its connection.
    let seen = std::fs::read_to_string(&observed).unwrap_or_default();
    let lines: Vec<&str> = seen.lines().collect();
    assert!(
        lines.iter().any(|l| l.starts_with("ws listening at ws://")),
        "{seen}"
    );
    assert!(
        lines.contains(&format!("open conn={id}").as_str()),
        "{seen}"
    );
    assert!(
        lines.contains(&format!("shouting conn={id}").as_str()),
        "{seen}"
    );
    assert!(lines.contains(&"stopped conn=-"), "{seen}");
}

// What `support/mod.rs` has, without it: it links the workspace's test support, and with it
// the demo app, whose routes on `http` this app must not have.

/// Budget of each wait; generous for a loaded 2-core machine.
const WAIT: Duration = Duration::from_secs(30);

/// Runs `cmd` to completion (its output is small), killing it after `WAIT`.
fn run(mut cmd: Command, what: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `{what}`: {e}"));
    let deadline = Instant::now() + WAIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{what}` did not finish within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `started: pid N` and `NAME listening at SCHEME://ADDR` lines.
fn parse_started(text: &str) -> (u32, Vec<(String, std::net::SocketAddr)>) {
    let mut pid = None;
    let mut addrs = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.split("started: pid ").nth(1) {
            pid = rest.split_whitespace().next().and_then(|p| p.parse().ok());
        }
        if let Some((name, url)) = line.split_once(" listening at ") {
            let (_scheme, addr) = url.split_once("://").unwrap();
            addrs.push((name.to_owned(), addr.trim().parse().unwrap()));
        }
    }
    (pid.unwrap_or_else(|| panic!("no pid in {text:?}")), addrs)
}

/// Whether `pid` runs (zombies don't).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
    })
}

fn wait_gone(pid: u32) -> bool {
    let deadline = Instant::now() + WAIT;
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: std::net::SocketAddr, path: &str) -> Ws {
    let url = format!("ws://{addr}{path}");
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("handshake within the budget")
        .expect("handshake accepted");
    ws
}

/// The next message, skipping pings and pongs.
async fn next(ws: &mut Ws) -> Option<Message> {
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
