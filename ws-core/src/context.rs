//! The application context: what an app shares with every request and connection once it is
//! built: the config in effect, the singletons, the middleware settings, the push hub
//! ([`Sender`]), the bound addresses and the count of sockets held (for `fd_reserve`). An HTTP [`Request`](crate::http::Request) holds it;
//! the [`App`](crate::App) owns it beside its routes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, OnceLock};

use crate::config::{Config, LiveConfig, ServerName};
use crate::di::Singletons;
use crate::metrics::Metrics;
use crate::push::Sender;
use crate::settings::SettingsStore;

/// See the module docs.
#[derive(Debug)]
pub(crate) struct AppContext {
    /// The config in effect: the start-up config with what reloads applied (shared with every
    /// injected [`LiveConfig`]).
    pub(crate) live: LiveConfig,
    pub(crate) singletons: Singletons,
    pub(crate) settings: SettingsStore,
    pub(crate) sender: Sender,
    /// The bound addresses, once started.
    bound: OnceLock<BTreeMap<ServerName, SocketAddr>>,
    /// Sockets the servers hold: accepted TCP connections and WebSocket connections (see
    /// `server::admission`).
    pub(crate) sockets_held: AtomicUsize,
    /// The soft `RLIMIT_NOFILE` read when the app was built; `None` where there is none.
    pub(crate) fd_limit: Option<usize>,
    /// Whether handshakes are being refused for want of file descriptors (so that the
    /// warning is logged once each time it begins).
    pub(crate) fds_short: AtomicBool,
    /// The app's metrics, served by `GET /metrics`.
    pub(crate) metrics: Arc<Metrics>,
    /// Set when a graceful stop or a restart's hand-over begins: `GET /readyz` answers 503.
    pub(crate) stopping: AtomicBool,
}

impl AppContext {
    pub(crate) fn new(
        live: LiveConfig,
        singletons: Singletons,
        settings: SettingsStore,
        sender: Sender,
        fd_limit: Option<usize>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            live,
            singletons,
            settings,
            sender,
            bound: OnceLock::new(),
            sockets_held: AtomicUsize::new(0),
            fd_limit,
            fds_short: AtomicBool::new(false),
            metrics,
            stopping: AtomicBool::new(false),
        }
    }

    /// The config in effect.
    pub(crate) fn config(&self) -> Arc<Config> {
        self.live.get()
    }

    /// Records the bound addresses; `false` if they were recorded already.
    pub(crate) fn set_bound(&self, addrs: BTreeMap<ServerName, SocketAddr>) -> bool {
        self.bound.set(addrs).is_ok()
    }

    /// The address server `name` listens on: the bound one once started (the real port when
    /// the config says 0), else the configured one.
    pub(crate) fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        self.bound
            .get()
            .and_then(|b| b.get(name).copied())
            .or_else(|| self.config().server(name).map(|s| s.addr()))
    }

    /// The singleton bound to `T`: a `#[singleton]` type, or a `dyn Trait` one provides.
    pub(crate) fn singleton<T: ?Sized + Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.singletons.get::<T>()
    }
}
