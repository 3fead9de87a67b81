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

use crate::config::Config;
use crate::error::{Origin, StartupError};
use crate::registry::{Registry, SingletonDef};
use crate::sender::Sender;
use crate::settings::{LiveConfig, SettingsStore};

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
    fn insert(&mut self, id: TypeId, value: ErasedSingleton) {
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

/// What the singletons of a registry bind: each injected type, to the index of the singleton
/// that provides it.
struct Bindings {
    index: HashMap<TypeId, usize>,
}

impl Bindings {
    /// Every type each singleton is injected as; two singletons of one type, or two providing
    /// one `dyn Trait`, are errors.
    fn of(defs: &[SingletonDef], errors: &mut Vec<StartupError>) -> Self {
        let mut index: HashMap<TypeId, usize> = HashMap::new();
        for (i, d) in defs.iter().enumerate() {
            if let Some(&first) = index.get(&(d.type_id)()) {
                errors.push(StartupError::DuplicateSingleton {
                    first: defs[first].origin,
                    second: d.origin,
                });
                continue;
            }
            index.insert((d.type_id)(), i);
            for b in d.provides {
                match index.get(&(b.type_id)()) {
                    Some(&first) => errors.push(StartupError::DuplicateBinding {
                        binding: (b.type_name)(),
                        first: defs[first].origin,
                        second: d.origin,
                    }),
                    None => {
                        index.insert((b.type_id)(), i);
                    }
                }
            }
        }
        Self { index }
    }

    fn get(&self, dep: &Dep) -> Option<usize> {
        self.index.get(&(dep.type_id)()).copied()
    }
}

/// Checks the dependencies of every registration (singletons, controllers, handlers,
/// middleware, HTTP routes) against what the singletons provide, reporting every missing one
/// of every registration; then orders the singletons so that each is built after what it
/// injects, reporting cycles with the chain spelled out.
pub(crate) fn plan(registry: &Registry) -> Result<Vec<usize>, Vec<StartupError>> {
    let defs = registry.singletons;
    let mut errors = Vec::new();
    let bindings = Bindings::of(defs, &mut errors);

    let registrations = defs
        .iter()
        .map(|d| (d.origin, d.deps))
        .chain(registry.controllers.iter().map(|d| (d.origin, d.deps)))
        .chain(registry.middleware.iter().map(|d| (d.origin, d.deps)))
        .chain(registry.http_routes.iter().map(|d| (d.origin, d.deps)));
    for (origin, deps) in registrations {
        let mut seen = Vec::new();
        for dep in deps.iter().flatten() {
            let id = (dep.type_id)();
            if bindings.get(dep).is_none() && !seen.contains(&id) {
                seen.push(id);
                errors.push(StartupError::MissingSingleton {
                    origin,
                    singleton: (dep.type_name)(),
                });
            }
        }
    }

    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Visiting,
        Done,
    }
    struct Walk<'a> {
        defs: &'a [SingletonDef],
        bindings: &'a Bindings,
        state: Vec<State>,
        stack: Vec<usize>,
        order: Vec<usize>,
        errors: &'a mut Vec<StartupError>,
    }
    impl Walk<'_> {
        // Iterative DFS would obscure the chain; graphs are small, so recurse.
        fn visit(&mut self, i: usize) {
            match self.state[i] {
                State::Done => return,
                State::Visiting => {
                    let start = self.stack.iter().position(|&s| s == i).unwrap_or(0);
                    let mut chain: Vec<&str> = self.stack[start..]
                        .iter()
                        .map(|&s| self.defs[s].origin.name)
                        .collect();
                    chain.push(self.defs[i].origin.name);
                    self.errors.push(StartupError::SingletonCycle {
                        chain: chain.join(" -> "),
                    });
                    return;
                }
                State::New => {}
            }
            self.state[i] = State::Visiting;
            self.stack.push(i);
            let deps = self.defs[i].deps.iter().flatten();
            for j in deps.filter_map(|dep| self.bindings.get(dep)) {
                self.visit(j);
            }
            self.stack.pop();
            self.state[i] = State::Done;
            self.order.push(i);
        }
    }
    let mut walk = Walk {
        defs,
        bindings: &bindings,
        state: vec![State::New; defs.len()],
        stack: Vec::new(),
        order: Vec::with_capacity(defs.len()),
        errors: &mut errors,
    };
    // In registration order, so that reports are stable; a duplicate is never visited.
    for (i, def) in defs.iter().enumerate() {
        if bindings.index.get(&(def.type_id)()) == Some(&i) {
            walk.visit(i);
        }
    }
    let order = walk.order;
    if errors.is_empty() {
        Ok(order)
    } else {
        Err(errors)
    }
}

