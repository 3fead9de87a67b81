//! `config`: the effective configuration as TOML, each key with where its value came from.

use ws_core::{Config, ConfigEntry, ConfigSource};

/// Column at which the origin comments start (when the key and value are shorter).
const COMMENT_COLUMN: usize = 40;

/// The configuration as TOML that loads back to the same values (secrets aside, which read
/// `"<redacted>"`), each key followed by `# ORIGIN`: `default`, `FILE:LINE`, `.env VAR` or
/// `env VAR`. Unset keys are comments.
pub(crate) fn render(config: &Config) -> String {
    let mut out = String::from(
        "# The effective configuration: the embedded default, then the config file, then .env,\n\
         # then WS_* variables. After each key: where its value came from.\n",
    );
    let mut table: Option<String> = None;
    for entry in config.entries() {
        if table.as_deref() != Some(entry.table.as_str()) {
            if !entry.table.is_empty() {
                let header: Vec<String> = entry.table.split('.').map(key_text).collect();
                out.push_str(&format!("\n[{}]\n", header.join(".")));
            }
            table = Some(entry.table.clone());
        }
        let line = match &entry.value {
            Some(value) => format!("{} = {value}", key_text(&entry.name)),
            None => format!("# {} is not set", key_text(&entry.name)),
        };
        out.push_str(&format!("{line:<COMMENT_COLUMN$}  # {}\n", origin(&entry)));
    }
    out
}

/// Where an entry's value came from, in a few words.
fn origin(entry: &ConfigEntry) -> String {
    match &entry.source {
        ConfigSource::File(path) => match entry.line {
            Some(line) => format!("{}:{line}", path.display()),
            None => path.display().to_string(),
        },
        ConfigSource::DotEnv(path, var) => format!("{} {var}", path.display()),
        ConfigSource::Env(var) => format!("env {var}"),
        // The embedded default config and the built-in defaults of the keys it leaves out.
        _ => "default".to_owned(),
    }
}

/// A key as TOML writes it: bare when it can be, quoted otherwise.
fn key_text(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        key.to_owned()
    } else {
        toml::Value::String(key.to_owned()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_loads_back_to_the_same_config() {
        let config = Config::embedded().unwrap();
        let text = render(&config);
        assert!(text.contains("[servers.ws]"), "{text}");
        assert!(text.contains("port = 9502"), "{text}");
        let table: toml::Table = text.parse().unwrap();
        assert_eq!(table["servers"]["http"]["port"].as_integer(), Some(9501));
        assert_eq!(key_text("a b"), "\"a b\"");
        assert_eq!(key_text("ws-2"), "ws-2");
    }
}
