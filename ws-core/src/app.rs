//! `App`: the registry resolved against a config. Build it, then start it.
//!
//! [`App::build`] validates every registration against the config and builds singletons,
//! controllers and middleware, reporting all problems at once; [`App::start`] binds every
//! server (again reporting every address that fails) and returns a [`Running`] handle.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, ServerName};
use crate::di::{build_singletons, Resolver, Singletons};
use crate::error::StartupError;
use crate::registry::{validate, Registry};
use crate::sender::{Filter, Sender};
use crate::server::{Routes, Server};
use crate::ws::close::CloseCode;

/// A built app: config, singletons, the `Sender`, and the routes of each server.
#[derive(Clone, Debug)]
pub struct App {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    singletons: Singletons,
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
        validate::validate(&registry, &config)?;
        let sender = Sender::new(config.node_id);
        let singletons = build_singletons(registry.singletons, &config, &sender)?;
        let resolver = Resolver {
            config: &config,
            singletons: &singletons,
            sender: &sender,
        };
        let routes = Routes::build_all(&registry, &config, &resolver)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                singletons,
                sender,
                routes,
                bound: std::sync::OnceLock::new(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
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
            .or_else(|| self.inner.config.server(name).map(|s| s.addr()))
    }

    /// A registered singleton.
    pub fn singleton<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.inner.singletons.get::<T>()
    }

    /// The routes of each server, for listings such as `routes`.
    pub fn routes(&self) -> impl Iterator<Item = (&ServerName, &Routes)> {
        self.inner.routes.iter().map(|(k, v)| (k, v.as_ref()))
    }

    /// Binds every server and starts serving. Every bind failure is reported, not just the
    /// first. Must be called inside a Tokio runtime.
    pub async fn start(&self) -> Result<Running, StartupError> {
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let mut servers = Vec::new();
        let mut errors = Vec::new();
        for (name, routes) in &self.inner.routes {
            let Some(settings) = self.inner.config.servers.get(name) else {
                continue;
            };
            match Server::bind(name, settings, &self.inner.config).await {
                Ok(server) => servers.push((server, Arc::clone(routes))),
                Err(e) => errors.push(e),
            }
        }
        StartupError::collect(errors)?;
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

    /// Stops gracefully: stops accepting, sends close 1001 to every WebSocket client, lets
    /// in-flight HTTP requests and close handshakes finish for up to `drain_timeout`.
    /// Returns whether everything finished in time.
    pub async fn shutdown(self) -> bool {
        self.shutdown.cancel();
        let open = self.app.sender().count(&Filter::all());
        tracing::info!(
            "stopping: closing {open} WebSocket connection(s) with {}",
            CloseCode::GOING_AWAY
        );
        self.tracker.close();
        let drain = self.app.config().drain_timeout;
        let done = tokio::time::timeout(drain, self.tracker.wait())
            .await
            .is_ok();
        if !done {
            tracing::warn!("drain timeout of {drain:?} reached; dropping remaining connections");
        }
        done
    }
}
