//! Runs a parsed ws-cli subcommand: `start`, `stop`, `check`, ... (the app's own subcommands
//! are run by [`Cli`](crate::Cli) itself).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ws_core::Config;

use crate::args::{Args, Command};
use crate::failure::Failure;
use crate::remote::Target;
use crate::serve::{Mode, Reloader, Report};
use crate::{
    check, daemon, effective_config, logging, notify, pidfile, project, remote, routes, serve,
};

/// Runs with already-parsed arguments; `parser` is the command line they were parsed by.
pub(crate) fn run(args: Args, parser: clap::Command) -> Result<(), Failure> {
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
        Command::Completions { shell } => return completions(parser, *shell),
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
            // Before `-d` detaches: `WATCHDOG_PID` names the process systemd started.
            let watchdog = notify::watchdog_from_env();
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
            serve_with(
                config,
                warnings,
                args.config,
                (Mode::Start, watchdog),
                report,
            )
        }
        Command::Restart { .. } => {
            let watchdog = notify::watchdog_from_env();
            let report = Report(Some(daemon::detach(&daemon_log(&config))?));
            serve_with(
                config,
                warnings,
                args.config,
                (Mode::Restart, watchdog),
                report,
            )
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
fn completions(mut command: clap::Command, shell: clap_complete::Shell) -> Result<(), Failure> {
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
    (mode, watchdog): (Mode, Option<Duration>),
    mut report: Report,
) -> Result<(), Failure> {
    let log = logging::init(&config).map_err(|e| report.fail(e))?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    let reloader = Reloader { config_file, log };
    Ok(serve::serve(config, mode, report, reloader, watchdog)?)
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
