//! Dependency injection: singletons built once at start-up, injected as `Inject<T>`.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use crate::config::Config;
use crate::error::{Origin, StartupError};
use crate::push::Sender;
use crate::settings::{MiddlewareSettings, Settings, SettingsStore};

/// A shared handle to a singleton of type `T` (registered with `#[singleton]`).
///
/// A controller field of this type is filled in at start-up; start-up fails, naming the
/// controller, if `T` is not registered.
pub struct Inject<T: ?Sized>(Arc<T>);

impl<T: ?Sized> Inject<T> {
    /// Wraps a shared value.
    pub fn new(value: Arc<T>) -> Self {
        Self(value)
    }
    /// The shared pointer.
    pub fn arc(&self) -> &Arc<T> {
        &self.0
    }
}

impl<T: ?Sized> Clone for Inject<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T: ?Sized> Deref for Inject<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Inject<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Inject").field(&self.0).finish()
    }
}

/// The built singletons, keyed by type.
#[derive(Default)]
pub(crate) struct Singletons {
    map: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl fmt::Debug for Singletons {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Singletons({} built)", self.map.len())
    }
}

impl Singletons {
    pub(crate) fn insert(&mut self, id: TypeId, value: Arc<dyn Any + Send + Sync>) {
        self.map.insert(id, value);
    }

    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.map
            .get(&TypeId::of::<T>())
            .and_then(|v| Arc::clone(v).downcast::<T>().ok())
    }
}

/// What registrations are built from at start-up: the config, the singletons built so far and
/// the `Sender`.
#[derive(Debug)]
pub struct Resolver<'a> {
    pub(crate) config: &'a Config,
    pub(crate) singletons: &'a Singletons,
    pub(crate) sender: &'a Sender,
    pub(crate) settings: &'a SettingsStore,
}

impl Resolver<'_> {
    /// The config.
    pub fn config(&self) -> &Config {
        self.config
    }
    /// The singleton of type `T`, if registered.
    pub fn singleton<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.singletons.get::<T>()
    }
}

/// A dependency of a registration on a singleton type, recorded at compile time so that
/// start-up can build singletons in dependency order and explain cycles.
#[derive(Debug, Clone, Copy)]
pub struct Dep {
    /// The singleton's `TypeId`.
    pub type_id: fn() -> TypeId,
    /// The singleton's type name, for messages.
    pub type_name: fn() -> &'static str,
}

/// A value a registered type's field (or a singleton constructor's parameter) can be filled
/// with at start-up.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be injected",
    label = "injectable: `Inject<T>` (T a #[singleton]), `Settings<T>`, `Sender`, `Config`",
    note = "in a #[ws_controller]/#[singleton] struct, fields of other types are built with `Default::default()`"
)]
pub trait FromResolver: Sized {
    /// The singleton this value depends on, if any.
    const DEPENDENCY: Option<Dep> = None;

    /// Builds the value; `origin` is the registration that asks, for the error message.
    fn from_resolver(r: &Resolver<'_>, origin: Origin) -> Result<Self, StartupError>;
}

impl<T: Send + Sync + 'static> FromResolver for Inject<T> {
    const DEPENDENCY: Option<Dep> = Some(Dep {
        type_id: TypeId::of::<T>,
        type_name: std::any::type_name::<T>,
    });

    fn from_resolver(r: &Resolver<'_>, origin: Origin) -> Result<Self, StartupError> {
        r.singleton::<T>()
            .map(Inject)
            .ok_or(StartupError::MissingSingleton {
                origin,
                singleton: std::any::type_name::<T>(),
            })
    }
}

impl FromResolver for Config {
    fn from_resolver(r: &Resolver<'_>, _: Origin) -> Result<Self, StartupError> {
        Ok(r.config.clone())
    }
}

impl FromResolver for Sender {
    fn from_resolver(r: &Resolver<'_>, _: Origin) -> Result<Self, StartupError> {
        Ok(r.sender.clone())
    }
}

impl<T: MiddlewareSettings> FromResolver for Settings<T> {
    fn from_resolver(r: &Resolver<'_>, origin: Origin) -> Result<Self, StartupError> {
        r.settings
            .slot::<T>(r.config, origin)
            .map_err(StartupError::from)
    }
}
