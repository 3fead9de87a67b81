//! Dependency injection: singletons built once at start-up, injected as `Inject<T>`.
//!
//! What a registration gets is said in its code, never guessed from a type's name:
//!
//! - a field of a `#[ws_controller]`, `#[singleton]` or `#[middleware]` struct marked
//!   `#[inject]` is filled with its type's [`FromResolver`] impl: [`Inject<T>`] (a shared
//!   singleton, or the singleton bound to `dyn Trait` by `#[singleton(provides = dyn Trait)]`),
//!   [`Settings<T>`](crate::Settings), [`Sender`], [`Config`] (the config at start-up) or
//!   [`LiveConfig`] (the config in effect, following reloads);
//! - a field marked `#[default]` is built with `Default::default()`, a value of its own;
//! - a struct marked `default` (`#[ws_controller(.., default)]`, `#[singleton(default)]`,
//!   `#[middleware(.., default)]`) is built by its own `Default` impl, hand-written or derived;
//! - a unit struct is itself; any other field is a compile error that says which to write.
//!
//! The parameters of a singleton's `fn new(..)`, the arguments of an `#[http_route]` after the
//! request and of a `#[ws_handler]` after the socket are all injected: their types implement
//! [`FromResolver`]. Everything is resolved once, at start-up; every dependency that no
//! singleton provides is reported before anything is built.
//!
//! ```
//! use ws_core::{singleton, ws_controller, Conn, Controller, HookResult, Inject, Sender};
//!
//! pub trait Repo: Send + Sync {
//!     fn name(&self) -> &'static str;
//! }
//!
//! /// Built with `Default`, injected as `Inject<Memory>` and as `Inject<dyn Repo>`.
//! #[singleton(default, provides = dyn Repo)]
//! #[derive(Default)]
//! pub struct Memory;
//! impl Repo for Memory {
//!     fn name(&self) -> &'static str {
//!         "memory"
//!     }
//! }
//!
//! #[ws_controller(server = "ws", path = "/repo")]
//! pub struct RepoName {
//!     #[inject]
//!     repo: Inject<dyn Repo>,
//!     #[inject]
//!     sender: Sender,
//!     #[default]
//!     greeting: String,
//! }
//!
//! impl Controller for RepoName {
//!     async fn on_open(&self, cx: &mut Conn) -> HookResult {
//!         cx.send(format!("{}{}", self.greeting, self.repo.name())).await?;
//!         Ok(())
//!     }
//! }
//! ```

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use crate::config::{Config, LiveConfig};
use crate::error::{Origin, StartupError};
use crate::push::Sender;
use crate::settings::{MiddlewareSettings, Settings, SettingsStore};

/// A shared handle to a singleton of type `T`: a type registered with `#[singleton]`, or a
/// trait object `dyn Trait` that a singleton provides (`#[singleton(provides = dyn Trait)]`).
///
/// An `#[inject]` field, a constructor parameter or a handler argument of this type is filled
/// in at start-up; start-up fails, naming the registration, if nothing provides `T`.
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

/// A built singleton with its type erased: a `Box` holding an `Arc<T>`, where `T` is the
/// singleton's type or a trait object it provides.
pub type ErasedSingleton = Box<dyn Any + Send + Sync>;

/// The built singletons, keyed by the type they are injected as.
#[derive(Default)]
pub(crate) struct Singletons {
    /// Each value is an `Arc<T>` for the key `TypeId::of::<T>()` (`T` may be `dyn Trait`).
    map: HashMap<TypeId, ErasedSingleton>,
}

impl fmt::Debug for Singletons {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Singletons({} bound)", self.map.len())
    }
}

impl Singletons {
    pub(crate) fn insert(&mut self, id: TypeId, value: ErasedSingleton) {
        self.map.insert(id, value);
    }

    pub(crate) fn get<T: ?Sized + 'static>(&self) -> Option<Arc<T>> {
        self.map
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref::<Arc<T>>())
            .cloned()
    }
}

/// What registrations are built from at start-up: the config, the singletons built so far and
/// the `Sender`.
#[derive(Debug, Clone, Copy)]
pub struct Resolver<'a> {
    pub(crate) config: &'a Config,
    pub(crate) live: &'a LiveConfig,
    pub(crate) singletons: &'a Singletons,
    pub(crate) sender: &'a Sender,
    pub(crate) settings: &'a SettingsStore,
}

impl Resolver<'_> {
    /// The config.
    pub fn config(&self) -> &Config {
        self.config
    }
    /// The singleton bound to `T` (a `#[singleton]` type or a provided `dyn Trait`), if any.
    pub fn singleton<T: ?Sized + Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.singletons.get::<T>()
    }
}

