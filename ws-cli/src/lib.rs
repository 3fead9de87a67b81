//! # ws-cli
//!
//! Process lifecycle for ws-core apps. A whole app is:
//!
//! ```text
//! fn main() {
//!     ws_cli::main!()
//! }
//! ```
//!
//! with controllers registered by attributes anywhere in the crate (or in linked crates).
//! [`main!`] gives the command line the app's own name, version and description (from its
//! `Cargo.toml`); [`main()`] (`fn main() { ws_cli::main() }`) is the same with ws-cli's. To add
//! subcommands of the app's own, build the command line with [`cli!`] (see [`Cli`]).
//!
//! | subcommand | does |
//! | --- | --- |
//! | `start` | runs every server in the foreground; Ctrl-C or SIGTERM stop gracefully (close 1001, drain up to `drain_timeout`), a second signal forces exit; SIGHUP reloads |
//! | `start -d` | the same as a daemon: own session, output to `log_file` (default `ws.log`), returns once every server listens, printing the pid and addresses |
//! | `stop` | graceful stop of the running server; waits until it has exited |
//! | `reload` | re-reads the config and applies what can change live (see [`ws_core::reload`]); prints what was applied and what needs a restart; exits 1 on a bad config, which the server does not take. `reload --config FILE`: the server loads FILE instead of its own, and keeps it |
//! | `status` | pid, uptime, each server's address and live connection count; exits 3 when no server runs |
//! | `restart` | zero-downtime replacement by this binary: the new process takes over the listening sockets, the old one closes its clients with 1012 and drains |
//! | `routes` | the table of servers, routes and middleware: the running server's (with its bound addresses) when one answers, else from the config; the first line says which |
//! | `check` | loads the config and builds the app as `start` would, binding nothing; prints every problem; exits 0 or 1 |
//! | `config` | the effective config as TOML, each key with its origin (`default`, `FILE:LINE`, `.env VAR`, `env VAR`), secrets redacted; `config --default`: the embedded default |
//! | `completions SHELL` | the shell completion script of this command line |
//!
//! Options: `--config FILE` (all subcommands: `stop`, `reload`, `status`, `restart`, `routes`
//! find the server through the `pid_file` and `control_socket` of the config), `--help`,
//! `--version`. Exit statuses (listed by `--help`): 0 success, 1 failure, 2 usage error, 3
//! `status` with no server running.
//!
//! The running server holds a pid file (`pid_file`, default `ws.pid`) and answers on a Unix
//! control socket (`control_socket`, default `ws.sock`); both paths are relative to the
//! working directory unless absolute, so run `stop`/`status` where you ran `start` (or use
//! absolute paths in the config). See the modules `pidfile`, `control`, `daemon`,
//! `restart`, `handover` and `project` for each mechanism; `cli` (the command line),
//! `check`, `effective_config` and `routes` for the commands that inspect.
//!
//! A `ws-cli` binary without an app, run in a project directory, builds the project's app in
//! release mode and runs it (see `project`).

mod args;
mod check;
mod cli;
mod control;
mod daemon;
mod effective_config;
mod failure;
mod handover;
mod logging;
mod pidfile;
mod project;
mod remote;
mod restart;
mod routes;
mod serve;
mod signals;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use ws_core::Config;

use crate::args::{Args, Command};
use crate::failure::Failure;
use crate::remote::Target;
use crate::serve::{Mode, Reloader, Report};

/// The argument parser, for an app's own subcommands ([`Cli::subcommand`]): the same clap
/// that parses ws-cli's, so the app needs no `clap` dependency of its own.
pub use clap;
pub use cli::Cli;

/// Parses the command line and runs the app; exits the process with the result.
///
/// `--version` and `--help` show ws-cli's name, version and description. For the app's own,
/// write `ws_cli::main!()` instead (or [`cli!`] to add subcommands).
pub fn main() -> ! {
    Cli::ws_cli().main()
}

/// A [`Cli`] named after the crate that calls it, with that crate's version and description
/// (`name`, `version` and `description` of its `Cargo.toml`, read at compile time).
///
/// ```no_run
/// // The body of `fn main`:
/// ws_cli::cli!().main()
/// ```
#[macro_export]
macro_rules! cli {
    () => {
        $crate::Cli::new(
            ::core::env!("CARGO_PKG_NAME"),
            ::core::env!("CARGO_PKG_VERSION"),
        )
        .about(::core::env!("CARGO_PKG_DESCRIPTION"))
    };
}

/// The whole `main` of an app whose `--version` and `--help` show its own name, version and
/// description: `fn main() { ws_cli::main!() }`. The same as [`main()`] otherwise.
#[macro_export]
macro_rules! main {
    () => {
        $crate::cli!().main()
    };
}

/// Runs with already-parsed arguments; `cli` is the command line they were parsed by.
fn run(args: Args, cli: &Cli) -> Result<(), Failure> {
    if let Command::Start { bin, .. }
    | Command::Restart { bin }
    | Command::Routes { bin }
    | Command::Check { bin } = &args.command
    {
        if project::wanted() {
            let bin = bin.clone();
            return Err(project::build_and_exec(bin.as_deref(), app_args(&args)).into());
        }
    }
    match &args.command {
        Command::Completions { shell } => return completions(cli, *shell),
        Command::Config { default: true } => {
            print!("{}", Config::default_toml());
            return Ok(());
        }
        _ => {}
    }
    let loaded = Config::load(
        args.config.as_deref(),
        Some(Path::new(".env")),
        std::env::vars(),
    );
    if let Command::Check { .. } = args.command {
        return check::run(loaded);
    }
    if let Command::Stop | Command::Reload | Command::Status | Command::Routes { .. } = args.command
    {
        // These only need to find the server; a broken config is the server's to report
        // (`reload`), so it does not stop them.
        let target = match &loaded {
            Ok((config, _)) => Target::from_config(config),
            Err(_) => Target::fallback(args.config.as_deref()),
        };
        return match args.command {
            Command::Stop => remote::stop(&target),
            Command::Reload => remote::reload(&target, args.config.as_deref()),
            Command::Status => remote::status(&target),
            _ => routes::print(&target, loaded),
        };
    }
    let (config, warnings) = loaded.map_err(|e| e.to_string())?;
    match args.command {
        Command::Config { .. } => {
            for w in &warnings {
                eprintln!("warning: {w}");
            }
            print!("{}", effective_config::render(&config));
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
        Command::Stop
        | Command::Reload
        | Command::Status
        | Command::Routes { .. }
        | Command::Check { .. }
        | Command::Completions { .. } => Ok(()),
    }
}

/// `completions SHELL`: the script for the program's name as it was called.
fn completions(cli: &Cli, shell: clap_complete::Shell) -> Result<(), Failure> {
    let mut command = cli.command()?;
    let bin = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| command.get_name().to_owned());
    clap_complete::generate(shell, &mut command, bin, &mut std::io::stdout());
    Ok(())
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
        Command::Check { .. } => vec!["check".into()],
        Command::Stop => vec!["stop".into()],
        Command::Reload => vec!["reload".into()],
        Command::Status => vec!["status".into()],
        Command::Config { default: true } => vec!["config".into(), "--default".into()],
        Command::Config { .. } => vec!["config".into()],
        Command::Completions { shell } => vec!["completions".into(), shell.to_string().into()],
    };
    if let Some(config) = &args.config {
        out.push("--config".into());
        out.push(config.into());
    }
    out
}
