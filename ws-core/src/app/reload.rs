//! Live reload: which config changes a running app applies, and the report of a reload.
//!
//! [`Running::reload`](crate::Running::reload) compares the config in effect with a newly
//! loaded one, key by key, and applies what can change without dropping a connection:
//!
//! | keys | effect |
//! | --- | --- |
//! | `drain_timeout` | applied: the next stop uses it |
//! | `secret_key` | applied: requests after the reload read the new key (`Request::config`) |
//! | `[middleware.NAME]` tables | applied: [`Settings::get`](crate::Settings::get) returns the new value from then on; a table that does not fit its type fails the whole reload |
//! | per server: `max_message_size`, `compression`, `compression_level`, `compression_window_bits`, `compression_context_takeover`, `compression_threshold`, `handshake_timeout`, `idle_timeout`, `ping_interval`, `close_timeout`, `write_timeout`, `outbound_queue`, `outbound_bytes`, `outbound_full`, `max_http_body`, `http_body_timeout`, `http_body_budget`, `max_http_streams`, `http2_max_streams`, `http2_window`, `jsonrpc_max_batch`, `jsonrpc_max_reply`, `max_connections`, `max_connections_per_ip`, `handshake_rate_per_ip`, `allowed_origins`, `tls_cert`, `tls_key`, `tls_sni_certs`, `tls_client_ca` | applied to new connections and requests; open connections keep the values they started with (a lowered limit closes none) |
//! | `fd_reserve` | applied: the next handshake is checked against it |
//! | certificate and key files of TLS servers | read again by every reload, changed or not: new connections get the new certificate; a pair that does not load fails the whole reload |
//! | `log_level` | [`Effect::Caller`]: the process that owns logging applies it (ws-cli does) |
//! | `host`, `port`, `websocket`, `enabled`, adding or removing a server, `worker_threads`, `io_threads`, `node_id`, `broker`, `cluster`, `log_file`, `log_format`, `pid_file`, `control_socket`, `metrics`, `metrics_server` | need a restart (`restart` hands the listening sockets over, so no connection is refused) |
//!
//! Each key's effect is declared with the key, in `config/mod.rs`; a test checks that this
//! table names every key with that effect.
//!
//! A key that needs a restart keeps its old value in the config in effect, so the next
//! reload reports it again until the process is restarted.
//!
//! A reload reads the config file and the `.env` file again; the process's own `WS_*`
//! environment variables are the ones it started with (as for any Unix process, the
//! environment of the `reload` command does not reach the server). Change a setting for a
//! running server in the file or in `.env`.

use std::fmt;

use crate::config::keys::Keys;
use crate::config::Config;

// Declared with each key, in `config/mod.rs`.
pub use crate::config::keys::Effect;

/// One changed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The key, e.g. `servers.ws.idle_timeout` or `log_level`.
    pub key: String,
    /// The value in effect before, as text (secrets are shown as `<redacted>`).
    pub from: String,
    /// The new value, as text.
    pub to: String,
    /// When it takes effect.
    pub effect: Effect,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} -> {}", self.key, self.from, self.to)
    }
}

/// What a reload changed, key by key; empty when the new config equals the one in effect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Every changed key, globals first, then servers by name.
    pub changes: Vec<Change>,
    /// One line per TLS server: its certificate and key files, read again (whether or not
    /// they changed).
    pub certificates: Vec<String>,
}

impl ReloadReport {
    /// The changes with effect `effect`.
    pub fn with_effect(&self, effect: Effect) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(move |c| c.effect == effect)
    }
}

