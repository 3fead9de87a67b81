//! tracing set-up from the config: level and optional log file.

use std::fs::OpenOptions;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use ws_core::Config;

/// Installs the global subscriber: one line per event, to the log file or standard error.
pub(crate) fn init(config: &Config) -> Result<(), String> {
    let filter = EnvFilter::try_new(&config.log_level)
        .map_err(|e| format!("config key `log_level` = {:?}: {e}", config.log_level))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = match &config.log_file {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("config key `log_file` = {}: {e}", path.display()))?;
            builder
                .with_ansi(false)
                .with_writer(Mutex::new(file))
                .try_init()
        }
        None => builder.with_writer(std::io::stderr).try_init(),
    };
    result.map_err(|e| format!("cannot install the logger: {e}"))
}
