//! The application context: what an app shares with every request and connection once it is
//! built: the config in effect, the singletons, the middleware settings, the push hub
//! ([`Sender`]) and the bound addresses. An HTTP [`Request`](crate::http::Request) holds it;
//! the [`App`](crate::App) owns it beside its routes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use crate::config::{Config, ServerName};
use crate::di::{FromResolver, Resolver, Singletons};
use crate::error::{Origin, StartupError};
use crate::push::Sender;
use crate::settings::SettingsStore;

/// See the module docs.
#[derive(Debug)]
pub(crate) struct AppContext {
    /// The config in effect: the start-up config with what reloads applied.
    config: RwLock<Arc<Config>>,
    pub(crate) singletons: Singletons,
    pub(crate) settings: SettingsStore,
    pub(crate) sender: Sender,
    /// The bound addresses, once started.
    bound: OnceLock<BTreeMap<ServerName, SocketAddr>>,
}

impl AppContext {
    pub(crate) fn new(
        config: Config,
        singletons: Singletons,
        settings: SettingsStore,
        sender: Sender,
    ) -> Self {
        Self {
            config: RwLock::new(Arc::new(config)),
            singletons,
            settings,
            sender,
            bound: OnceLock::new(),
        }
    }

    /// The config in effect.
    pub(crate) fn config(&self) -> Arc<Config> {
        // Replacing an `Arc` cannot leave it half-written, so a poisoned lock is still sound.
        Arc::clone(&self.config.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the config in effect (a reload).
    pub(crate) fn set_config(&self, config: Config) {
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(config);
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

    /// A registered singleton.
    pub(crate) fn singleton<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.singletons.get::<T>()
    }

    /// Builds an injectable value (`Inject<T>`, `Sender`, `Config`, `Settings<T>`).
    pub(crate) fn inject<T: FromResolver>(&self, origin: Origin) -> Result<T, StartupError> {
        let config = self.config();
        T::from_resolver(&self.resolver(&config), origin)
    }

    /// What registrations are built from, with `config`.
    pub(crate) fn resolver<'a>(&'a self, config: &'a Config) -> Resolver<'a> {
        Resolver {
            config,
            singletons: &self.singletons,
            sender: &self.sender,
            settings: &self.settings,
        }
    }
}
