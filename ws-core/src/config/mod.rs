//! Configuration: named servers and process-wide settings.
//!
//! A [`Config`] is built by [`Config::load`] from layers, each overriding the one before:
//!
//! 1. the embedded default (`default.toml` in this directory): servers `http` on
//!    127.0.0.1:9501 and `ws` on 127.0.0.1:9502;
//! 2. a TOML file (`--config ws.toml`);
//! 3. a `.env` file in the working directory;
//! 4. `WS_*` environment variables.
//!
//! Unknown keys are errors that name the key and the file and line. Every field below
//! documents its **default**.
//!
//! Each key is declared once, in a `config_keys!` block (`keys.rs`): its doc, type, default
//! and reload effect. The layer types that files and `WS_*` variables are read into, the
//! `WS_*` names, the reload report and `Debug` are generated from there.
//!
//! [`Config::entries`] (`listing.rs`) lists every key of the effective config with its value
//! as TOML and where it came from ([`ConfigSource`], and the line for a key from the file):
//! what `ws-cli config` prints.

mod error;
pub(crate) mod keys;
mod listing;
mod live;
mod load;
pub(crate) mod value;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

pub use error::ConfigError;
use keys::{config_keys, Keys};
pub use listing::ConfigEntry;
pub use live::LiveConfig;
pub use load::ConfigSource;

/// The name of a server in the config (`[servers.NAME]`), e.g. `ws` or `http`. Cheap to
/// clone: every connection carries one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(from = "String")]
pub struct ServerName(Arc<str>);

impl ServerName {
    /// Wraps a server name.
    pub fn new(name: impl Into<String>) -> Self {
        Self(Arc::from(name.into()))
    }

    /// The name as written in the config.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for ServerName {
    fn from(name: String) -> Self {
        Self::new(name)
    }
}

impl fmt::Display for ServerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for ServerName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// What a connection's outbound queue does when it is full (a slow reader).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OutboundPolicy {
    /// Close the slow connection with 1008 (policy violation, reason "slow consumer"); the
    /// push that found the queue full returns [`SendError::Full`](crate::SendError::Full).
    /// **Default**: a slow reader never holds back the others and never grows memory.
    #[default]
    Close,
    /// Drop the message for that connection and return
    /// [`SendError::Full`](crate::SendError::Full) to the pusher; the connection stays open.
    Drop,
    /// The pusher waits until there is room (backpressure). Pushes from the connection's own
    /// hooks always wait, whatever the policy.
    Wait,
}

/// How log lines are written (config `log_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One line of text per event (**default**), with the connection's span at `debug`:
    /// `conn{conn=0-1 server=ws path="/echo"}: open`.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields`, `target`, `span`, `spans`),
    /// the connection's span fields in `span` and `spans`.
    Json,
}

/// Where the nodes of a cluster meet (config `broker`).
#[derive(Clone, PartialEq, Eq, Default)]
pub enum BrokerAddr {
    /// In-process: this node alone (`local`).
    #[default]
    Local,
    /// A Redis server: `redis://[:PASSWORD@]HOST:PORT[/DB]` (or `rediss://`, `unix://`).
    Redis(String),
}

impl BrokerAddr {
    /// The address with any password replaced by `***`, for logs and reports.
    pub fn redacted(&self) -> String {
        match self {
            BrokerAddr::Local => "local".to_owned(),
            BrokerAddr::Redis(url) => redact(url),
        }
    }
}

/// `scheme://user:secret@host` → `scheme://user:***@host`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => format!("{scheme}://***@{host}"),
        },
        None => url.to_owned(),
    }
}

impl fmt::Debug for BrokerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// A certificate and its private key, PEM files as `tls_cert` and `tls_key` take them: one
/// item of `tls_sni_certs`. In TOML `{ cert = "chat.pem", key = "chat.key" }`, or one string
/// `"chat.pem:chat.key"` (how a `WS_*` variable spells it, items separated by commas).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertFiles {
    /// The certificate, followed by its chain if it has one.
    pub cert: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

