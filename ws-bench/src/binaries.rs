//! The server binaries: where each one is, and the build of the peer echo servers that
//! keeps them next to `ws-bench` up to date (`cargo run` builds only the binary it runs).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::Cli;
use crate::plan::Plan;
use crate::server::{self, ServerKind};
use crate::workspace;

/// How long the peer build may take before it is killed.
const BUILD_LIMIT: Duration = Duration::from_secs(30 * 60);

/// The binary of `kind`: the one given on the command line, else the default next to the
/// running `ws-bench` (or in `target/release`), made absolute (servers run in a temp dir).
pub(crate) fn bin_path(cli: &Cli, kind: ServerKind) -> PathBuf {
    let given = match kind {
        ServerKind::Ours | ServerKind::OursTls => &cli.ws_cli,
        ServerKind::Fastwebsockets | ServerKind::FastwebsocketsTls => &cli.echo_fastwebsockets,
        ServerKind::Tungstenite | ServerKind::TungsteniteTls => &cli.echo_tungstenite,
        ServerKind::Axum => &cli.echo_axum,
        ServerKind::Tcp => &cli.echo_tcp,
    };
    let path = given.clone().unwrap_or_else(|| {
        let dir = exe_dir().unwrap_or_else(|| workspace::root().join("target").join("release"));
        server::default_bin(&dir, kind)
    });
    // Servers run in a temp dir: make relative paths absolute first.
    std::path::absolute(&path).unwrap_or(path)
}

/// Builds the peer binaries next to the running `ws-bench` (same profile) with
/// `cargo build [--release] -p ws-bench --bins`; `cargo run` builds only the
/// binary it runs. Bounded to 30 minutes; the build is killed by PID after that.
pub(crate) fn build_peers(plan: &Plan) {
    if plan.servers.iter().all(|&k| k.ours()) {
        return;
    }
    let Some(mut cmd) = exe_dir().and_then(|dir| build_command(&dir)) else {
        return;
    };
    match cmd.stdin(Stdio::null()).spawn() {
        Ok(mut child) => wait_for_build(&mut child),
        Err(e) => {
            eprintln!("ws-bench: cannot run cargo ({e}); using the peer binaries as they are");
        }
    }
}

/// The directory of the running `ws-bench` binary.
fn exe_dir() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
}

/// The peer build for the cargo profile directory `dir` (`target/release` or
/// `target/debug`), announced on stderr; `None` if `dir` is not one, in which case the
/// given binaries are used as they are.
fn build_command(dir: &Path) -> Option<Command> {
    let profile = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let target_dir = dir.parent().map(Path::to_path_buf);
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args(["build", "-p", "ws-bench", "--bins"])
        .current_dir(workspace::root());
    match profile.as_str() {
        "release" => {
            cmd.arg("--release");
        }
        "debug" => {}
        _ => return None, // not a cargo target dir: use the given binaries as they are
    }
    if let Some(t) = target_dir {
        cmd.arg("--target-dir").arg(t);
    }
    eprintln!(
        "ws-bench: building peers: cargo build {}-p ws-bench --bins",
        if profile == "release" {
            "--release "
        } else {
            ""
        }
    );
    Some(cmd)
}

/// Waits for the peer build for at most [`BUILD_LIMIT`], then kills it by PID. A failed
/// build is reported; missing peers then show as not built.
fn wait_for_build(child: &mut Child) {
    let deadline = Instant::now() + BUILD_LIMIT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                if !status.success() {
                    eprintln!("ws-bench: peer build failed ({status}); missing peers will show as not built");
                }
                return;
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                eprintln!("ws-bench: peer build timed out; killed it");
                return;
            }
        }
    }
}
