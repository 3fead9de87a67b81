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
    /// Start every configured server in the foreground; Ctrl-C or SIGTERM stops gracefully.
    Start,
    /// Print the servers, their addresses, routes and middleware, from the registry and config.
    Routes,
}
