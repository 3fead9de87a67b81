//! The link-time registry: what `#[ws_controller]`, `#[singleton]`, `#[middleware]`,
//! `#[http_route]` and `#[http_fallback]` register.
//!
//! # How registration works
//!
//! Each attribute expands to a `static` record placed in a [`linkme`] distributed slice. The
//! linker gathers the records of every linked crate into one contiguous slice, so the registry
//! is immutable data that exists before `main` runs, with no code executed before `main`
//! (unlike `inventory`, which runs constructors at load time). We chose `linkme` for that
//! reason and because its records are `const`: fn pointers, `&'static str` paths, and
//! `file!()`/`line!()` of the attribute for error messages.
//!
//! # Linking rule
//!
//! A crate is only linked if the binary uses it. Registrations in a library crate that the
//! binary never names are dropped by the linker, silently. If your controllers live in their
//! own crate, name it once in the binary:
//!
//! ```text
//! use my_controllers as _;
//! fn main() { ws_cli::main() }
//! ```
//!
//! Start-up logs a warning when the registry is empty.
//!
//! # Platforms
//!
//! `linkme` supports Linux, macOS, iOS, Windows, FreeBSD, OpenBSD, illumos, Android and
//! WebAssembly (its README lists the linkers); those are ours too.

pub(crate) mod validate;

use std::any::TypeId;
use std::sync::Arc;

use linkme::distributed_slice;

use crate::di::{Binding, Dep, ErasedSingleton, Resolver};
use crate::error::{Origin, StartupError};
use crate::http::{HttpFallback, HttpHandler};
use crate::middleware::ErasedMiddlewareHandle;
use crate::server::driver::ErasedControllerHandle;

/// Builds a registered value at start-up.
pub type BuildFn<T> = fn(&Resolver<'_>) -> Result<T, StartupError>;

/// A `#[ws_controller]` registration.
#[derive(Debug)]
pub struct ControllerDef {
    /// The controller type and where it was registered.
    pub origin: Origin,
    /// The server (config name).
    pub server: &'static str,
    /// The route path.
    pub path: &'static str,
    /// Subprotocols it speaks, in preference order.
    pub protocols: &'static [&'static str],
    /// Whether a client must agree on one of `protocols`.
    pub protocol_required: bool,
    /// permessage-deflate on this route even when the server's `compression` is off.
    pub compression: bool,
    /// The singletons its `#[inject]` fields (or a handler's arguments) need (`None` entries
    /// are other injected values).
    pub deps: &'static [Option<Dep>],
    #[doc(hidden)]
    pub build: BuildFn<Arc<dyn ErasedControllerHandle>>,
}

/// A `#[singleton]` registration.
#[derive(Debug)]
pub struct SingletonDef {
    /// The singleton type and where it was registered.
    pub origin: Origin,
    #[doc(hidden)]
    pub type_id: fn() -> TypeId,
    /// The trait objects it is also injected as (`#[singleton(provides = dyn Trait)]`).
    pub provides: &'static [Binding],
    /// The singletons it needs built first (`None` entries are non-singleton inputs).
    pub deps: &'static [Option<Dep>],
    #[doc(hidden)]
    pub build: BuildFn<ErasedSingleton>,
}

/// A `#[middleware]` registration.
#[derive(Debug)]
pub struct MiddlewareDef {
    /// The middleware type and where it was registered.
    pub origin: Origin,
    /// The server it runs on; `None` for `#[middleware(global)]` (every server).
    pub server: Option<&'static str>,
    /// Lower runs first.
    pub priority: i32,
    /// The route paths it guards (`paths = [..]`); empty runs it on every request of its
    /// server.
    pub paths: &'static [&'static str],
    /// The singletons its `#[inject]` fields need.
    pub deps: &'static [Option<Dep>],
    #[doc(hidden)]
    pub build: BuildFn<Arc<dyn ErasedMiddlewareHandle>>,
}

/// An `#[http_route]` registration.
#[derive(Debug)]
pub struct HttpRouteDef {
    /// The handler function and where it was registered.
    pub origin: Origin,
    /// The server.
    pub server: &'static str,
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The path.
    pub path: &'static str,
    /// The singletons its arguments inject (checked at start-up).
    pub deps: &'static [Option<Dep>],
    /// Resolves every injected argument once at start-up and returns the handler that the
    /// server calls per request with them.
    #[doc(hidden)]
    pub build: BuildFn<HttpHandler>,
}

/// An `#[http_fallback]` registration: the tower service (an axum `Router`) that answers the
/// requests of a server that no route of its takes.
#[derive(Debug)]
pub struct HttpFallbackDef {
    /// The function that builds the service, and where it was registered.
    pub origin: Origin,
    /// The server.
    pub server: &'static str,
    /// The singletons its arguments inject (checked at start-up).
    pub deps: &'static [Option<Dep>],
    /// Resolves the injected arguments and calls the function, once at start-up.
    #[doc(hidden)]
    pub build: BuildFn<HttpFallback>,
}

/// Every `#[ws_controller]` in the linked crates.
#[distributed_slice]
pub static CONTROLLERS: [ControllerDef];

/// Every `#[singleton]` in the linked crates.
#[distributed_slice]
pub static SINGLETONS: [SingletonDef];

/// Every `#[middleware]` in the linked crates.
#[distributed_slice]
pub static MIDDLEWARE: [MiddlewareDef];

/// Every `#[http_route]` in the linked crates.
#[distributed_slice]
pub static HTTP_ROUTES: [HttpRouteDef];

/// Every `#[http_fallback]` in the linked crates.
#[distributed_slice]
pub static HTTP_FALLBACKS: [HttpFallbackDef];

/// All registrations, as one value (tests can build their own).
#[derive(Debug, Clone, Copy)]
pub struct Registry {
    /// Controllers.
    pub controllers: &'static [ControllerDef],
    /// Singletons.
    pub singletons: &'static [SingletonDef],
    /// Middleware.
    pub middleware: &'static [MiddlewareDef],
    /// HTTP routes.
    pub http_routes: &'static [HttpRouteDef],
    /// Fallback services.
    pub http_fallbacks: &'static [HttpFallbackDef],
}

impl Registry {
    /// What the linker gathered from every linked crate.
    pub fn linked() -> Self {
        Self {
            controllers: &CONTROLLERS,
            singletons: &SINGLETONS,
            middleware: &MIDDLEWARE,
            http_routes: &HTTP_ROUTES,
            http_fallbacks: &HTTP_FALLBACKS,
        }
    }

    /// Whether nothing at all is registered.
    pub fn is_empty(&self) -> bool {
        self.controllers.is_empty() && self.http_routes.is_empty() && self.http_fallbacks.is_empty()
    }
}
