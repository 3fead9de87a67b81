//! `ws-cli` without an app, in a project directory: `start -d` builds the project's app with
//! cargo in release mode and runs it; `status`, `routes` and `stop` reach it. The app is its
//! own binary too: its `--version` and `--help` show its name, version and description (from
//! its `Cargo.toml`, through `ws_cli::cli!()`), and its own subcommand runs its function.
//!
//! The project is written to a temporary directory: a binary crate with one `#[ws_handler]`
//! that depends on this repository's ws-core and ws-cli by path, with this workspace's
//! `Cargo.lock` so that it builds the same dependency versions. Its target directory lives in
//! `target/tmp` and is kept between runs: the first run builds ws-cli's dependencies in release
//! mode (about two minutes on two cores), later runs only the changed crates.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use futures_util::SinkExt;
use support::{close_code, connect, next, parse_started, run, text, wait_gone, WAIT};
use tokio_tungstenite::tungstenite::Message;

/// Budget of one cargo build (a release build of every dependency on a loaded machine).
const BUILD: Duration = Duration::from_secs(20 * 60);

const MAIN_RS: &str = r#"use ws_cli::clap::{Arg, ArgMatches, Command};
use ws_core::{ws_handler, Message, Recv, WebSocket};

/// Answers each text message in capitals.
#[ws_handler(server = "ws", path = "/shout")]
async fn shout(mut ws: WebSocket) {
    while let Recv::Message(msg) = ws.recv().await {
        let text = msg.as_text().unwrap_or_default().to_uppercase();
        if ws.push(Message::text(text)).await.is_err() {
            break;
        }
    }
}

/// `chat-server greet NAME [--shout]`: the app's own subcommand.
fn greet(args: &ArgMatches) -> Result<(), String> {
    let name = args.get_one::<String>("name").ok_or("no name")?;
    if name == "nobody" {
        return Err("nobody to greet".to_owned());
    }
    let greeting = format!("hello, {name}");
    if args.get_flag("shout") {
        println!("{}", greeting.to_uppercase());
    } else {
        println!("{greeting}");
    }
    Ok(())
}

fn main() {
    ws_cli::cli!()
        .subcommand(
            Command::new("greet")
                .about("Print a greeting")
                .arg(Arg::new("name").required(true))
                .arg(Arg::new("shout").long("shout").action(ws_cli::clap::ArgAction::SetTrue)),
            greet,
        )
        .main()
}
"#;

const CONFIG: &str = "[servers.http]\nport = 0\n[servers.ws]\nport = 0\n";

/// The repository root (ws-cli's parent).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Writes the project: a package `chat-app` whose binary is `chat-server`, named in
/// `[package.metadata.ws-cli]`.
fn write_project(dir: &Path) {
    let repo = repo();
    let manifest = format!(
        "[package]\nname = \"chat-app\"\nversion = \"2.3.4\"\nedition = \"2021\"\npublish = false\n\
         description = \"Chat rooms of the project test\"\n\n\
         [package.metadata.ws-cli]\nbin = \"chat-server\"\n\n\
         [[bin]]\nname = \"chat-server\"\npath = \"src/main.rs\"\n\n\
         [dependencies]\n\
         ws-core = {{ path = {core:?} }}\n\
         ws-cli = {{ path = {cli:?}, default-features = false }}\n\n\
         # Not a member of the repository's workspace.\n[workspace]\n",
        core = repo.join("ws-core"),
        cli = repo.join("ws-cli"),
    );
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join("src/main.rs"), MAIN_RS).unwrap();
    std::fs::write(dir.join("ws.toml"), CONFIG).unwrap();
    std::fs::copy(repo.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
}

/// A command in the project directory that builds into the kept target directory.
fn in_project(program: &Path, dir: &Path, target: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("WS_SECRET_KEY");
    cmd
}

