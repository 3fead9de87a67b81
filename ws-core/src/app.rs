//! `App`: the registry resolved against a config. Build it, then start it.
//!
//! [`App::build`] validates every registration against the config and builds singletons,
//! controllers and middleware, reporting all problems at once; [`App::start`] binds every
//! server (again reporting every address that fails) and returns a [`Running`] handle.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::broker::{Broker, InProcess};
use crate::config::{Config, ServerName};
use crate::di::{self, build_singletons, Resolver, Singletons};
use crate::error::{ConfigError, StartupError};
use crate::registry::{validate, Registry};
use crate::reload::ReloadReport;
use crate::sender::{Filter, Sender};
use crate::server::{Routes, Server};
use crate::settings::{LiveConfig, SettingsStore};
use crate::ws::close::CloseCode;

/// A built app: config, singletons, the `Sender`, and the routes of each server.
#[derive(Clone, Debug)]
pub struct App {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The config in effect: the start-up config with what reloads applied.
    config: LiveConfig,
    singletons: Singletons,
    settings: SettingsStore,
    sender: Sender,
    routes: BTreeMap<ServerName, Arc<Routes>>,
    /// The bound addresses, once started.
    bound: std::sync::OnceLock<BTreeMap<ServerName, SocketAddr>>,
}

impl App {
    /// Builds the app from what the linker registered.
    pub fn build(config: Config) -> Result<Self, StartupError> {
        Self::from_registry(Registry::linked(), config)
    }

    /// Builds the app from `registry`.
    pub fn from_registry(registry: Registry, config: Config) -> Result<Self, StartupError> {
        Self::with_broker(registry, config, Arc::new(InProcess))
    }

    /// Builds the app from `registry` with a [`Broker`] that reaches the other nodes of a
    /// cluster (the default, [`InProcess`], is a single node).
    pub fn with_broker(
        registry: Registry,
        config: Config,
        broker: Arc<dyn Broker>,
    ) -> Result<Self, StartupError> {
        // Every problem at once: registry x config, every registration's dependencies and the
        // singleton graph; then what building the singletons reports.
        let mut errors = validate::validate(&registry, &config);
        let sender = Sender::with_broker(config.node_id, broker);
        let settings = SettingsStore::default();
        let live = LiveConfig::new(config.clone());
        let empty = Singletons::default();
        let inputs = Resolver {
            config: &config,
            live: &live,
            singletons: &empty,
            sender: &sender,
            settings: &settings,
        };
        let singletons = match di::plan(&registry) {
            Ok(order) => match build_singletons(registry.singletons, &order, inputs) {
                Ok(s) => s,
                Err(e) => {
                    errors.push(e);
                    Singletons::default()
                }
            },
            Err(more) => {
                errors.extend(more);
                Singletons::default()
            }
        };
        StartupError::collect(errors)?;
        let resolver = Resolver {
            singletons: &singletons,
            ..inputs
        };
        let routes = Routes::build_all(&registry, &config, &resolver)?;
        StartupError::collect(
            settings
                .unread(&config)
                .into_iter()
                .map(StartupError::from)
                .collect(),
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                config: live,
                singletons,
                settings,
                sender,
                routes,
                bound: std::sync::OnceLock::new(),
            }),
        })
    }

    /// The configuration in effect: the start-up one with what reloads applied (see
    /// [`Running::reload`]).
    pub fn config(&self) -> Arc<Config> {
        self.inner.config.get()
    }

    /// The handle for pushing to connections.
    pub fn sender(&self) -> &Sender {
        &self.inner.sender
    }

    /// The address server `name` listens on: the bound one once started (the real port when
    /// the config says 0), else the configured one.
    pub fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        self.inner
            .bound
            .get()
            .and_then(|b| b.get(name).copied())
            .or_else(|| self.config().server(name).map(|s| s.addr()))
    }

    /// The singleton bound to `T`: a `#[singleton]` type, or a `dyn Trait` that one provides
    /// (`#[singleton(provides = dyn Trait)]`).
    pub fn singleton<T: ?Sized + Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.inner.singletons.get::<T>()
    }

    /// The routes of each server, for listings such as `routes`.
    pub fn routes(&self) -> impl Iterator<Item = (&ServerName, &Routes)> {
        self.inner.routes.iter().map(|(k, v)| (k, v.as_ref()))
    }

    /// Binds every server and starts serving. Every bind failure is reported, not just the
    /// first. Must be called inside a Tokio runtime.
    pub async fn start(&self) -> Result<Running, StartupError> {
        self.start_with(BTreeMap::new()).await
    }

    /// Starts serving on listening sockets handed over by the process this one replaces
    /// (see [`Running::listener`]), binding only the servers without one.
    ///
    /// A handed-over listener is used for the server of the same name when it is on the
    /// configured host and port (any port when the config says 0); otherwise it is closed and
    /// the server binds its configured address. Both processes accept from the same socket
    /// while they overlap, so no connection is refused.
    pub async fn start_with(
        &self,
        mut inherited: BTreeMap<ServerName, std::net::TcpListener>,
    ) -> Result<Running, StartupError> {
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let mut servers = Vec::new();
        let mut errors = Vec::new();
        let config = self.config();
        for (name, routes) in &self.inner.routes {
            let Some(settings) = config.servers.get(name) else {
                continue;
            };
            let handed = inherited.remove(name).filter(|l| {
                let fits = l.local_addr().is_ok_and(|a| {
                    a.ip() == settings.host && (settings.port == 0 || a.port() == settings.port)
                });
                if !fits {
                    tracing::info!(
                        "{name}: the handed-over listener is not on {}; binding anew",
                        settings.addr()
                    );
                }
                fits
            });
            let server = match handed {
                Some(listener) => Server::from_std(name, listener, &config),
                None => Server::bind(name, settings, &config).await,
            };
            match server {
                Ok(server) => servers.push((server, Arc::clone(routes))),
                Err(e) => errors.push(e),
            }
        }
        StartupError::collect(errors)?;
        let mut listeners = BTreeMap::new();
        for (server, _) in &servers {
            match server.try_clone_listener() {
                Ok(l) => {
                    listeners.insert(server.name.clone(), l);
                }
                Err(e) => tracing::warn!(
                    "{}: cannot keep a handle on the listener for a restart: {e}",
                    server.name
                ),
            }
        }
        let addrs: BTreeMap<_, _> = servers
            .iter()
            .map(|(s, _)| (s.name.clone(), s.local_addr))
            .collect();
        if self.inner.bound.set(addrs.clone()).is_err() {
            tracing::warn!(
                "App::start called twice on the same App; addresses are the first start's"
            );
        }
        for (server, routes) in servers {
            let addr = server.local_addr;
            tracing::info!("{} listening at ws://{addr}", server.name);
            for line in routes.describe() {
                tracing::debug!("{}: {line}", server.name);
            }
            tracker.spawn(server.serve(self.clone(), routes, shutdown.clone(), tracker.clone()));
        }
        Ok(Running {
            app: self.clone(),
            addrs,
            shutdown,
            tracker,
            listeners,
            reloading: std::sync::Mutex::new(()),
        })
    }
}

