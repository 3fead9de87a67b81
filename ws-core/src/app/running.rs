//! [`Running`]: a started app, with its bound addresses, live reload and graceful stop.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::reload::ReloadReport;
use super::App;
use crate::cluster::ClusterHandover;
use crate::config::{Config, ServerName};
use crate::engine::driver::shutdown_reason;
use crate::engine::threads::IoThreads;
use crate::error::ConfigError;
use crate::protocol::close::CloseCode;
use crate::push::Filter;
use crate::server::listener::ServerStop;

/// How long the metrics server's connections have to finish once the drain has ended.
const METRICS_GRACE: Duration = Duration::from_secs(1);

/// A started app: its bound addresses, and a graceful stop.
#[derive(Debug)]
pub struct Running {
    app: App,
    addrs: BTreeMap<ServerName, SocketAddr>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    /// The metrics server's: it stops after the drain.
    late: ServerStop,
    /// Second handles on the listening sockets, for [`Running::listener`].
    listeners: BTreeMap<ServerName, std::net::TcpListener>,
    /// The I/O threads (`io_threads`): they stop when this is dropped, after the drain.
    threads: Option<IoThreads>,
    /// Held by a reload, so that two reloads do not interleave.
    reloading: Mutex<()>,
}

impl Running {
    pub(super) fn new(
        app: App,
        addrs: BTreeMap<ServerName, SocketAddr>,
        (shutdown, tracker): (CancellationToken, TaskTracker),
        late: ServerStop,
        (listeners, threads): (
            BTreeMap<ServerName, std::net::TcpListener>,
            Option<IoThreads>,
        ),
    ) -> Self {
        Self {
            app,
            addrs,
            shutdown,
            tracker,
            late,
            listeners,
            threads,
            reloading: Mutex::new(()),
        }
    }

