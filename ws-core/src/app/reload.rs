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
//! | per server: `max_message_size`, `handshake_timeout`, `idle_timeout`, `ping_interval`, `close_timeout`, `write_timeout`, `outbound_queue`, `outbound_full`, `max_http_body` | applied to new connections and requests; open connections keep the values they started with |
//! | `log_level` | [`Effect::Caller`]: the process that owns logging applies it (ws-cli does) |
//! | `host`, `port`, `websocket`, adding or removing a server, `worker_threads`, `node_id`, `log_file`, `pid_file`, `control_socket` | need a restart (`restart` hands the listening sockets over, so no connection is refused) |
//!
//! A key that needs a restart keeps its old value in the config in effect, so the next
//! reload reports it again until the process is restarted.
//!
//! A reload reads the config file and the `.env` file again; the process's own `WS_*`
//! environment variables are the ones it started with (as for any Unix process, the
//! environment of the `reload` command does not reach the server). Change a setting for a
//! running server in the file or in `.env`.

use std::fmt;

use crate::config::{Config, ServerConfig};

/// When a changed key takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Effect {
    /// Applied by the reload: new connections and requests use the new value.
    Applied,
    /// A process-wide setting that the caller applies (`log_level`: the logger belongs to the
    /// process, not to ws-core).
    Caller,
    /// Only a restart applies it; the running app keeps the old value.
    Restart,
}

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
}

impl ReloadReport {
    /// The changes with effect `effect`.
    pub fn with_effect(&self, effect: Effect) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(move |c| c.effect == effect)
    }
}

/// Per-server keys that apply to new connections without a restart.
const LIVE_SERVER_KEYS: &[&str] = &[
    "max_message_size",
    "handshake_timeout",
    "idle_timeout",
    "ping_interval",
    "close_timeout",
    "write_timeout",
    "outbound_queue",
    "outbound_full",
    "max_http_body",
];

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
    let path = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map_or_else(|| "none".to_owned(), |p| p.display().to_string())
    };
    push(
        "log_level".into(),
        old.log_level.clone(),
        new.log_level.clone(),
        Effect::Caller,
    );
    effective.log_level = new.log_level.clone();
    push(
        "log_file".into(),
        path(&old.log_file),
        path(&new.log_file),
        Effect::Restart,
    );
    let secret = |s: &Option<String>| s.as_ref().map_or("none", |_| "<redacted>").to_owned();
    if old.secret_key != new.secret_key {
        let (from, to) = (secret(&old.secret_key), secret(&new.secret_key));
        let (from, to) = if from == to {
            (from, "<redacted, changed>".to_owned())
        } else {
            (from, to)
        };
        push("secret_key".into(), from, to, Effect::Applied);
    }
    effective.secret_key = new.secret_key.clone();
    push(
        "worker_threads".into(),
        old.worker_threads.to_string(),
        new.worker_threads.to_string(),
        Effect::Restart,
    );
    push(
        "node_id".into(),
        old.node_id.to_string(),
        new.node_id.to_string(),
        Effect::Restart,
    );
    push(
        "drain_timeout".into(),
        format!("{:?}", old.drain_timeout),
        format!("{:?}", new.drain_timeout),
        Effect::Applied,
    );
    effective.drain_timeout = new.drain_timeout;
    push(
        "pid_file".into(),
        old.pid_file.display().to_string(),
        new.pid_file.display().to_string(),
        Effect::Restart,
    );
    push(
        "control_socket".into(),
        old.control_socket.display().to_string(),
        new.control_socket.display().to_string(),
        Effect::Restart,
    );

    for (name, o) in &old.servers {
        let key = |k: &str| format!("servers.{name}.{k}");
        let Some(n) = new.servers.get(name) else {
            push(
                format!("servers.{name}"),
                o.addr().to_string(),
                "removed".into(),
                Effect::Restart,
            );
            continue;
        };
        push(
            key("host"),
            o.host.to_string(),
            n.host.to_string(),
            Effect::Restart,
        );
        push(
            key("port"),
            o.port.to_string(),
            n.port.to_string(),
            Effect::Restart,
        );
        push(
            key("websocket"),
            format!("{:?}", o.websocket),
            format!("{:?}", n.websocket),
            Effect::Restart,
        );
        for k in LIVE_SERVER_KEYS {
            push(
                key(k),
                server_value(o, k),
                server_value(n, k),
                Effect::Applied,
            );
        }
        if let Some(target) = effective.servers.get_mut(name) {
            *target = ServerConfig {
                host: o.host,
                port: o.port,
                websocket: o.websocket,
                ..n.clone()
            };
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
    (ReloadReport { changes }, effective)
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

/// A live per-server key's value, as text.
fn server_value(s: &ServerConfig, key: &str) -> String {
    match key {
        "max_message_size" => s.max_message_size.to_string(),
        "handshake_timeout" => format!("{:?}", s.handshake_timeout),
        "idle_timeout" => format!("{:?}", s.idle_timeout),
        "ping_interval" => format!("{:?}", s.ping_interval),
        "close_timeout" => format!("{:?}", s.close_timeout),
        "write_timeout" => format!("{:?}", s.write_timeout),
        "outbound_queue" => s.outbound_queue.to_string(),
        "outbound_full" => format!("{:?}", s.outbound_full).to_ascii_lowercase(),
        "max_http_body" => s.max_http_body.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

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
