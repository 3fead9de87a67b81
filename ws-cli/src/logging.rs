//! tracing set-up from the config: level (changeable by `reload`) and optional log file.
//!
//! One line per event. Events inside a WebSocket connection carry its span,
//! `conn{conn=<id> server=<name> path=<route>}`, so every line about a connection names it.

use std::fs::OpenOptions;
use std::sync::Mutex;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};
use ws_core::Config;

/// Changes the log filter of the running process.
#[derive(Debug, Clone)]
pub(crate) struct LogLevel(reload::Handle<EnvFilter, Registry>);

impl LogLevel {
    /// Checks that `level` is a valid filter, without applying it.
    pub(crate) fn check(level: &str) -> Result<(), String> {
        parse(level).map(drop)
    }

    /// Applies `level` (e.g. `debug` or `ws_core=trace`).
    pub(crate) fn set(&self, level: &str) -> Result<(), String> {
        let filter = parse(level)?;
        self.0
            .reload(filter)
            .map_err(|e| format!("cannot change the log level: {e}"))
    }
}

fn parse(level: &str) -> Result<EnvFilter, String> {
    EnvFilter::try_new(level).map_err(|e| format!("config key `log_level` = {level:?}: {e}"))
}

/// Installs the global subscriber: one line per event, to the log file or standard error.
pub(crate) fn init(config: &Config) -> Result<LogLevel, String> {
    let (filter, handle) = reload::Layer::new(parse(&config.log_level)?);
    let fmt = tracing_subscriber::fmt::layer().with_target(false);
    let result = match &config.log_file {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("config key `log_file` = {}: {e}", path.display()))?;
            tracing_subscriber::registry()
                .with(filter)
                .with(fmt.with_ansi(false).with_writer(Mutex::new(file)))
                .try_init()
        }
        None => {
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none();
            tracing_subscriber::registry()
                .with(filter)
                .with(fmt.with_ansi(ansi).with_writer(std::io::stderr))
                .try_init()
        }
    };
    result.map_err(|e| format!("cannot install the logger: {e}"))?;
    Ok(LogLevel(handle))
}
