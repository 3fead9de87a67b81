//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Runs a ws-core app: its servers, routes and middleware come from the attributes in its code
/// and from the config.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub(crate) struct Args {
    /// TOML config file layered over the embedded default (then `.env`, then `WS_*` variables).
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Start every configured server; in the foreground unless `-d`. Ctrl-C or SIGTERM stops
    /// gracefully (a second signal forces exit), SIGHUP reloads the config.
    Start {
        /// Detach: run as a daemon (own session, output to `log_file` or `ws.log`), print its
        /// pid once every server listens, and return.
        #[arg(short = 'd', long = "daemon")]
        daemon: bool,
        /// In a project directory, with a `ws-cli` that carries no app: the binary target to
        /// build (`cargo build --release --bin NAME`) and run. Default: `bin` in
        /// `[package.metadata.ws-cli]` of `Cargo.toml`, else the package name.
        #[arg(long, value_name = "NAME")]
        bin: Option<String>,
    },
    /// Stop the running server gracefully (close 1001 to every client, drain up to
    /// `drain_timeout`) and wait until it has exited.
    Stop,
    /// Re-read the config and apply what can change without dropping connections; prints what
    /// was applied and what needs a restart. Exits non-zero, and the server keeps its config,
    /// when the new config is invalid.
    Reload,
    /// Print the running server's pid, uptime, servers with their addresses and connection
    /// counts.
    Status,
    /// Replace the running server with this binary without refusing a connection: the new
    /// process (a daemon) takes over the listening sockets, then the old one closes its
    /// clients with 1012 (service restart) and drains.
    Restart {
        /// As for `start`: the binary target to build in a project directory.
        #[arg(long, value_name = "NAME")]
        bin: Option<String>,
    },
    /// Print the servers, their addresses, routes and middleware: the running server's (asked
    /// over its control socket) when one runs, else from the registry and config.
    Routes {
        /// As for `start`: the binary target to build in a project directory.
        #[arg(long, value_name = "NAME")]
        bin: Option<String>,
    },
    /// Load the config (file, `.env`, `WS_*`) and build the app as `start` would, without
    /// binding a port or starting anything; print every problem. Exits 0 when `start` would
    /// get past them, 1 otherwise.
    Check {
        /// As for `start`: the binary target to build in a project directory.
        #[arg(long, value_name = "NAME")]
        bin: Option<String>,
    },
    /// Print the effective configuration as TOML, each key with where its value came from
    /// (`default`, `FILE:LINE`, `.env VAR`, `env VAR`); secrets redacted.
    Config {
        /// Print the embedded default config instead (what runs with no file and no `WS_*`).
        #[arg(long)]
        default: bool,
    },
    /// Print the completion script of this command line for SHELL (write it where your shell
    /// loads completions, e.g. `APP completions bash > ~/.local/share/bash-completion/completions/APP`).
    Completions {
        /// The shell.
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
}

/// The exit statuses, as `--help` lists them.
pub(crate) const EXIT_CODES: &str = "\
Exit status:
  0  success (also `stop` when no server runs)
  1  failure, with the reason on standard error (`check`: the config or the app has a problem;
     `reload`: the new config is invalid and the server keeps its own)
  2  usage error: an unknown subcommand or option, a missing or bad argument
  3  `status`: no server is running";
