//! `App`: the registry resolved against a config. Build it, then start it.
//!
//! [`App::build`] validates every registration against the config and builds singletons,
//! controllers and middleware, reporting all problems at once; [`App::start`] binds every
//! server (again reporting every address that fails) and returns a [`Running`] handle.

pub mod reload;
mod routes;
mod running;
mod singletons;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cluster::node::Timings;
use crate::cluster::{self, ClusterHandover, ClusterNode};
use crate::config::{BrokerAddr, Config, LiveConfig, ServerName};
use crate::context::AppContext;
use crate::di::{Resolver, Singletons};
use crate::engine::threads::IoThreads;
use crate::error::StartupError;
use crate::metrics::Metrics;
use crate::push::{Broker, InProcess, Sender};
use crate::registry::{validate, Registry};
use crate::server::admission;
use crate::server::listener::{Server, ServerStop};
use crate::server::Routes;
use crate::settings::SettingsStore;
pub use running::Running;

/// A built app: its context (config, singletons, settings, the `Sender`) and the routes of
/// each server.
#[derive(Clone, Debug)]
pub struct App {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The cluster this node joins at start (config `broker` other than `local`).
    cluster: Option<Arc<ClusterNode>>,
    ctx: Arc<AppContext>,
    routes: BTreeMap<ServerName, Arc<Routes>>,
}

impl App {
    /// Builds the app from what the linker registered.
    pub fn build(config: Config) -> Result<Self, StartupError> {
        Self::from_registry(Registry::linked(), config)
    }

    /// Builds the app from `registry`, with the broker that config `broker` names.
    pub fn from_registry(registry: Registry, config: Config) -> Result<Self, StartupError> {
        match &config.broker {
            BrokerAddr::Local => Self::with_broker(registry, config, Arc::new(InProcess)),
            BrokerAddr::Redis(_) => {
                let metrics = Metrics::new();
                let node = Arc::new(ClusterNode::new(
                    config.node_id,
                    &config.cluster,
                    Timings::default(),
                    metrics.broker().clone(),
                ));
                Self::assemble(registry, config, node.clone(), Some(node), metrics)
            }
        }
    }

    /// Builds the app from `registry` with a [`Broker`] that reaches the other nodes of a
    /// cluster (the default, [`InProcess`], is a single node).
    pub fn with_broker(
        registry: Registry,
        config: Config,
        broker: Arc<dyn Broker>,
    ) -> Result<Self, StartupError> {
        Self::assemble(registry, config, broker, None, Metrics::new())
    }

    fn assemble(
        registry: Registry,
        config: Config,
        broker: Arc<dyn Broker>,
        cluster: Option<Arc<ClusterNode>>,
        metrics: Metrics,
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
        let singletons = match singletons::plan(&registry) {
            Ok(order) => match singletons::build(registry.singletons, &order, inputs) {
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
        let routes = routes::build_all(&registry, &config, &resolver, &metrics)?;
        StartupError::collect(
            settings
                .unread(&config)
                .into_iter()
                .map(StartupError::from)
                .collect(),
        )?;
        let fd_limit = admission::soft_fd_limit();
        let mut metrics = metrics;
        metrics.served = config.metrics;
        let ctx = AppContext::new(
            live,
            singletons,
            settings,
            sender,
            fd_limit,
            Arc::new(metrics),
        );
        Ok(Self {
            inner: Arc::new(Inner {
                cluster,
                ctx: Arc::new(ctx),
                routes,
            }),
        })
    }

    /// The configuration in effect: the start-up one with what reloads applied (see
    /// [`Running::reload`]).
    pub fn config(&self) -> Arc<Config> {
        self.inner.ctx.config()
    }

    /// The handle for pushing to connections.
    pub fn sender(&self) -> &Sender {
        &self.inner.ctx.sender
    }

    /// The address server `name` listens on: the bound one once started (the real port when
    /// the config says 0), else the configured one.
    pub fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        self.inner.ctx.local_addr(name)
    }

    /// The singleton bound to `T`: a `#[singleton]` type, or a `dyn Trait` that one provides
    /// (`#[singleton(provides = dyn Trait)]`).
    pub fn singleton<T: ?Sized + Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.inner.ctx.singleton::<T>()
    }