/// Kills the daemon (by pid) if the test ends early.
struct Daemon(Option<u32>);

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(pid) = self.0.filter(|&p| support::alive(p)) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_cli_builds_and_runs_the_project_app() {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("project-mode");
    let dir = base.join(format!("app-{}", std::process::id()));
    let target = base.join("target");
    let _ = std::fs::remove_dir_all(&dir);
    write_project(&dir);

    // A ws-cli that carries no app, as `cargo install ws-cli` gives.
    let cargo = PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    let mut build = in_project(&cargo, &dir, &target);
    build.args(["build", "--release", "-p", "ws-cli", "--bin", "ws-cli"]);
    let out = tokio::task::spawn_blocking(move || run(build, "cargo build ws-cli", BUILD))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let ws_cli = target.join("release/ws-cli");
    let app = target.join("release/chat-server");
    let cli = move |args: &[&str], budget: Duration| {
        let mut cmd = in_project(&ws_cli, &dir, &target);
        cmd.args(args).args(["--config", "ws.toml"]);
        (cmd, format!("ws-cli {}", args.join(" ")), budget)
    };
    let run_cli = |args: &[&str], budget: Duration| {
        let (cmd, what, budget) = cli(args, budget);
        tokio::task::spawn_blocking(move || run(cmd, &what, budget))
    };

    // `start -d` builds the app named in the metadata and runs it as a daemon.
    let out = run_cli(&["start", "-d"], BUILD).await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("building `chat-server` (cargo build --release --bin chat-server)"),
        "{}",
        text(&out)
    );
    let (pid, addrs) = parse_started(&String::from_utf8_lossy(&out.stdout));
    let mut daemon = Daemon(Some(pid));
    let mut client = connect(addrs["ws"], "/shout").await;
    client.send(Message::text("hello")).await.unwrap();
    assert_eq!(next(&mut client).await, Some(Message::text("HELLO")));

    // `status` needs no build: it asks the running app.
    let out = run_cli(&["status"], WAIT).await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("server ws at ws://{}, 1 connection", addrs["ws"])),
        "{}",
        text(&out)
    );

    // `routes` runs the app's own listing.
    let out = run_cli(&["routes"], BUILD).await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("/shout"), "{}", text(&out));

    // A `--bin` the project does not have fails with cargo's reason, and starts nothing.
    let out = run_cli(&["routes", "--bin", "no-such-bin"], BUILD)
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no-such-bin"), "{}", text(&out));

    // The app's binary is the app: its own name, version and description, its own
    // subcommand beside ws-cli's.
    let app_cli = |args: &[&str]| {
        let mut cmd = Command::new(&app);
        cmd.args(args);
        let what = format!("chat-server {}", args.join(" "));
        tokio::task::spawn_blocking(move || run(cmd, &what, WAIT))
    };
    let out = app_cli(&["--version"]).await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "chat-app 2.3.4\n");
    let out = app_cli(&["--help"]).await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    for expected in [
        "Chat rooms of the project test",
        "greet",
        "Print a greeting",
        "start",
        "Exit status:",
    ] {
        assert!(help.contains(expected), "missing {expected:?} in:\n{help}");
    }
    assert!(
        !help.contains("Command line and process lifecycle"),
        "{help}"
    );
    let out = app_cli(&["greet", "world", "--shout"]).await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "HELLO, WORLD\n");
    let out = app_cli(&["greet", "nobody"]).await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("error: nobody to greet"),
        "{}",
        text(&out)
    );
    let out = app_cli(&["greet"]).await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a missing argument: {}",
        text(&out)
    );

    // `stop` reaches the app: the client gets 1001, the process is gone.
    let stop = run_cli(&["stop"], WAIT);
    assert_eq!(close_code(&mut client).await, Some(1001));
    let out = stop.await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(wait_gone(pid), "pid {pid} still runs after stop");
    daemon.0 = None;
    let project = base.join(format!("app-{}", std::process::id()));
    assert!(!project.join("ws.pid").exists(), "pid file left behind");
    let _ = std::fs::remove_dir_all(project);
}
