//! `ws-cli start` in a project directory: build the project's app, then run it.
//!
//! A `ws-cli` binary that carries no app (no controller or route is linked into it) cannot
//! serve anything itself. Run in a directory with a `Cargo.toml`, `start`, `restart` and
//! `routes` build the app in release mode (`cargo build --release --bin NAME`) and replace
//! themselves (`exec`) with it, passing the same subcommand and options. `NAME` is `--bin`,
//! else `bin` in the manifest's `[package.metadata.ws-cli]` table, else the package name:
//!
//! ```toml
//! [package.metadata.ws-cli]
//! bin = "my-server"
//! ```
//!
//! An app binary (`fn main() { ws_cli::main() }`) runs itself and never builds.
//! `stop`, `reload` and `status` need no build: they talk to the running server.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Set on the app this module starts, so that an app with an empty registry does not build
/// and start itself again.
const EXEC_MARK: &str = "WSCLI_PROJECT_EXEC";

/// Whether this process should build and run the project's app instead of serving itself.
pub(crate) fn wanted() -> bool {
    ws_core::registry::Registry::linked().is_empty()
        && std::env::var_os(EXEC_MARK).is_none()
        && Path::new("Cargo.toml").is_file()
}

/// Builds the app and `exec`s it with `args` (the subcommand and its options). Returns only
/// on failure.
pub(crate) fn build_and_exec(bin: Option<&str>, args: Vec<OsString>) -> String {
    let bin = match bin {
        Some(b) => b.to_owned(),
        None => match bin_from_manifest(Path::new("Cargo.toml")) {
            Ok(b) => b,
            Err(e) => return e,
        },
    };
    let exe = match build(&bin) {
        Ok(exe) => exe,
        Err(e) => return e,
    };
    let mut cmd = Command::new(&exe);
    cmd.args(args).env(EXEC_MARK, "1");
    exec(cmd, &exe)
}

#[cfg(unix)]
fn exec(mut cmd: Command, exe: &Path) -> String {
    use std::os::unix::process::CommandExt;
    let err = cmd.exec();
    format!("cannot run {}: {err}", exe.display())
}

/// The binary to build: `[package.metadata.ws-cli] bin`, else the package name.
fn bin_from_manifest(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    bin_from_manifest_text(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn bin_from_manifest_text(text: &str) -> Result<String, String> {
    let manifest: toml::Table = text.parse().map_err(|e| format!("{e}"))?;
    let package = manifest.get("package").and_then(toml::Value::as_table);
    let Some(package) = package else {
        return Err(
            "no [package] here (a workspace root?): run ws-cli in the app's package \
                    directory, or pass --bin NAME"
                .to_owned(),
        );
    };
    let configured = package
        .get("metadata")
        .and_then(|m| m.get("ws-cli"))
        .and_then(|w| w.get("bin"));
    match configured {
        Some(toml::Value::String(bin)) => Ok(bin.clone()),
        Some(_) => Err("`package.metadata.ws-cli.bin` must be a string".to_owned()),
        None => package
            .get("name")
            .and_then(toml::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| "[package] has no name".to_owned()),
    }
}

/// `cargo build --release --bin NAME`; returns the path of the executable cargo reports.
fn build(bin: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building `{bin}` (cargo build --release --bin {bin})");
    let mut child = Command::new(&cargo)
        .args(["build", "--release", "--bin", bin])
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let mut exe = None;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(path) = executable(&line, bin) {
                exe = Some(path);
            }
        }
    }
    let status = child.wait().map_err(|e| format!("cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "cargo build --release --bin {bin} failed ({status})"
        ));
    }
    exe.ok_or_else(|| format!("cargo built no executable named `{bin}`"))
}

/// The executable of a `compiler-artifact` message for binary `bin`.
fn executable(line: &str, bin: &str) -> Option<PathBuf> {
    let msg: serde_json::Value = serde_json::from_str(line).ok()?;
    if msg.get("reason")?.as_str()? != "compiler-artifact" {
        return None;
    }
    let target = msg.get("target")?;
    let is_bin = target
        .get("kind")?
        .as_array()?
        .iter()
        .any(|k| k.as_str() == Some("bin"));
    if !is_bin || target.get("name")?.as_str()? != bin {
        return None;
    }
    msg.get("executable")?.as_str().map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_comes_from_metadata_then_package_name() {
        let with_meta = "[package]\nname = \"app\"\n[package.metadata.ws-cli]\nbin = \"server\"\n";
        assert_eq!(bin_from_manifest_text(with_meta).unwrap(), "server");
        assert_eq!(
            bin_from_manifest_text("[package]\nname = \"app\"\n").unwrap(),
            "app"
        );
        assert!(bin_from_manifest_text("[workspace]\nmembers = []\n")
            .unwrap_err()
            .contains("--bin"));
    }

    #[test]
    fn executable_is_read_from_cargo_messages() {
        let line = r#"{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"server"},"executable":"/t/release/server"}"#;
        assert_eq!(
            executable(line, "server"),
            Some(PathBuf::from("/t/release/server"))
        );
        assert_eq!(executable(line, "other"), None);
        assert_eq!(executable(r#"{"reason":"build-finished"}"#, "server"), None);
    }
}