config_keys! {
    /// Settings of one named server (`[servers.NAME]`).
    #[derive(Clone, PartialEq)]
    pub struct ServerConfig {
        keys {
            /// Whether the server runs: `false` removes it (no listener; not in `routes` or
            /// `status`), e.g. the embedded default's `http` or `ws` in an app that does not
            /// want it. A controller, route or middleware registered on a disabled server
            /// fails the start. **Default**: `true`.
            enabled: bool = true, reload: Restart;
            /// Address to listen on. **Default**: `127.0.0.1`.
            host: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST), reload: Restart;
            /// Port to listen on; `0` picks a free port (logged at start-up). **Default**: none
            /// for servers added by a file (required); 9501 for `http`, 9502 for `ws`.
            port: u16 = 0, reload: Restart;
            /// Whether the server accepts WebSocket upgrades. **Default**: yes when a
            /// controller targets the server; `false` switches upgrades off even then.
            websocket: Option<bool> = None, reload: Restart;
            /// Largest message (all fragments together) a client may send, in bytes; larger
            /// closes with 1009. **Default**: 16 MiB.
            max_message_size: usize = 16 << 20, reload: Applied;
            /// permessage-deflate (RFC 7692) on every WebSocket route of this server (a
            /// controller's `compression = true` turns it on for its route alone): a client
            /// that offers it gets compressed messages and may send them. **Default**: `false`.
            compression: bool = false, reload: Applied [sample "true"];
            /// zlib compression level of outgoing messages, 0 (stored) to 9 (smallest).
            /// **Default**: 1 (fastest).
            compression_level: usize = 1, reload: Applied;
            /// Largest LZ77 window, as a power of two (9 to 15), that the server compresses
            /// with and asks the client to compress with (when the client's offer lets it
            /// ask): bounds the memory of a context kept between messages. **Default**: 15.
            compression_window_bits: usize = 15, reload: Applied [sample "10"];
            /// Whether compression contexts are kept between messages (when the client's offer
            /// allows): a better ratio for streams of similar messages, for a dedicated
            /// compressor (and decompressor) per connection. `false`: the server answers
            /// `server_no_context_takeover` and `client_no_context_takeover`, and an idle
            /// compressed connection holds no compression state (one compressor and one
            /// decompressor per worker thread serve every connection). **Default**: `false`.
            compression_context_takeover: bool = false, reload: Applied [sample "true"];
            /// Messages the server sends that are smaller than this many bytes go out
            /// uncompressed. **Default**: 1024.
            compression_threshold: usize = 1024, reload: Applied;
            /// Time a client has to send its complete HTTP request head (the TLS handshake
            /// included); also how long a kept-alive HTTP/1.1 connection waits for its next
            /// head, and an HTTP/2 connection without an open stream stays before it is closed
            /// (GOAWAY). **Default**: 10 s.
            handshake_timeout: Duration = Duration::from_secs(10), reload: Applied;
            /// A connection with no frame from the client for this long is closed (1001, "idle
            /// timeout"); `0` disables it. **Default**: 60 s.
            idle_timeout: Duration = Duration::from_secs(60), reload: Applied;
            /// The server sends a ping after this long without a frame from the client, so
            /// that live peers answer with a pong before `idle_timeout`; `0` disables pings.
            /// **Default**: 25 s.
            ping_interval: Duration = Duration::from_secs(25), reload: Applied;
            /// After the server sends a close frame, how long it waits for the client's.
            /// **Default**: 5 s.
            close_timeout: Duration = Duration::from_secs(5), reload: Applied;
            /// A write to a client that makes no progress for this long (the client stopped
            /// reading and its socket buffers are full) drops the connection, a WebSocket's or
            /// one sending a streamed HTTP response; `0` disables it.
            /// **Default**: 60 s.
            write_timeout: Duration = Duration::from_secs(60), reload: Applied;
            /// Capacity of each connection's outbound queue, in messages. **Default**: 1024.
            outbound_queue: usize = 1024, reload: Applied;
            /// Capacity of each connection's outbound queue, in bytes of message payload: a push
            /// that would take a non-empty queue past it finds the queue full (one message larger
            /// than this still goes into an empty queue). Control frames do not count.
            /// **Default**: 256 KiB, so 10,000 clients that stopped reading hold about 2.5 GiB.
            outbound_bytes: usize = 256 << 10, reload: Applied;
            /// What a push does when the queue is full. **Default**: `close`.
            outbound_full: OutboundPolicy = OutboundPolicy::default(), reload: Applied;
            /// Largest HTTP request body an HTTP route accepts (413 above). **Default**: 1 MiB.
            max_http_body: usize = 1 << 20, reload: Applied;
            /// Time a client has to send an HTTP request body, from the end of its head; 408
            /// past it. **Default**: 30 s.
            http_body_timeout: Duration = Duration::from_secs(30), reload: Applied;
            /// Bytes of HTTP request bodies the server holds at once, over all requests being
            /// read or handled; a body that would go past it is answered 503 with
            /// `Retry-After`. **Default**: 64 MiB.
            http_body_budget: usize = 64 << 20, reload: Applied;
            /// Most streamed HTTP response bodies (server-sent events, `Body::from_stream`, a
            /// body a tower layer wraps) open on this server at once; a response that would go
            /// past it is answered 503 with `Retry-After` instead. Every stream ends when the
            /// server stops. `0`: no limit. **Default**: 10000.
            max_http_streams: usize = 10_000, reload: Applied;
            /// Most streams one HTTP/2 connection may have open at once (its requests, and its
            /// WebSockets over HTTP/2): the server's `SETTINGS_MAX_CONCURRENT_STREAMS`, so a
            /// client waits for one to end before it opens another. At least 1.
            /// **Default**: 200.
            http2_max_streams: usize = 200, reload: Applied;
            /// Bytes a client may send on one HTTP/2 connection, and on each of its streams,
            /// before the server has read them (the flow-control windows): the most request or
            /// WebSocket data the server buffers for one connection. 65,535 to 2,147,483,647.
            /// **Default**: 1 MiB.
            http2_window: usize = 1 << 20, reload: Applied [sample "300000"];
            /// Most requests in one JSON-RPC batch (`ws_core::jsonrpc`); a longer batch is
            /// answered with one -32600 error, and read no further than this many items.
            /// **Default**: 1000.
            jsonrpc_max_batch: usize = 1000, reload: Applied;
            /// Largest reply to one JSON-RPC batch, in bytes; past it the batch is answered
            /// with one -32600 error instead. **Default**: 16 MiB.
            jsonrpc_max_reply: usize = 16 << 20, reload: Applied;
            /// Most WebSocket connections open on this server at once (closing ones count
            /// until they have ended); a handshake over it is answered 503 before the upgrade,
            /// and a warning is logged once each time the server reaches it. `0`: no limit of
            /// its own (`fd_reserve` still applies). **Default**: 0.
            max_connections: usize = 0, reload: Applied;
            /// Most WebSocket connections open at once from one IP address; a handshake over
            /// it is answered 429 with `Retry-After`. Behind a proxy every client has the
            /// proxy's address (forwarded headers are not trusted). `0` disables it.
            /// **Default**: 0.
            max_connections_per_ip: usize = 0, reload: Applied;
            /// Most WebSocket handshakes per second from one IP address (a token bucket that
            /// holds one second's worth, so a burst of this many is allowed); over it, 429
            /// with `Retry-After`. Behind a proxy every client has the proxy's address. `0`
            /// disables it. **Default**: 0.
            handshake_rate_per_ip: usize = 0, reload: Applied;
            /// Origins (`scheme://host[:port]`, compared without regard to case) whose web
            /// pages may use this server: a request with an `Origin` header not in the list
            /// is answered 403; requests without one (programs rather than browsers) go on.
            /// `"*"` allows every origin. A TOML array, or one string of comma-separated
            /// origins (as `WS_<NAME>_ALLOWED_ORIGINS` is). **Default**: empty, which allows
            /// every origin.
            allowed_origins: Vec<String> = Vec::new(), reload: Applied;
            /// PEM file with the server's certificate, followed by its chain if it has one.
            /// With `tls_key`, the server speaks TLS only (`wss://`, `https://`; HTTP/2 by
            /// ALPN); setting one without the other fails the start. A reload reads the files
            /// again: new connections get the new certificate. **Default**: none (plain TCP).
            tls_cert: Option<PathBuf> = None, reload: Applied;
            /// PEM file with the private key of `tls_cert` (PKCS#8, PKCS#1 or SEC1).
            /// **Default**: none.
            tls_key: Option<PathBuf> = None, reload: Applied;
            /// Further certificates, each picked for the clients that ask for one of its names
            /// in the TLS handshake (SNI): one server on one port for several domains. A
            /// certificate serves the DNS names of its subject alternative names (`*.example.com`
            /// serves one label under `example.com`); a client that asks for no name or for a
            /// name none of them has gets `tls_cert`, which these need. A name in two of them
            /// fails the start. A reload reads the files again. A TOML array of
            /// `{ cert = "...", key = "..." }` tables or `"CERT:KEY"` strings; in a `WS_*`
            /// variable, `CERT:KEY` items separated by commas. **Default**: none.
            tls_sni_certs: Vec<CertFiles> = Vec::new(), reload: Applied;
            /// PEM file with the certificate authorities that sign client certificates: when
            /// set (with `tls_cert` and `tls_key`), every client must present a certificate
            /// signed by one of them, and hooks read its subject with
            /// [`Conn::client_cert`](crate::Conn::client_cert). **Default**: none (no client
            /// certificates asked for).
            tls_client_ca: Option<PathBuf> = None, reload: Applied;
        }
    }
    /// One `[servers.NAME]` table of a layer.
    layer ServerLayer {}
}

