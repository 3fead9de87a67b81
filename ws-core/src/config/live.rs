//! [`LiveConfig`]: the config in effect, shared by the app and whoever injects it.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use super::Config;

/// The config in effect: the start-up config with what reloads applied (see
/// `Running::reload`), shared with the app. Injected like [`Settings<T>`](crate::Settings);
/// cheap to clone.
///
/// ```
/// use ws_core::http::Request;
/// use ws_core::{http_route, LiveConfig};
///
/// #[http_route(server = "http", path = "/level")]
/// async fn level(_req: Request, config: LiveConfig) -> String {
///     config.get().log_level.clone()
/// }
/// ```
#[derive(Clone)]
pub struct LiveConfig(Arc<RwLock<Arc<Config>>>);

impl LiveConfig {
    pub(crate) fn new(config: Config) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(config))))
    }

    /// The config in effect now. Hold the returned value for one request, not longer: a
    /// reload replaces it.
    pub fn get(&self) -> Arc<Config> {
        // Replacing an `Arc` cannot leave it half-written, so a poisoned lock is still sound.
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts `config` in effect.
    pub(crate) fn set(&self, config: Config) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(config);
    }
}

impl fmt::Debug for LiveConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LiveConfig").field(&self.get()).finish()
    }
}
