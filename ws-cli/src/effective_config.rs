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
        let dir = std::env::temp_dir().join(format!("ws-cli-listing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ws.toml");
        std::fs::write(
            &file,
            "drain_timeout = 0.5\n[servers.ws]\nallowed_origins = [\"https://a.example\"]\n\
             [servers.admin]\nport = 7000\n[middleware.origin]\nallow = [\"*\"]\n",
        )
        .unwrap();
        let (config, _) = Config::load(Some(&file), None, Vec::new()).unwrap();
        let text = render(&config);
        assert!(text.contains("[servers.admin]"), "{text}");
        assert!(text.contains("drain_timeout = 0.5"), "{text}");
        std::fs::write(&file, &text).unwrap();
        let (again, _) = Config::load(Some(&file), None, Vec::new()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let values = |c: &Config| -> Vec<(String, Option<String>)> {
            c.entries()
                .into_iter()
                .map(|e| (e.key(), e.value))
                .collect()
        };
        assert_eq!(values(&again), values(&config), "{text}");
        assert_eq!(key_text("a b"), "\"a b\"");
        assert_eq!(key_text("ws-2"), "ws-2");
    }
}
