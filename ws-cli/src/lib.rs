//! # ws-cli
//!
//! Process lifecycle for ws-core apps. A whole app is:
//!
//! ```text
//! fn main() {
//!     ws_cli::main()
//! }
//! ```
//!
//! with controllers registered by attributes anywhere in the crate (or in linked crates).
//!
//! | subcommand | does |
//! | --- | --- |
//! | `start` | runs every server in the foreground; Ctrl-C or SIGTERM stop gracefully (close 1001, drain up to `drain_timeout`), a second signal forces exit; SIGHUP reloads |
//! | `start -d` | the same as a daemon: own session, output to `log_file` (default `ws.log`), returns once every server listens, printing the pid and addresses |
//! | `stop` | graceful stop of the running server; waits until it has exited |
//! | `reload` | re-reads the config and applies what can change live (see [`ws_core::reload`]); prints what was applied and what needs a restart; exits 1 on a bad config, which the server does not take |
//! | `status` | pid, uptime, each server's address and live connection count; exits 3 when no server runs |
//! | `restart` | zero-downtime replacement by this binary: the new process takes over the listening sockets, the old one closes its clients with 1012 and drains |
//! | `routes` | the table of servers, routes and middleware |
//!
//! Options: `--config FILE` (all subcommands: `stop`, `reload`, `status`, `restart` find the
//! server through the `pid_file` and `control_socket` of the config), `--help`.
//!
//! The running server holds a pid file (`pid_file`, default `ws.pid`) and answers on a Unix
//! control socket (`control_socket`, default `ws.sock`); both paths are relative to the
//! working directory unless absolute, so run `stop`/`status` where you ran `start` (or use
//! absolute paths in the config). See the modules `pidfile`, `control`, `daemon`,
//! `restart`, `handover` and `project` for each mechanism.
//!
//! A `ws-cli` binary without an app, run in a project directory, builds the project's app in
//! release mode and runs it (see `project`).
//!
//! Logging: ws-cli installs the `tracing` subscriber (`log_level`, `log_format`, `log_file`);
//! an app adds its own layers to it (OpenTelemetry, say) with [`log_layer!`]. Under systemd
//! (`NOTIFY_SOCKET` set), `start` and `restart` report readiness and the main pid, and a
//! stop reports `STOPPING=1` (see `notify`).

mod args;
mod control;
mod daemon;
mod failure;
mod handover;
mod logging;
mod notify;
mod pidfile;
mod project;
mod remote;
mod restart;
mod routes;
mod serve;
mod signals;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::Parser;
use ws_core::{App, Config};

pub use crate::logging::{LogLayer, LogLayerFn};

/// Used by the expansion of [`log_layer!`] only: not API.
#[doc(hidden)]
pub mod __private {
    pub use crate::logging::LOG_LAYERS;
    pub use linkme;
}

use crate::args::{Args, Command};
use crate::failure::Failure;
use crate::remote::Target;
use crate::serve::{Mode, Reloader, Report};

/// Parses the command line and runs the app; exits the process with the result.
pub fn main() -> ! {
    let code = match run(Args::parse()) {
        Ok(()) => 0,
        Err(f) => {
            eprintln!("error: {}", f.message);
            f.code
        }
    };
    std::process::exit(code)
}

/// Runs with already-parsed arguments.
fn run(args: Args) -> Result<(), Failure> {
    if let Command::Start { bin, .. } | Command::Restart { bin } | Command::Routes { bin } =
        &args.command
    {
        if project::wanted() {
            let bin = bin.clone();
            return Err(project::build_and_exec(bin.as_deref(), app_args(&args)).into());
        }
    }
    let loaded = Config::load(
        args.config.as_deref(),
        Some(Path::new(".env")),
        std::env::vars(),
    );
    if let Command::Stop | Command::Reload | Command::Status = args.command {
        // These only need to find the server; a broken config is the server's to report
        // (`reload`), so it does not stop them.
        let target = match &loaded {
            Ok((config, _)) => Target::from_config(config),
            Err(_) => Target::fallback(args.config.as_deref()),
        };
        return match args.command {
            Command::Stop => remote::stop(&target),
            Command::Reload => remote::reload(&target),
            _ => remote::status(&target),
        };
    }
    let (config, warnings) = loaded.map_err(|e| e.to_string())?;
    match args.command {
        Command::Routes { .. } => {
            let app = App::build(config).map_err(|e| e.to_string())?;
            print!("{}", routes::render(&app));
            Ok(())
        }
        Command::Start { daemon, .. } => {
            let report = if daemon {
                if let Some(pid) = pidfile::running(&config.pid_file) {
                    return Err(Failure::new(format!(
                        "a server is already running (pid {pid}, pid file {}); stop it first \
                         or use `restart`",
                        config.pid_file.display()
                    )));
                }
                Report(Some(daemon::detach(&daemon_log(&config))?))
            } else {
                Report(None)
            };
            serve_with(config, warnings, args.config, Mode::Start, report)
        }
        Command::Restart { .. } => {
            let report = Report(Some(daemon::detach(&daemon_log(&config))?));
            serve_with(config, warnings, args.config, Mode::Restart, report)
        }
        Command::Stop | Command::Reload | Command::Status => Ok(()),
    }
}

fn serve_with(
    config: Config,
    warnings: Vec<String>,
    config_file: Option<PathBuf>,
    mode: Mode,
    mut report: Report,
) -> Result<(), Failure> {
    let log = logging::init(&config).map_err(|e| report.fail(e))?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    let reloader = Reloader { config_file, log };
    Ok(serve::serve(config, mode, report, reloader)?)
}

/// Where a daemon's output goes: `log_file`, else `ws.log` in the working directory.
fn daemon_log(config: &Config) -> PathBuf {
    config
        .log_file
        .clone()
        .unwrap_or_else(|| PathBuf::from("ws.log"))
}

/// The subcommand and options to pass to the project's app, without `--bin`.
fn app_args(args: &Args) -> Vec<OsString> {
    let mut out: Vec<OsString> = match &args.command {
        Command::Start { daemon: true, .. } => vec!["start".into(), "-d".into()],
        Command::Start { .. } => vec!["start".into()],
        Command::Restart { .. } => vec!["restart".into()],
        Command::Routes { .. } => vec!["routes".into()],
        Command::Stop => vec!["stop".into()],
        Command::Reload => vec!["reload".into()],
        Command::Status => vec!["status".into()],
    };
    if let Some(config) = &args.config {
        out.push("--config".into());
        out.push(config.into());
    }
    out
}