/// A started app: its bound addresses, and a graceful stop.
#[derive(Debug)]
pub struct Running {
    app: App,
    addrs: BTreeMap<ServerName, SocketAddr>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    /// Second handles on the listening sockets, for [`Running::listener`].
    listeners: BTreeMap<ServerName, std::net::TcpListener>,
    /// Held by a reload, so that two reloads do not interleave.
    reloading: std::sync::Mutex<()>,
}

impl Running {
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

    /// The config in effect: the start-up config with what reloads applied.
    pub fn config(&self) -> Arc<Config> {
        self.app.config()
    }

    /// Applies what can change without dropping a connection from `new` (a freshly loaded
    /// config) and reports every changed key with its [`Effect`](crate::reload::Effect); see
    /// [`reload`](crate::reload) for which keys apply live. New connections and requests use
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
        let prepared = inner.settings.prepare(new).map_err(ConfigError::many)?;
        let live = self.app.config();
        let (report, effective) = crate::reload::diff(&live, new);
        for (name, routes) in &inner.routes {
            if let Some(settings) = effective.servers.get(name) {
                if live.servers.get(name) != Some(settings) {
                    routes.set_settings(settings.clone());
                }
            }
        }
        prepared.apply();
        inner.config.set(effective);
        Ok(report)
    }

    /// Stops gracefully: stops accepting, sends close 1001 to every WebSocket client, lets
    /// in-flight HTTP requests and close handshakes finish for up to `drain_timeout`.
    /// Returns whether everything finished in time.
    pub async fn shutdown(self) -> bool {
        self.shutdown_with(CloseCode::GOING_AWAY).await
    }

    /// [`shutdown`](Self::shutdown) with another close code for the WebSocket clients:
    /// [`CloseCode::RESTART`] (1012) when a new process has taken over the listeners, so that
    /// clients reconnect at once.
    pub async fn shutdown_with(mut self, code: CloseCode) -> bool {
        self.app.sender().set_shutdown_code(code);
        // Cancel first: a connection registering from now on closes itself.
        self.shutdown.cancel();
        let reason = crate::ws::connection::shutdown_reason(code);
        self.app
            .sender()
            .disconnect_all(&Filter::all(), code, reason)
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
        done
    }
}
