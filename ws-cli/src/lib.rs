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
//!
//! Logging: ws-cli installs the `tracing` subscriber (`log_level`, `log_format`, `log_file`);
//! an app adds its own layers to it (OpenTelemetry, say) with [`log_layer!`]. Under systemd
//! (`NOTIFY_SOCKET` set), `start` and `restart` report readiness and the main pid, a reload
//! `RELOADING=1` then `READY=1`, a stop `STOPPING=1`, and under a watchdog (`WATCHDOG_USEC`)
//! the process sends `WATCHDOG=1`, kept across `restart` (see `notify`).

mod args;
mod check;
mod cli;
mod command;
mod control;
mod daemon;
mod effective_config;
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

pub use crate::logging::{LogLayer, LogLayerFn};

/// Used by the expansion of [`log_layer!`] only: not API.
#[doc(hidden)]
pub mod __private {
    pub use crate::logging::LOG_LAYERS;
    pub use linkme;
}

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