    /// The address server `name` listens on (with the real port when the config said 0).
    pub fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        self.addrs.get(name).copied()
    }

    /// Every server's address.
    pub fn addrs(&self) -> &BTreeMap<ServerName, SocketAddr> {
        &self.addrs
    }

    /// The app.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The listening socket of server `name` (a second handle on it: the same socket and
    /// accept queue), to hand over to the process that replaces this one, which passes it to
    /// [`App::start_with`].
    pub fn listener(&self, name: &str) -> Option<&std::net::TcpListener> {
        self.listeners.get(name)
    }

    /// The URL of server `name` (`wss://ADDR`, `https://ADDR`, `ws://ADDR` or `http://ADDR`,
    /// see [`Routes::url`](crate::Routes::url)).
    pub fn url(&self, name: &str) -> Option<String> {
        let addr = self.local_addr(name)?;
        let routes = self.app.inner.routes.get(name)?;
        Some(routes.url(addr))
    }

    /// The config in effect: the start-up config with what reloads applied.
    pub fn config(&self) -> Arc<Config> {
        self.app.config()
    }

    /// Applies what can change without dropping a connection from `new` (a freshly loaded
    /// config) and reports every changed key with its [`Effect`](super::reload::Effect); see
    /// [`reload`](super::reload) for which keys apply live. New connections and requests use
    /// the new settings; open connections keep their per-server limits and timeouts.
    ///
    /// A `[middleware.NAME]` table of `new` that does not fit its type (or that nothing
    /// reads) fails the reload: nothing is applied and the config in effect stays.
    pub fn reload(&self, new: &Config) -> Result<ReloadReport, ConfigError> {
        let _one_at_a_time = self
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let inner = &self.app.inner;
        let prepared = inner.ctx.settings.prepare(new).map_err(ConfigError::many)?;
        let live = self.app.config();
        let (mut report, effective) = super::reload::diff(&live, new);
        // Certificate and key files are read again whether or not their paths changed
        // (rotation replaces the files); one pair that does not load fails the whole reload.
        let mut tls = Vec::new();
        let mut problems = Vec::new();
        for name in inner.routes.keys() {
            if let Some(settings) = effective.servers.get(name) {
                match crate::server::tls::load(name.as_str(), settings, &effective) {
                    Ok(config) => {
                        if let (Some(cert), Some(key), Some(_)) =
                            (&settings.tls_cert, &settings.tls_key, &config)
                        {
                            report.certificates.push(format!(
                                "servers.{name}: certificate {} and key {} read again",
                                cert.display(),
                                key.display()
                            ));
                        }
                        tls.push((name, config));
                    }
                    Err(more) => problems.extend(more),
                }
            }
        }
        if !problems.is_empty() {
            return Err(ConfigError::many(problems));
        }
        for (name, config) in tls {
            if let Some(routes) = inner.routes.get(name) {
                routes.tls.set(config);
            }
        }
        for (name, routes) in &inner.routes {
            if let Some(settings) = effective.servers.get(name) {
                if live.servers.get(name) != Some(settings) {
                    routes.set_settings(settings.clone());
                }
            }
        }
        prepared.apply();
        inner.ctx.live.set(effective);
        Ok(report)
    }

    /// Stops gracefully: stops accepting, sends close 1001 to every WebSocket client, lets
    /// in-flight HTTP requests and close handshakes finish for up to `drain_timeout`.
    /// Returns whether everything finished in time.
    ///
    /// `GET /readyz` answers 503 from the start; the metrics server (config
    /// `metrics_server`) keeps accepting and answering until the drain ends, the others stop
    /// accepting at once.
    pub async fn shutdown(self) -> bool {
        self.shutdown_with(CloseCode::GOING_AWAY).await
    }

    /// For a zero-downtime restart with a networked broker: what the new process passes to
    /// [`App::take_over_cluster`] to be this same node of the cluster (the node id's lease,
    /// and connection ids past this process's). From then on this process's stop leaves the
    /// lease to the new one. `None` with the `local` broker.
    pub fn hand_over_cluster(&self) -> Option<ClusterHandover> {
        self.app.hand_over_cluster()
    }

    /// [`shutdown`](Self::shutdown) with another close code for the WebSocket clients:
    /// [`CloseCode::RESTART`] (1012) when a new process has taken over the listeners, so that
    /// clients reconnect at once. With 1012 the metrics server stops accepting at once too
    /// (the new process serves its port).
    pub async fn shutdown_with(mut self, code: CloseCode) -> bool {
        self.app.inner.ctx.stopping.store(true, Ordering::Release);
        if code == CloseCode::RESTART {
            self.late.accept.cancel();
        }
        self.app.sender().set_shutdown_code(code);
        // Cancel first: a connection registering from now on closes itself.
        self.shutdown.cancel();
        let reason = shutdown_reason(code);
        // This node's connections only: the others of a cluster go on.
        self.app
            .sender()
            .disconnect_local(&Filter::all(), code, reason)
            .await;
        // Our handles on the listening sockets: once the accept loops end too, a stop refuses
        // new connections (after a hand-over the new process holds its own).
        self.listeners.clear();
        let open = self.app.sender().count(&Filter::all());
        tracing::info!("stopping: closing {open} WebSocket connection(s) with {code}");
        self.tracker.close();
        let drain = self.config().drain_timeout;
        let done = tokio::time::timeout(drain, self.tracker.wait())
            .await
            .is_ok();
        if !done {
            tracing::warn!("drain timeout of {drain:?} reached; dropping remaining connections");
        }
        // The metrics server last: its requests under way get a moment to finish.
        self.late.accept.cancel();
        self.late.conns.close();
        if tokio::time::timeout(METRICS_GRACE, self.late.conns.wait())
            .await
            .is_err()
        {
            tracing::debug!(
                "the metrics server's connections did not end within {METRICS_GRACE:?}"
            );
        }
        self.app.leave_cluster().await;
        // Whatever is still on the I/O threads (connections past the drain) is dropped.
        self.threads.take();
        done
    }
}