impl ServerConfig {
    /// The socket address to bind.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// Whether the server speaks TLS (`tls_cert` and `tls_key` both set).
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self::defaults()
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ServerConfig");
        self.debug_keys(&mut d);
        d.finish()
    }
}

config_keys! {
    /// The whole configuration of an app.
    #[derive(Clone, PartialEq)]
    pub struct Config {
        keys {
            /// Log filter: a level (`error`, `warn`, `info`, `debug`, `trace` or `off`, in any
            /// case), or comma-separated `tracing` directives such as `info,ws_core=debug`
            /// (`TARGET=LEVEL`). A word that is neither a level nor `TARGET=LEVEL` (`verbose`)
            /// is an error, at start and on reload. **Default**: `info`.
            log_level: String = "info".to_owned(), reload: Caller;
            /// How log lines are written: `text` (one line per event) or `json` (one JSON
            /// object per line, with the connection's span fields). Set up once with the
            /// process: a change needs a restart. **Default**: `text`.
            log_format: LogFormat = LogFormat::Text, reload: Restart;
            /// File that logs are appended to; none logs to standard error. **Default**: none.
            log_file: Option<PathBuf> = None, reload: Restart;
            /// Secret used by routes that need authentication (e.g. the demo's `POST /push`).
            /// No key configured means such routes refuse every request. **Default**: none.
            secret_key: Option<String> = None, reload: Applied, secret;
            /// Tokio worker threads; `0` uses one per CPU core. **Default**: 0.
            worker_threads: usize = 0, reload: Restart;
            /// Threads that accept and serve the connections, each with its own
            /// single-threaded Tokio runtime (thread-per-core): a connection stays on the thread
            /// that accepted it, and its reads, writes, timers and hooks never hop threads.
            /// `0` serves connections on the work-stealing runtime of `worker_threads`, which
            /// then carries only the app's own tasks otherwise. See the README's "Threads".
            /// **Default**: 0.
            io_threads: usize = 0, reload: Restart;
            /// Id of this node in a cluster, part of every connection id; must differ per node
            /// (a node leases its id on the broker, and one started with an id in use exits
            /// with an error). **Default**: 0.
            node_id: u16 = 0, reload: Restart;
            /// Where the nodes of a cluster meet: `local` (this process alone) or
            /// `redis://[:PASSWORD@]HOST:PORT[/DB]`. **Default**: `local`.
            broker: BrokerAddr = BrokerAddr::Local, reload: Restart;
            /// Name of the cluster: the prefix of every key and channel it uses on the broker, so
            /// that two apps can share one Redis. **Default**: `ws`.
            cluster: String = "ws".to_owned(), reload: Restart;
            /// Longest a graceful stop waits for connections to finish their close handshake.
            /// **Default**: 10 s.
            drain_timeout: Duration = Duration::from_secs(10), reload: Applied;
            /// File holding the server's process id while it runs (written atomically, locked
            /// so that a second `start` refuses). **Default**: `ws.pid` in the working
            /// directory.
            pid_file: PathBuf = PathBuf::from("ws.pid"), reload: Restart;
            /// Unix socket on which a running server answers `status`, `reload`, `stop` and
            /// `restart`. **Default**: `ws.sock` in the working directory.
            control_socket: PathBuf = PathBuf::from("ws.sock"), reload: Restart;
            /// File descriptors kept for the process's own use (the control socket, log files,
            /// `/health` and other plain HTTP requests): once the sockets the servers hold
            /// reach the soft `RLIMIT_NOFILE` (read at start) minus this, WebSocket handshakes
            /// are answered 503. **Default**: 64.
            fd_reserve: usize = 64, reload: Applied;
            /// Serve `GET /metrics` (Prometheus text format), `GET /healthz` and `GET /readyz`
            /// on server `metrics_server`. **Default**: `true`.
            metrics: bool = true, reload: Restart;
            /// The server that serves `/metrics`, `/healthz` and `/readyz` (when `metrics` is
            /// on); it must be a configured server. During a graceful stop it keeps answering
            /// (`/readyz` with 503) until the drain ends. **Default**: `http`.
            metrics_server: String = "http".to_owned(), reload: Restart;
        }
        /// The named servers, disabled ones (`enabled = false`) included: see
        /// [`enabled_servers`](Self::enabled_servers).
        pub servers: BTreeMap<ServerName, ServerConfig>,
        /// The `[middleware.NAME]` tables, read through [`Settings`](crate::Settings) by the
        /// types that declare them. **Default**: none.
        pub(crate) middleware: BTreeMap<String, toml::Table>,
        /// Where each value came from, for error messages.
        pub(crate) sources: load::Sources,
    }
    /// One layer of configuration (the embedded default, a file, a variable): every key
    /// optional, unknown keys rejected.
    layer Layer {
        #[serde(default)]
        servers: BTreeMap<String, ServerLayer>,
        #[serde(default)]
        middleware: BTreeMap<String, toml::Table>,
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Config");
        self.debug_keys(&mut d);
        d.field("servers", &self.servers)
            .field("middleware", &self.middleware)
            .finish()
    }
}