/// A dependency of a registration on a singleton type, recorded at compile time so that
/// start-up can check that something provides it, build singletons in dependency order and
/// explain cycles.
#[derive(Debug, Clone, Copy)]
pub struct Dep {
    /// The `TypeId` of the type injected (`T` of `Inject<T>`, possibly `dyn Trait`).
    pub type_id: fn() -> TypeId,
    /// Its type name, for messages.
    pub type_name: fn() -> &'static str,
}

/// A trait object a singleton is also injected as (`#[singleton(provides = dyn Trait)]`).
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// The `TypeId` of `dyn Trait`.
    pub type_id: fn() -> TypeId,
    /// Its type name, for messages.
    pub type_name: fn() -> &'static str,
    /// The built singleton (an `Arc<S>`) as an `Arc<dyn Trait>`, erased again; `None` if
    /// it is not the singleton's type (which generated code rules out).
    pub bind: fn(&(dyn Any + Send + Sync)) -> Option<ErasedSingleton>,
}

/// A value a registration can be given at start-up: the type of an `#[inject]` field, of a
/// singleton constructor's parameter, of an `#[http_route]` argument after the request or of a
/// `#[ws_handler]` argument after the socket.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be injected",
    label = "not injectable",
    note = "injectable: `Inject<T>` (T a #[singleton], or a `dyn Trait` that one provides), `Settings<T>`, `Sender`, `Config`, `LiveConfig`",
    note = "if `{Self}` is a #[singleton], inject `Inject<{Self}>` to share it",
    note = "a struct field with a value of its own takes `#[default]` (built with `Default::default()`) instead of `#[inject]`"
)]
pub trait FromResolver: Sized {
    /// The singleton this value depends on, if any.
    const DEPENDENCY: Option<Dep> = None;

    /// Builds the value; `origin` is the registration that asks, for the error message.
    fn from_resolver(r: &Resolver<'_>, origin: Origin) -> Result<Self, StartupError>;
}

impl<T: ?Sized + Send + Sync + 'static> FromResolver for Inject<T> {
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

/// A clone of the config as it was at start-up (a reload does not change it; inject
/// [`LiveConfig`] for the config in effect).
impl FromResolver for Config {
    fn from_resolver(r: &Resolver<'_>, _: Origin) -> Result<Self, StartupError> {
        Ok(r.config.clone())
    }
}

impl FromResolver for LiveConfig {
    fn from_resolver(r: &Resolver<'_>, _: Origin) -> Result<Self, StartupError> {
        Ok(r.live.clone())
    }
}

impl FromResolver for Sender {
    fn from_resolver(r: &Resolver<'_>, _: Origin) -> Result<Self, StartupError> {
        Ok(r.sender.clone())
    }
}

/// What a singleton's `fn new(..)` may return: `Self`, or `Result<Self, E>` with `E: Display`
/// (an error stops start-up with its text).
#[diagnostic::on_unimplemented(
    message = "a #[singleton] constructor returns `{T}` or `Result<{T}, E>`, not `{Self}`",
    label = "return `Self` or `Result<Self, E>` (E: Display)"
)]
pub trait ConstructorResult<T> {
    /// The value, or the error's text.
    fn into_result(self) -> Result<T, String>;
}

impl<T> ConstructorResult<T> for T {
    fn into_result(self) -> Result<T, String> {
        Ok(self)
    }
}

impl<T, E: fmt::Display> ConstructorResult<T> for Result<T, E> {
    fn into_result(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

impl<T: MiddlewareSettings> FromResolver for Settings<T> {
    fn from_resolver(r: &Resolver<'_>, origin: Origin) -> Result<Self, StartupError> {
        r.settings
            .slot::<T>(r.config, origin)
            .map_err(StartupError::from)
    }
}

/// Binds the built singleton `T` (an erased `Arc<T>`) to trait object `U`: `coerce` is the
/// unsizing `Arc<T> -> Arc<U>`, written out by the macro where both types are known.
pub fn provide<T: Send + Sync + 'static, U: ?Sized + Send + Sync + 'static>(
    built: &(dyn Any + Send + Sync),
    coerce: fn(Arc<T>) -> Arc<U>,
) -> Option<ErasedSingleton> {
    let value = built.downcast_ref::<Arc<T>>()?;
    Some(Box::new(coerce(Arc::clone(value))))
}

/// Erases a built singleton (as the `Arc<T>` it is injected as).
pub fn erase<T: Send + Sync + 'static>(t: T) -> ErasedSingleton {
    Box::new(Arc::new(t))
}
