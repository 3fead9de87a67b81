//! Attribute macros of ws-core. They only generate registrations (a `linkme` record per
//! item) and compile-time checks; the runtime is in `ws-core`, which re-exports these.
//! Set `WS_MACROS_DEBUG=1` to print each expansion to stderr.

mod attr;
mod controller;
mod fallback;
mod handler;
mod middleware;
mod register;
mod route;
mod rpc;
mod singleton;
mod ws_route;

use proc_macro::TokenStream;

fn debug(name: &str, out: proc_macro2::TokenStream) -> TokenStream {
    if std::env::var_os("WS_MACROS_DEBUG").is_some_and(|v| v == "1") {
        eprintln!("#[{name}] expands to:\n{out}\n");
    }
    out.into()
}

/// Registers a struct as the controller of a WebSocket route.
///
/// `#[ws_controller(server = "ws", path = "/chat")]`, optionally with
/// `protocol = "jsonrpc"` (or `["a", "b"]`), `protocol_required`, `compression = true`
/// (permessage-deflate on this route, whatever the server's `compression` key says) and
/// `default`. The struct
/// implements `ws_core::Controller` and is built once, at start-up:
///
/// - a unit struct is itself;
/// - a field marked `#[inject]` is filled from its type's `FromResolver` impl: `Inject<T>` (a
///   `#[singleton]` T, or a `dyn Trait` one provides), `Settings<T>`, `Sender`, `Config` (as at
///   start-up) or `LiveConfig` (following reloads);
/// - a field marked `#[default]` gets `Default::default()`, a value of its own;
/// - with `default`, the struct's own `Default` impl (derived or hand-written) builds it, and
///   its fields take no attribute.
///
/// Any other field is a compile error that says which to write.
///
/// ```
/// use std::sync::atomic::AtomicUsize;
/// use ws_core::{singleton, ws_controller, Controller, Inject, Sender};
///
/// #[singleton]
/// pub struct Counter(#[default] AtomicUsize);
///
/// #[ws_controller(server = "ws", path = "/room")]
/// pub struct Room {
///     #[inject]
///     counter: Inject<Counter>,
///     #[inject]
///     sender: Sender,
///     #[default]
///     joined: AtomicUsize,
/// }
/// impl Controller for Room {}
/// ```
#[proc_macro_attribute]
pub fn ws_controller(attr: TokenStream, item: TokenStream) -> TokenStream {
    debug(
        "ws_controller",
        controller::expand(attr.into(), item.into()),
    )
}

/// Registers an `async fn(ws: ws_core::WebSocket, ..)` that owns the socket (Swoole's
/// coroutine style) as a WebSocket route: `#[ws_handler(server = "ws", path = "/stream")]`,
/// with the same optional `protocol`/`protocol_required`/`compression` keys as
/// `#[ws_controller]`. Arguments after the socket are injected: their types implement `FromResolver` (`Inject<T>`,
/// `Settings<T>`, `Sender`, `Config`, `LiveConfig`). They are resolved once at start-up and
/// cloned for each connection. The function returns `()` or `Result<(), E: Display>`.
#[proc_macro_attribute]
pub fn ws_handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    debug("ws_handler", handler::expand(attr.into(), item.into()))
}

/// Implements `ws_core::jsonrpc::RpcMethods` for an impl block: every method marked
/// `#[rpc]` or `#[rpc(name = "echo")]` becomes a JSON-RPC method,
/// `async fn(&self[, cx: &mut Conn][, params: P]) -> Result<R, RpcError>`.
#[proc_macro_attribute]
pub fn rpc_methods(attr: TokenStream, item: TokenStream) -> TokenStream {
    debug("rpc_methods", rpc::expand(attr.into(), item.into()))
}

/// Registers a singleton service, built once at start-up (after the singletons it injects)
/// and injected as `Inject<T>`.
///
/// On a struct, it is built like a `#[ws_controller]`'s: `#[inject]` and `#[default]` fields,
/// or `#[singleton(default)]` for its own `Default` impl. On an `impl` block, by its
/// `fn new(..)`, whose parameters are injected and which returns `Self` or
/// `Result<Self, E: Display>` (an error stops start-up).
///
/// `provides = dyn Trait` (or `provides = [dyn A, dyn B]`) binds it to trait objects as well:
/// `Inject<dyn Trait>` is this singleton, and start-up orders and checks such dependencies
/// like any other.
///
/// ```
/// use ws_core::{singleton, Config, Inject};
///
/// pub trait Clock: Send + Sync {
///     fn now(&self) -> u64;
/// }
///
/// #[singleton(default, provides = dyn Clock)]
/// #[derive(Default)]
/// pub struct Fixed;
/// impl Clock for Fixed {
///     fn now(&self) -> u64 {
///         42
///     }
/// }
///
/// pub struct Stamps {
///     clock: Inject<dyn Clock>,
/// }
///
/// #[singleton]
/// impl Stamps {
///     pub fn new(clock: Inject<dyn Clock>, _config: Config) -> Self {
///         Self { clock }
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn singleton(attr: TokenStream, item: TokenStream) -> TokenStream {
    debug("singleton", singleton::expand(attr.into(), item.into()))
}

/// Registers a middleware on one server: `#[middleware(server = "ws", priority = 10)]` (lower
/// priority runs first; default 0), or on every server: `#[middleware(global)]`.
/// `paths = ["/push"]` makes it run on those routes of its server only (checked at start-up:
/// each path must have a route there). Middleware runs on the request head, before an HTTP
/// body is read. Two forms, which run as one list in priority order:
///
/// - a **guard**: a struct implementing `ws_core::Middleware`, built like a
///   `#[ws_controller]`'s struct (`#[inject]` and `#[default]` fields, or `default` for its
///   own `Default` impl); it lets the request through or refuses it with a `Rejection`;
/// - a **wrapper**: an `async fn(req: ws_core::http::Request, next: ws_core::Next, ..) ->
///   impl IntoResponse`, whose arguments after `next` are injected like an `#[http_route]`'s;
///   it runs code before and after `next.run(req).await` and may change the response, or
///   answer without calling it.
#[proc_macro_attribute]
pub fn middleware(attr: TokenStream, item: TokenStream) -> TokenStream {
    debug("middleware", middleware::expand(attr.into(), item.into()))
}

/// Registers an `async fn(req: ws_core::http::Request, ..) -> impl IntoResponse` as a plain
/// HTTP route: `#[http_route(server = "http", method = "GET", path = "/health")]` (method
/// defaults to GET). The request is taken by value; the arguments after it are injected
/// (`Inject<T>`, `Settings<T>`, `Sender`, `Config`, `LiveConfig`), resolved once at start-up
/// and cloned for each request.
#[proc_macro_attribute]
pub fn http_route(attr: TokenStream, item: TokenStream) -> TokenStream {
    debug("http_route", route::expand(attr.into(), item.into()))
}

/// Registers a tower service (an axum `Router`, a `tower::service_fn`, a layered service) as
/// the fallback of one server: it answers every request that no route of ours takes, behind
/// the server's middleware that has no `paths`:
/// `#[http_fallback(server = "http")] fn api(..) -> axum::Router { .. }`. The function is
/// called once at start-up, its arguments injected (`Inject<T>`, `Settings<T>`, `Sender`,
/// `Config`, `LiveConfig`). At most one per server.
#[proc_macro_attribute]
pub fn http_fallback(attr: TokenStream, item: TokenStream) -> TokenStream {
    debug("http_fallback", fallback::expand(attr.into(), item.into()))
}