impl Config {
    /// The settings of server `name`, if the config has it.
    pub fn server(&self, name: &str) -> Option<&ServerConfig> {
        self.servers.get(name)
    }

    /// The servers that run (`enabled`), by name: [`servers`](Self::servers) without the
    /// disabled ones.
    pub fn enabled_servers(&self) -> impl Iterator<Item = (&ServerName, &ServerConfig)> {
        self.servers.iter().filter(|(_, s)| s.enabled)
    }

    /// Whether server `name` serves `/metrics`, `/healthz` and `/readyz` (keys `metrics` and
    /// `metrics_server`).
    pub(crate) fn serves_metrics(&self, name: &str) -> bool {
        self.metrics && self.metrics_server == name
    }

    /// Table `[middleware.NAME]`, if the config has it.
    pub(crate) fn middleware_table(&self, name: &str) -> Option<&toml::Table> {
        self.middleware.get(name)
    }

    /// Where the value of `key` (e.g. `servers.ws.port`) was set: the embedded default, a file
    /// or an environment variable. Used to make error messages point at the right place.
    pub fn source_of(&self, key: &str) -> ConfigSource {
        self.sources.get(key)
    }
}

/// Whether `word` has the shape of a config key as the docs spell one (`max_http_streams`,
/// `http2_window`): lowercase letters, digits and `_`, starting with a letter. For the tests
/// that read the docs' key lists.
#[cfg(test)]
pub(crate) fn is_key_name(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_lowercase())
        && word
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}
