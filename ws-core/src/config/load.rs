//! Layering: embedded default < TOML file < `.env` < `WS_*` environment variables.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::keys::Keys;
use super::{Config, ConfigError, Layer, ServerConfig, ServerName};

/// The embedded default configuration, as TOML.
pub(crate) const DEFAULT_TOML: &str = include_str!("default.toml");

/// Prefix of the environment variables that override the config.
pub(crate) const ENV_PREFIX: &str = "WS_";

/// Where a config value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// Built-in default of the field (not written anywhere).
    BuiltIn,
    /// The embedded default config.
    Embedded,
    /// A TOML file given with `--config`.
    File(PathBuf),
    /// A variable in a `.env` file.
    DotEnv(PathBuf, String),
    /// An environment variable.
    Env(String),
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BuiltIn => f.write_str("built-in default"),
            Self::Embedded => f.write_str("embedded default config"),
            Self::File(p) => write!(f, "config file {}", p.display()),
            Self::DotEnv(p, var) => write!(f, "{var} in .env file {}", p.display()),
            Self::Env(v) => write!(f, "environment variable {v}"),
        }
    }
}

/// Key (`servers.ws.port`) to the source that set it last, and the line of each key in the
/// config file.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Sources {
    by_key: HashMap<String, ConfigSource>,
    /// Key (`servers.ws.port`, `middleware.origin.allow`) to its line (from 1) in the config
    /// file; meaningful while the key's source is that file.
    file_lines: HashMap<String, usize>,
}

impl Sources {
    pub(crate) fn get(&self, key: &str) -> ConfigSource {
        self.by_key
            .get(key)
            .cloned()
            .unwrap_or(ConfigSource::BuiltIn)
    }

    fn set(&mut self, key: String, source: &ConfigSource) {
        self.by_key.insert(key, source.clone());
    }

    /// The line of `key` in the config file, when the file set it last.
    pub(crate) fn line(&self, key: &str) -> Option<usize> {
        match self.by_key.get(key) {
            Some(ConfigSource::File(_)) => self.file_lines.get(key).copied(),
            _ => None,
        }
    }

    /// The line of `key` in the config file, whoever set it last.
    pub(crate) fn file_line(&self, key: &str) -> Option<usize> {
        self.file_lines.get(key).copied()
    }

    /// Records the line of every key that `text`, the config file, writes (keys of tables
    /// too, to any depth: `servers.ws.port`). A file that does not parse records nothing: its
    /// parse error is reported elsewhere.
    fn record_lines(&mut self, text: &str) {
        let Ok(doc) = toml_edit::ImDocument::parse(text) else {
            return;
        };
        let line_of = |offset: usize| {
            1 + text
                .as_bytes()
                .iter()
                .take(offset)
                .filter(|&&b| b == b'\n')
                .count()
        };
        let mut stack: Vec<(String, &dyn toml_edit::TableLike)> =
            vec![(String::new(), doc.as_table() as &dyn toml_edit::TableLike)];
        while let Some((prefix, table)) = stack.pop() {
            for (name, _) in table.iter() {
                let Some((key, item)) = table.get_key_value(name) else {
                    continue;
                };
                let path = format!("{prefix}{name}");
                if let Some(span) = key.span() {
                    self.file_lines.insert(path.clone(), line_of(span.start));
                }
                if let Some(inner) = item.as_table_like() {
                    stack.push((format!("{path}."), inner));
                }
            }
        }
    }
}

impl Config {
    /// The embedded default config alone (no file, no environment).
    pub fn embedded() -> Result<Self, ConfigError> {
        let mut config = Config::defaults();
        config.apply_toml(DEFAULT_TOML, &ConfigSource::Embedded)?;
        config.validate()?;
        Ok(config)
    }