/// Builds the singletons in `order` (from [`plan`]), binding each under its own type and under
/// every trait object it provides. `inputs` gives the config, `Sender` and settings.
pub(crate) fn build_singletons(
    defs: &[SingletonDef],
    order: &[usize],
    inputs: Resolver<'_>,
) -> Result<Singletons, StartupError> {
    let mut singletons = Singletons::default();
    let mut errors = Vec::new();
    for &i in order {
        let def = &defs[i];
        let resolver = Resolver {
            singletons: &singletons,
            ..inputs
        };
        match (def.build)(&resolver) {
            Ok(value) => {
                for b in def.provides {
                    match (b.bind)(&*value) {
                        Some(bound) => singletons.insert((b.type_id)(), bound),
                        None => errors.push(StartupError::SingletonFailed {
                            origin: def.origin,
                            message: format!("internal: cannot bind it to `{}`", (b.type_name)()),
                        }),
                    }
                }
                singletons.insert((def.type_id)(), value);
            }
            Err(e) => errors.push(e),
        }
    }
    StartupError::collect(errors)?;
    Ok(singletons)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::__private::{provide, singleton};

    trait Shape: Send + Sync {}
    struct Square;
    struct Circle;
    impl Shape for Square {}
    impl Shape for Circle {}

    const fn origin(name: &'static str) -> Origin {
        Origin {
            name,
            file: "di.rs",
            line: 1,
        }
    }

    const SHAPE: Binding = Binding {
        type_id: TypeId::of::<dyn Shape>,
        type_name: std::any::type_name::<dyn Shape>,
        bind: |v| provide::<Square, dyn Shape>(v, |s| s),
    };
    const CIRCLE_SHAPE: Binding = Binding {
        bind: |v| provide::<Circle, dyn Shape>(v, |s| s),
        ..SHAPE
    };
    const NEEDS_SHAPE: &[Option<Dep>] = &[<Inject<dyn Shape> as FromResolver>::DEPENDENCY];

    static TWO_PROVIDERS: [SingletonDef; 2] = [
        SingletonDef {
            origin: origin("Square"),
            type_id: TypeId::of::<Square>,
            provides: &[SHAPE],
            deps: &[],
            build: |_| Ok(singleton(Square)),
        },
        SingletonDef {
            origin: origin("Circle"),
            type_id: TypeId::of::<Circle>,
            provides: &[CIRCLE_SHAPE],
            deps: &[],
            build: |_| Ok(singleton(Circle)),
        },
    ];

    static SELF_CYCLE: [SingletonDef; 1] = [SingletonDef {
        origin: origin("Square"),
        type_id: TypeId::of::<Square>,
        provides: &[SHAPE],
        deps: NEEDS_SHAPE,
        build: |_| Ok(singleton(Square)),
    }];

    fn registry(singletons: &'static [SingletonDef]) -> Registry {
        Registry {
            controllers: &[],
            singletons,
            middleware: &[],
            http_routes: &[],
        }
    }

    #[test]
    fn two_providers_of_one_trait_object_are_refused() {
        let errors = plan(&registry(&TWO_PROVIDERS)).unwrap_err();
        assert_eq!(errors.len(), 1);
        let text = errors[0].to_string();
        assert!(
            text.starts_with("`dyn ws_core::di::tests::Shape` is provided by two singletons"),
            "{text}"
        );
        assert!(
            text.contains("`Square`") && text.contains("`Circle`"),
            "{text}"
        );
    }

    #[test]
    fn depending_on_what_one_provides_is_a_cycle() {
        let errors = plan(&registry(&SELF_CYCLE)).unwrap_err();
        let text = errors[0].to_string();
        assert!(text.contains("cycle: Square -> Square"), "{text}");
    }

    #[test]
    fn a_singleton_is_bound_under_its_type_and_what_it_provides() {
        let defs: &'static [SingletonDef] = &TWO_PROVIDERS[..1];
        let order = plan(&registry(defs)).unwrap();
        let config = Config::embedded().unwrap();
        let live = LiveConfig::new(config.clone());
        let sender = Sender::with_broker(0, Arc::new(crate::broker::InProcess));
        let settings = SettingsStore::default();
        let empty = Singletons::default();
        let inputs = Resolver {
            config: &config,
            live: &live,
            singletons: &empty,
            sender: &sender,
            settings: &settings,
        };
        let built = build_singletons(defs, &order, inputs).unwrap();
        let square = built.get::<Square>().unwrap();
        let shape = built.get::<dyn Shape>().unwrap();
        assert!(std::ptr::eq(
            Arc::as_ptr(&square).cast::<()>(),
            Arc::as_ptr(&shape).cast::<()>()
        ));
        assert!(built.get::<Circle>().is_none());
    }
}