/// Compares `old` (in effect) with `new`; returns the changes and the config that is in
/// effect once the live ones are applied (`old` with the applied and caller keys of `new`).
pub(crate) fn diff(old: &Config, new: &Config) -> (ReloadReport, Config) {
    let mut changes = Vec::new();
    let mut effective = old.clone();
    let mut push = |key: String, from: String, to: String, effect: Effect| {
        if from != to {
            changes.push(Change {
                key,
                from,
                to,
                effect,
            });
        }
    };
    old.diff_keys(new, &mut effective, |key, from, to| {
        push(key.name.to_owned(), from, to, key.effect);
    });
    for (name, o) in &old.servers {
        let Some(n) = new.servers.get(name) else {
            push(
                format!("servers.{name}"),
                o.addr().to_string(),
                "removed".into(),
                Effect::Restart,
            );
            continue;
        };
        if let Some(target) = effective.servers.get_mut(name) {
            o.diff_keys(n, target, |key, from, to| {
                push(format!("servers.{name}.{}", key.name), from, to, key.effect);
            });
        }
    }
    for (name, n) in &new.servers {
        if !old.servers.contains_key(name) {
            push(
                format!("servers.{name}"),
                "none".into(),
                n.addr().to_string(),
                Effect::Restart,
            );
        }
    }
    let names: std::collections::BTreeSet<&String> =
        old.middleware.keys().chain(new.middleware.keys()).collect();
    for name in names {
        let table = |c: &Config| {
            c.middleware
                .get(name)
                .map_or_else(|| "none".to_owned(), inline_table)
        };
        push(
            format!("middleware.{name}"),
            table(old),
            table(new),
            Effect::Applied,
        );
    }
    effective.middleware = new.middleware.clone();
    (
        ReloadReport {
            changes,
            certificates: Vec::new(),
        },
        effective,
    )
}

/// A table as one line of TOML: `{ allow = ["https://example.com"] }`.
fn inline_table(table: &toml::Table) -> String {
    let mut inline = toml::value::Table::new();
    inline.extend(table.clone());
    let text = toml::Value::Table(inline).to_string();
    if text.is_empty() {
        "{}".to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::ServerConfig;

    #[test]
    fn module_doc_table_names_each_key_with_its_effect() {
        let mut documented = Vec::new();
        for row in include_str!("reload.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//! | "))
        {
            let Some((keys, effect)) = row.split_once(" | ") else {
                continue;
            };
            let effect = if effect.starts_with("applied") {
                Effect::Applied
            } else if effect.starts_with("[`Effect::Caller`]") {
                Effect::Caller
            } else if effect.starts_with("need a restart") {
                Effect::Restart
            } else {
                continue;
            };
            let names = keys.split('`').skip(1).step_by(2);
            let names = names.filter(|w| crate::config::is_key_name(w));
            documented.extend(names.map(|name| (name, effect)));
        }
        let mut declared: Vec<_> = Config::KEYS
            .iter()
            .chain(ServerConfig::KEYS)
            .map(|k| (k.name, k.effect))
            .collect();
        documented.sort_by_key(|&(name, _)| name);
        declared.sort_by_key(|&(name, _)| name);
        assert_eq!(documented, declared);
    }

    #[test]
    fn same_config_changes_nothing() {
        let c = Config::embedded().unwrap();
        let (report, effective) = diff(&c, &c);
        assert!(report.changes.is_empty(), "{report:?}");
        assert!(effective == c);
    }

    #[test]
    fn live_keys_apply_and_restart_keys_stay() {
        let old = Config::embedded().unwrap();
        let mut new = old.clone();
        new.drain_timeout = Duration::from_secs(3);
        new.log_level = "debug".into();
        new.node_id = 7;
        let ws = new.servers.values_mut().last().unwrap();
        ws.idle_timeout = Duration::from_secs(5);
        ws.port = 1;
        let (report, effective) = diff(&old, &new);
        let keys = |e| {
            report
                .with_effect(e)
                .map(|c| c.key.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            keys(Effect::Applied),
            ["drain_timeout", "servers.ws.idle_timeout"]
        );
        assert_eq!(keys(Effect::Caller), ["log_level"]);
        assert_eq!(keys(Effect::Restart), ["node_id", "servers.ws.port"]);
        assert_eq!(effective.drain_timeout, Duration::from_secs(3));
        assert_eq!(effective.node_id, 0);
        let ws = effective.server("ws").unwrap();
        assert_eq!(ws.idle_timeout, Duration::from_secs(5));
        assert_eq!(ws.port, 9502);
        // Reloading the same file again reports only what still needs a restart.
        let (again, _) = diff(&effective, &new);
        assert!(again.with_effect(Effect::Applied).next().is_none());
        assert_eq!(again.with_effect(Effect::Restart).count(), 2);
    }

    #[test]
    fn added_and_removed_servers_need_a_restart() {
        let old = Config::embedded().unwrap();
        let mut new = old.clone();
        let http = new.servers.remove("http").unwrap();
        new.servers
            .insert(crate::config::ServerName::new("admin"), http);
        let (report, _) = diff(&old, &new);
        let keys: Vec<_> = report.changes.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["servers.http", "servers.admin"]);
        assert!(report.changes.iter().all(|c| c.effect == Effect::Restart));
    }
}