    /// The context and the routes of server `name`, for a request sent without a socket
    /// (`ws_core::testing::oneshot`).
    #[cfg(feature = "testing")]
    pub(crate) fn server_parts(&self, name: &str) -> Option<(Arc<AppContext>, Arc<Routes>)> {
        let routes = self.inner.routes.get(name)?;
        Some((Arc::clone(&self.inner.ctx), Arc::clone(routes)))
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
        let config = self.config();
        if let Some(node) = &self.inner.cluster {
            if let BrokerAddr::Redis(url) = &config.broker {
                cluster::join(node, url, &config.cluster, self.sender())
                    .await
                    .map_err(|e| StartupError::Broker {
                        broker: config.broker.redacted(),
                        source_name: config.source_of("broker"),
                        reason: e.to_string(),
                    })?;
                tracing::info!(
                    "node {} joined cluster `{}` on {}",
                    config.node_id,
                    config.cluster,
                    config.broker.redacted()
                );
            }
        }
        let threads =
            match config.io_threads {
                0 => None,
                count => Some(IoThreads::start(count, &self.inner.ctx.metrics).map_err(
                    |source| StartupError::IoThreads {
                        count,
                        source_name: config.source_of("io_threads"),
                        source,
                    },
                )?),
            };
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        // The metrics server's accept loop and HTTP connections: they keep serving through a
        // stop's drain (`/readyz` answers 503) and end after it.
        let late = ServerStop {
            accept: CancellationToken::new(),
            conns: TaskTracker::new(),
            shutdown: shutdown.clone(),
            tracker: tracker.clone(),
        };
        let mut servers = Vec::new();
        let mut errors = Vec::new();
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
        if !self.inner.ctx.set_bound(addrs.clone()) {
            tracing::warn!(
                "App::start called twice on the same App; addresses are the first start's"
            );
        }
        let placer = threads.as_ref().map(IoThreads::placer);
        for (server, routes) in servers {
            let addr = server.local_addr;
            tracing::info!("{} listening at {}", server.name, routes.url(addr));
            for line in routes.describe() {
                tracing::debug!("{}: {line}", server.name);
            }
            let ctx = Arc::clone(&self.inner.ctx);
            let placer = placer.clone();
            if routes.ops {
                late.conns
                    .spawn(server.serve(ctx, routes, late.clone(), placer));
            } else {
                let stop = ServerStop::with_app(&shutdown, &tracker);
                tracker.spawn(server.serve(ctx, routes, stop, placer));
            }
        }
        Ok(Running::new(
            self.clone(),
            addrs,
            (shutdown, tracker),
            late,
            (listeners, threads),
        ))
    }
}

impl App {
    /// For the new process of a zero-downtime restart, before [`start_with`]: be the same
    /// node of the cluster as the process it replaces (from [`Running::hand_over_cluster`]).
    /// Returns whether the app is in a cluster (`false`: nothing to take over, `local`
    /// broker).
    ///
    /// [`start_with`]: App::start_with
    pub fn take_over_cluster(&self, handover: &ClusterHandover) -> bool {
        let Some(node) = &self.inner.cluster else {
            return false;
        };
        node.take_over(&handover.lease);
        self.sender().continue_seq_at(handover.next_seq);
        true
    }

    /// For the old process of a zero-downtime restart: what the new process needs to be the
    /// same node of the cluster; from now on a stop of this one leaves the node id's lease in
    /// place. `None` without a cluster.
    pub(crate) fn hand_over_cluster(&self) -> Option<ClusterHandover> {
        let node = self.inner.cluster.as_ref()?;
        Some(ClusterHandover {
            lease: node.hand_over(),
            next_seq: self.sender().next_seq().saturating_add(cluster::SEQ_GAP),
        })
    }

    /// Leaves the cluster, if the app joined one (a stop).
    pub(crate) async fn leave_cluster(&self) {
        if let Some(node) = &self.inner.cluster {
            node.stop().await;
        }
    }
}
