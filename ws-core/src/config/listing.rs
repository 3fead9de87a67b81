//! The effective configuration key by key, with where each value came from: what
//! `ws-cli config` prints.

use super::keys::Keys;
use super::load::DEFAULT_TOML;
use super::{Config, ConfigSource};

/// One key of the effective configuration.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConfigEntry {
    /// The table the key is in: `""` for a global key, `servers.NAME` or `middleware.NAME`.
    pub table: String,
    /// The key's name in its table, e.g. `port`.
    pub name: String,
    /// The value as TOML (`9502`, `"info"`, `["https://a.example"]`); a secret that is set
    /// reads `"<redacted>"`; `None` when the key is unset (it has no value, as `log_file` by
    /// default).
    pub value: Option<String>,
    /// Where the value was set last.
    pub source: ConfigSource,
    /// The line (from 1) of the key in the config file, when `source` is that file.
    pub line: Option<usize>,
}

impl ConfigEntry {
    /// The dotted key, e.g. `servers.ws.port`.
    pub fn key(&self) -> String {
        if self.table.is_empty() {
            self.name.clone()
        } else {
            format!("{}.{}", self.table, self.name)
        }
    }
}

impl Config {
    /// Every key of the effective configuration with its value and source: the global keys
    /// in declaration order, then each server's keys, then each `[middleware.NAME]` table's
    /// keys (as written; the types that read them decide what they mean). Secrets are
    /// redacted.
    pub fn entries(&self) -> Vec<ConfigEntry> {
        let mut out = Vec::new();
        let mut push = |table: String, name: &str, value: Option<toml::Value>| {
            let key = if table.is_empty() {
                name.to_owned()
            } else {
                format!("{table}.{name}")
            };
            out.push(ConfigEntry {
                source: self.sources.get(&key),
                line: self.sources.line(&key),
                table,
                name: name.to_owned(),
                value: value.map(|v| v.to_string()),
            });
        };
        self.toml_keys(|key, value| push(String::new(), key.name, value));
        for (server, settings) in &self.servers {
            let table = format!("servers.{server}");
            settings.toml_keys(|key, value| push(table.clone(), key.name, value));
        }
        for (name, keys) in &self.middleware {
            let table = format!("middleware.{name}");
            for (key, value) in keys {
                // Middleware tables are set whole by one layer: the table's source.
                let source = self.sources.get(&table);
                let line = match source {
                    ConfigSource::File(_) => self.sources.file_line(&format!("{table}.{key}")),
                    _ => None,
                };
                out.push(ConfigEntry {
                    table: table.clone(),
                    name: key.clone(),
                    value: Some(value.to_string()),
                    source,
                    line,
                });
            }
        }
        out
    }

    /// The embedded default configuration, as TOML text (what runs with no file and no
    /// `WS_*` variables).
    pub fn default_toml() -> &'static str {
        DEFAULT_TOML
    }
}