    /// Loads the config: embedded default, then `file` (if any), then `dotenv` (if it exists),
    /// then the `WS_*` variables of `env`.
    ///
    /// Returns the config and warnings (e.g. a `WS_*` variable that matches no key).
    pub fn load(
        file: Option<&Path>,
        dotenv: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Self, Vec<String>), ConfigError> {
        let mut config = Config::defaults();
        config.apply_toml(DEFAULT_TOML, &ConfigSource::Embedded)?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            config.apply_toml(&text, &ConfigSource::File(path.to_path_buf()))?;
            config.sources.record_lines(&text);
        }
        let mut warnings = Vec::new();
        // Past the file, every problem is collected, so that one run reports them all.
        let mut errors = Vec::new();
        if let Some(path) = dotenv.filter(|p| p.exists()) {
            let iter = dotenvy::from_path_iter(path).map_err(|e| ConfigError::DotEnv {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
            let mut vars = Vec::new();
            for item in iter {
                let (k, v) = item.map_err(|e| ConfigError::DotEnv {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?;
                vars.push((k, v));
            }
            errors.extend(
                config
                    .apply_env(
                        vars,
                        |var| ConfigSource::DotEnv(path.to_path_buf(), var.to_owned()),
                        &mut warnings,
                    )
                    .err(),
            );
        }
        errors.extend(
            config
                .apply_env(env, |var| ConfigSource::Env(var.to_owned()), &mut warnings)
                .err(),
        );
        errors.extend(config.validate().err());
        if !errors.is_empty() {
            return Err(ConfigError::many(errors));
        }
        Ok((config, warnings))
    }

    /// The embedded default, then `text` as a TOML layer read from `source`, then `env`, as
    /// [`load`](Self::load) does with a file's text (no file system, no process environment).
    #[cfg(any(feature = "fuzzing", feature = "testing"))]
    pub(crate) fn from_text(
        text: &str,
        source: &ConfigSource,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Self, Vec<String>), ConfigError> {
        let mut config = Config::defaults();
        config.apply_toml(DEFAULT_TOML, &ConfigSource::Embedded)?;
        config.apply_toml(text, source)?;
        config.sources.record_lines(text);
        let mut warnings = Vec::new();
        config.apply_env(env, |var| ConfigSource::Env(var.to_owned()), &mut warnings)?;
        config.validate()?;
        Ok((config, warnings))
    }

    fn apply_toml(&mut self, text: &str, source: &ConfigSource) -> Result<(), ConfigError> {
        let layer: Layer = toml::from_str(text).map_err(|e| ConfigError::Parse {
            source_name: source.clone(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        self.apply_layer(layer, source)
    }

    fn apply_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
        source_of: impl Fn(&str) -> ConfigSource,
        warnings: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        let mut errors = Vec::new();
        for (var, value) in vars {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let rest = rest.to_ascii_lowercase();
            let source = source_of(&var);
            let mut table = toml::Table::new();
            if let Some(key) = Config::KEYS.iter().find(|k| k.name == rest) {
                table.insert(key.name.to_owned(), env_value(&value, key.env_string));
            } else if let Some((server, key, is_string)) = self.match_server_var(&rest) {
                let mut inner = toml::Table::new();
                inner.insert(key.to_owned(), env_value(&value, is_string));
                let mut servers = toml::Table::new();
                servers.insert(server, toml::Value::Table(inner));
                table.insert("servers".to_owned(), toml::Value::Table(servers));
            } else {
                warnings.push(format!(
                    "{source} matches no config key and is ignored (global keys: {}; \
                     server keys: WS_<SERVER>_<KEY> with KEY one of {})",
                    Config::KEYS
                        .iter()
                        .map(|k| k.name.to_ascii_uppercase())
                        .collect::<Vec<_>>()
                        .join(", "),
                    ServerConfig::KEYS
                        .iter()
                        .map(|k| k.name.to_ascii_uppercase())
                        .collect::<Vec<_>>()
                        .join(", "),
                ));
                continue;
            }
            let applied = Layer::deserialize(toml::Value::Table(table))
                .map_err(|e| ConfigError::Env {
                    source_name: source.clone(),
                    value: value.clone(),
                    message: e.to_string().trim_end().to_owned(),
                })
                .and_then(|layer| self.apply_layer(layer, &source));
            // The next variable may be fine: report every bad one.
            errors.extend(applied.err());
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::many(errors))
        }
    }

    /// `ws_port` → (`ws`, `port`) when `ws` is a configured server.
    fn match_server_var(&self, rest: &str) -> Option<(String, &'static str, bool)> {
        self.servers.keys().find_map(|name| {
            let prefix = format!("{}_", name.as_str().to_ascii_lowercase().replace('-', "_"));
            let key = rest.strip_prefix(&prefix)?;
            ServerConfig::KEYS
                .iter()
                .find(|k| k.name == key)
                .map(|k| (name.as_str().to_owned(), k.name, k.env_string))
        })
    }

    fn apply_layer(&mut self, mut layer: Layer, source: &ConfigSource) -> Result<(), ConfigError> {
        for key in self.apply_keys(&mut layer, "", source)? {
            self.sources.set(key, source);
        }
        for (name, table) in layer.middleware {
            // Key by key: a later layer overrides the keys it sets and keeps the others.
            self.middleware
                .entry(name.clone())
                .or_default()
                .extend(table);
            self.sources.set(format!("middleware.{name}"), source);
        }
        for (name, mut s) in layer.servers {
            let server_name = ServerName::new(name.clone());
            if !self.servers.contains_key(&server_name) && s.port.is_none() {
                return Err(ConfigError::Invalid {
                    key: format!("servers.{name}.port"),
                    source_name: source.clone(),
                    reason: format!("server `{name}` is new here, so it needs a port"),
                });
            }
            let target = self.servers.entry(server_name).or_default();
            for key in target.apply_keys(&mut s, &format!("servers.{name}."), source)? {
                self.sources.set(key, source);
            }
        }
        Ok(())
    }

    /// Checks what each key alone cannot; reports every problem.
    fn validate(&self) -> Result<(), ConfigError> {
        let mut errors = Vec::new();
        let invalid = |key: String, reason: &str| ConfigError::Invalid {
            source_name: self.sources.get(&key),
            key,
            reason: reason.to_owned(),
        };
        if let Err(reason) = check_log_level(&self.log_level) {
            errors.push(invalid("log_level".to_owned(), &reason));
        }
        if self.io_threads > MAX_IO_THREADS {
            errors.push(invalid(
                "io_threads".to_owned(),
                &format!("must be at most {MAX_IO_THREADS} (one per CPU core is the intent)"),
            ));
        }
        if self.enabled_servers().next().is_none() {
            errors.push(invalid(
                "servers".to_owned(),
                "at least one enabled server is needed",
            ));
        }
        for (name, s) in &self.servers {
            let key = |k: &str| format!("servers.{name}.{k}");
            if s.max_message_size == 0 {
                errors.push(invalid(key("max_message_size"), "must be at least 1 byte"));
            }
            if s.compression_level > 9 {
                errors.push(invalid(key("compression_level"), "must be 0 to 9"));
            }
            if !(9..=15).contains(&s.compression_window_bits) {
                errors.push(invalid(
                    key("compression_window_bits"),
                    "must be 9 to 15 (zlib compresses raw deflate with no smaller window)",
                ));
            }
            if s.http2_max_streams == 0 || u32::try_from(s.http2_max_streams).is_err() {
                errors.push(invalid(
                    key("http2_max_streams"),
                    "must be 1 to 4,294,967,295 streams",
                ));
            }
            if !(HTTP2_MIN_WINDOW..=HTTP2_MAX_WINDOW).contains(&s.http2_window) {
                errors.push(invalid(
                    key("http2_window"),
                    "must be 65,535 to 2,147,483,647 bytes (RFC 9113 §6.9)",
                ));
            }
            if s.outbound_queue == 0 {
                errors.push(invalid(key("outbound_queue"), "must be at least 1 message"));
            }
            if s.handshake_timeout.is_zero() {
                errors.push(invalid(
                    key("handshake_timeout"),
                    "must be more than 0 seconds",
                ));
            }
            if let Some(bad) = s.allowed_origins.iter().find(|o| !is_origin(o)) {
                errors.push(invalid(
                    key("allowed_origins"),
                    &format!(
                        "{bad:?} is not an origin: write `scheme://host` or \
                         `scheme://host:port` (no path, no trailing slash), or \"*\""
                    ),
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::many(errors))
        }
    }
}

/// The HTTP/2 flow-control window of a new connection, and the largest one (RFC 9113 §6.9).
const HTTP2_MIN_WINDOW: usize = 65_535;
const HTTP2_MAX_WINDOW: usize = (1 << 31) - 1;

/// The most `io_threads` a config may ask for: each is a thread with its own runtime.
const MAX_IO_THREADS: usize = 1024;

/// The level names of `log_level`, compared without regard to case.
const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// `log_level`'s rule: comma-separated directives, each a level name (any case) or
/// `TARGET=LEVEL`. A bare word that is no level (`verbose`) would be taken by `tracing` as a
/// target name and silence every other line, so it is refused. (Span directives with `[`
/// are left to the logger's own parser.)
fn check_log_level(value: &str) -> Result<(), String> {
    let is_level = |word: &str| LEVELS.iter().any(|l| l.eq_ignore_ascii_case(word.trim()));
    let hint = "use a level (trace, debug, info, warn, error, off) or TARGET=LEVEL \
                directives, e.g. `info,ws_core=debug`";
    for directive in value.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if directive.contains('[') {
            continue;
        }
        match directive.split_once('=') {
            None if !is_level(directive) => {
                return Err(format!("{directive:?} is not a level: {hint}"));
            }
            Some((target, level)) if target.trim().is_empty() || !is_level(level) => {
                return Err(format!("{directive:?} is not TARGET=LEVEL: {hint}"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// `*`, or `scheme://host[:port]` as browsers send it in `Origin` (no path).
fn is_origin(origin: &str) -> bool {
    if origin == "*" {
        return true;
    }
    origin.split_once("://").is_some_and(|(scheme, host)| {
        !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
            && !host.is_empty()
            && !host.contains(['/', '?', '#', ' '])
    })
}

fn env_value(value: &str, is_string: bool) -> toml::Value {
    if is_string {
        return toml::Value::String(value.to_owned());
    }
    // Parse numbers and booleans the way TOML does; anything else stays a string so that the
    // type error names the expected type.
    let trimmed = value.trim();
    if let Ok(i) = trimmed.parse::<i64>() {
        toml::Value::Integer(i)
    } else if let Ok(f) = trimmed.parse::<f64>() {
        toml::Value::Float(f)
    } else if let Ok(b) = trimmed.parse::<bool>() {
        toml::Value::Boolean(b)
    } else {
        toml::Value::String(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn load_str(toml: &str, env: &[(&str, &str)]) -> Result<(Config, Vec<String>), ConfigError> {
        let dir = std::env::temp_dir().join(format!(
            "ws-config-test-{}-{}",
            std::process::id(),
            toml.len() + env.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ws.toml");
        std::fs::write(&path, toml).unwrap();
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let out = Config::load(Some(&path), None, env);
        let _ = std::fs::remove_dir_all(&dir);
        out
    }

    #[test]
    fn embedded_default_has_http_and_ws() {
        let c = Config::embedded().unwrap();
        assert_eq!(c.server("http").unwrap().port, 9501);
        assert_eq!(c.server("ws").unwrap().port, 9502);
        assert_eq!(c.server("ws").unwrap().max_message_size, 16 << 20);
        assert_eq!(c.source_of("servers.ws.port"), ConfigSource::Embedded);
    }

    #[test]
    fn file_overrides_and_adds_servers() {
        let (c, _) = load_str(
            "[servers.ws]\nport = 1234\n[servers.admin]\nport = 7000\nidle_timeout = 0.5\n",
            &[],
        )
        .unwrap();
        assert_eq!(c.server("ws").unwrap().port, 1234);
        assert_eq!(c.server("ws").unwrap().host.to_string(), "127.0.0.1");
        assert_eq!(
            c.server("admin").unwrap().idle_timeout,
            Duration::from_millis(500)
        );
        assert!(matches!(
            c.source_of("servers.ws.port"),
            ConfigSource::File(_)
        ));
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let err = load_str("log_level = \"info\"\n[servers.ws]\nprot = 1\n", &[]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("ws.toml"), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("unknown field `prot`"), "{msg}");
    }

    #[test]
    fn entries_name_the_file_line_or_the_variable() {
        let (c, _) = load_str(
            "log_level = \"debug\"\n\n[servers.ws]\nport = 1234\n[middleware.m]\nx = 1\n",
            &[("WS_HTTP_PORT", "9000")],
        )
        .unwrap();
        let entries = c.entries();
        let find = |key: &str| entries.iter().find(|e| e.key() == key).unwrap();
        assert_eq!(find("log_level").line, Some(1));
        assert_eq!(find("servers.ws.port").line, Some(4));
        assert_eq!(find("servers.ws.port").value.as_deref(), Some("1234"));
        assert!(matches!(
            find("servers.ws.port").source,
            ConfigSource::File(_)
        ));
        assert_eq!(find("middleware.m.x").line, Some(6));
        let http = find("servers.http.port");
        assert_eq!(http.source, ConfigSource::Env("WS_HTTP_PORT".to_owned()));
        assert_eq!(http.line, None);
        assert_eq!(find("servers.ws.host").source, ConfigSource::Embedded);
        assert_eq!(find("log_file").value, None);
    }

    /// Whether one of `err`'s lines names `key` and says `what`.
    fn msg_has(err: &ConfigError, key: &str, what: &str) -> bool {
        err.to_string()
            .lines()
            .any(|l| l.contains(key) && l.contains(what))
    }

    #[test]
    fn every_bad_value_is_reported_at_once() {
        let err = load_str(
            "[servers.ws]\nmax_message_size = 0\noutbound_queue = 0\n",
            &[
                ("WS_HTTP_PORT", "x"),
                ("WS_WS_IDLE_TIMEOUT", "-1"),
                ("WS_IO_THREADS", "1025"),
                ("WS_WS_HTTP2_WINDOW", "1000"),
                ("WS_HTTP_HTTP2_MAX_STREAMS", "0"),
            ],
        )
        .unwrap_err();
        let ConfigError::Many(all) = &err else {
            panic!("{err}");
        };
        assert_eq!(all.len(), 7, "{err}");
        assert!(
            msg_has(&err, "servers.ws.http2_window", "65,535 to 2,147,483,647"),
            "{err}"
        );
        assert!(
            msg_has(&err, "servers.http.http2_max_streams", "must be 1"),
            "{err}"
        );
        let msg = err.to_string();
        assert!(msg.contains("io_threads"), "{msg}");
        assert!(msg.contains("must be at most 1024"), "{msg}");
        for key in [
            "WS_HTTP_PORT",
            "servers.ws.idle_timeout",
            "servers.ws.max_message_size",
            "servers.ws.outbound_queue",
        ] {
            assert!(msg.contains(key), "{key} missing in {msg}");
        }
    }

    #[test]
    fn env_overrides_file() {
        let (c, warnings) = load_str(
            "secret_key = \"from-file\"\n",
            &[
                ("WS_SECRET_KEY", "123123123"),
                ("WS_WS_PORT", "9999"),
                ("WS_HTTP_WEBSOCKET", "false"),
                ("WS_UNKNOWN_THING", "x"),
                ("PATH", "/bin"),
            ],
        )
        .unwrap();
        assert_eq!(c.secret_key.as_deref(), Some("123123123"));
        assert_eq!(c.server("ws").unwrap().port, 9999);
        assert_eq!(c.server("http").unwrap().websocket, Some(false));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("WS_UNKNOWN_THING"));
    }

    #[test]
    fn allowed_origins_from_an_array_or_a_comma_separated_variable() {
        let (c, _) = load_str(
            "[servers.http]\nallowed_origins = [\"https://a.example\", \"*\"]\n",
            &[(
                "WS_WS_ALLOWED_ORIGINS",
                "https://a.example, http://127.0.0.1:9501",
            )],
        )
        .unwrap();
        assert_eq!(
            c.server("http").unwrap().allowed_origins,
            ["https://a.example", "*"]
        );
        assert_eq!(
            c.server("ws").unwrap().allowed_origins,
            ["https://a.example", "http://127.0.0.1:9501"]
        );
        let err = load_str(
            "[servers.ws]\nallowed_origins = [\"https://a.example/\"]\n",
            &[],
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("servers.ws.allowed_origins"),
            "{err}"
        );
    }

    #[test]
    fn sni_certificates_from_tables_strings_or_a_comma_separated_variable() {
        use crate::config::CertFiles;
        let files = |cert: &str, key: &str| CertFiles {
            cert: cert.into(),
            key: key.into(),
        };
        let (c, _) = load_str(
            "[servers.http]\ntls_sni_certs = [{ cert = \"a.pem\", key = \"a.key\" }, \"b.pem:b.key\"]\n",
            &[("WS_WS_TLS_SNI_CERTS", "c.pem:c.key , /d/d.pem:/d/d.key,")],
        )
        .unwrap();
        assert_eq!(
            c.server("http").unwrap().tls_sni_certs,
            [files("a.pem", "a.key"), files("b.pem", "b.key")]
        );
        assert_eq!(
            c.server("ws").unwrap().tls_sni_certs,
            [files("c.pem", "c.key"), files("/d/d.pem", "/d/d.key")]
        );
        // `ws-cli config` shows tables, which load back to the same.
        let shown = c
            .entries()
            .into_iter()
            .find(|e| e.table == "servers.http" && e.name == "tls_sni_certs")
            .unwrap();
        let value = shown.value.unwrap();
        assert!(value.contains("cert = \"a.pem\""), "{value}");
        for (bad, named) in [
            ("\"a.pem\"", "CERT:KEY"),
            ("\":a.key\"", "CERT:KEY"),
            // A table is read at the line of the key, which the error shows.
            ("[{ cert = \"a.pem\" }]", "missing field `key`"),
            (
                "[{ cert = \"a.pem\", key = \"a.key\", ocsp = 1 }]",
                "unknown field `ocsp`",
            ),
            ("7", "an array of `{ cert"),
        ] {
            let err = load_str(&format!("[servers.ws]\ntls_sni_certs = {bad}\n"), &[])
                .unwrap_err()
                .to_string();
            assert!(err.contains(named), "{bad}: {err}");
        }
    }

    #[test]
    fn bad_env_value_names_variable() {
        let err = load_str("", &[("WS_WS_PORT", "abc")]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("WS_WS_PORT"), "{msg}");
    }

    #[test]
    fn log_level_takes_levels_and_directives_and_refuses_other_words() {
        for good in [
            "info",
            "DEBUG",
            "Warn",
            "info,ws_core=debug",
            "ws_cli=trace",
            "off",
        ] {
            let (c, _) = load_str(&format!("log_level = {good:?}\n"), &[]).unwrap();
            assert_eq!(c.log_level, good);
        }
        for bad in ["verbose", "info,verbose", "ws_core=loud", "=debug"] {
            let err = load_str(&format!("log_level = {bad:?}\n"), &[]).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("log_level") && msg.contains("level"), "{msg}");
        }
        let err = load_str("", &[("WS_LOG_LEVEL", "verbose")]).unwrap_err();
        assert!(err.to_string().contains("WS_LOG_LEVEL"), "{err}");
    }

    #[test]
    fn log_format_is_text_or_json() {
        let (c, _) = load_str("", &[]).unwrap();
        assert_eq!(c.log_format, crate::config::LogFormat::Text);
        let (c, _) = load_str("", &[("WS_LOG_FORMAT", "json")]).unwrap();
        assert_eq!(c.log_format, crate::config::LogFormat::Json);
        let err = load_str("log_format = \"xml\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("log_format"), "{err}");
        let err = load_str("", &[("WS_LOG_FORMAT", "xml")]).unwrap_err();
        assert!(err.to_string().contains("WS_LOG_FORMAT"), "{err}");
    }

    #[test]
    fn servers_can_be_disabled_but_not_all() {
        let (c, _) = load_str(
            "[servers.http]\nenabled = false\n",
            &[("WS_WS_ENABLED", "true")],
        )
        .unwrap();
        let names: Vec<&str> = c.enabled_servers().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["ws"]);
        assert!(!c.server("http").unwrap().enabled);
        let err = load_str(
            "[servers.http]\nenabled = false\n",
            &[("WS_WS_ENABLED", "false")],
        )
        .unwrap_err();
        assert!(err.to_string().contains("enabled server"), "{err}");
    }

    #[test]
    fn new_server_needs_port() {
        let err = load_str("[servers.admin]\nhost = \"127.0.0.1\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("servers.admin.port"), "{err}");
    }
}
