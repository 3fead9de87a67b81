//! The config layer's error type: what is wrong, the key and where it was set.

use std::path::PathBuf;

use super::ConfigSource;

/// A configuration problem; the message names the key and where it was set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or has an unknown key or a value of the wrong type.
    #[error("{source_name}: {message}")]
    Parse {
        /// The file (or embedded default) with the problem.
        source_name: ConfigSource,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A `.env` file could not be read.
    #[error(".env file {}: {message}", path.display())]
    DotEnv {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// An environment variable has a value of the wrong type.
    #[error("{source_name} = {value:?}: {message}")]
    Env {
        /// The variable.
        source_name: ConfigSource,
        /// Its value.
        value: String,
        /// What is wrong with it.
        message: String,
    },
    /// A value is out of range or missing.
    #[error("config key `{key}` (from {source_name}): {reason}")]
    Invalid {
        /// The dotted key, e.g. `servers.ws.port`.
        key: String,
        /// Where the value came from.
        source_name: ConfigSource,
        /// What is wrong.
        reason: String,
    },
    /// Several problems at once.
    #[error("{} problems:\n{}", .0.len(), .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Many(Vec<ConfigError>),
}

impl ConfigError {
    /// One error for a non-empty list of problems (the single one itself when there is one;
    /// lists inside the list are flattened).
    pub(crate) fn many(errors: Vec<ConfigError>) -> ConfigError {
        let mut errors: Vec<ConfigError> = errors
            .into_iter()
            .flat_map(|e| match e {
                ConfigError::Many(inner) => inner,
                one => vec![one],
            })
            .collect();
        if errors.len() == 1 {
            errors.remove(0)
        } else {
            ConfigError::Many(errors)
        }
    }
}
