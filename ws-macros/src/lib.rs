//! Attribute macros of ws-core. They only generate registrations (a `linkme` record per
//! item) and compile-time checks; the runtime is in `ws-core`, which re-exports these.
//! Set `WS_MACROS_DEBUG=1` to print each expansion to stderr.

mod attr;
mod controller;
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
/// `protocol = "jsonrpc"` (or `["a", "b"]`) and `protocol_required`. The struct implements
/// `ws_core::Controller`; its fields of type `Inject<T>` or `Sender` are filled in at
/// start-up, other fields with `Default::default()`.
#[proc_macro_attribute]
pub fn ws_controller(attr: TokenStream, item: TokenStream) -> TokenStream {
    debug(
        "ws_controller",
        controller::expand(attr.into(), item.into()),
    )
}

/// Registers an `async fn(ws: ws_core::WebSocket, ..)` that owns the socket (Swoole's
/// coroutine style) as a WebSocket route: `#[ws_handler(server = "ws", path = "/stream")]`,
/// with the same optional `protocol`/`protocol_required` keys as `#[ws_controller]`. Arguments
/// after the socket (`Inject<T>`, `Sender`, `Config`) are injected.
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

/// Registers a struct as a singleton service, built once at start-up and injected as
/// `Inject<T>`. Fields are built like a controller's.
#[proc_macro_attribute]
pub fn singleton(attr: TokenStream, item: TokenStream) -> TokenStream {
    debug("singleton", singleton::expand(attr.into(), item.into()))
}

/// Registers a struct implementing `ws_core::Middleware` on one server:
/// `#[middleware(server = "ws", priority = 10)]` (lower priority runs first; default 0).
#[proc_macro_attribute]
pub fn middleware(attr: TokenStream, item: TokenStream) -> TokenStream {
    debug("middleware", middleware::expand(attr.into(), item.into()))
}

/// Registers an `async fn(req: ws_core::http::Request) -> impl IntoResponse` as a plain HTTP
/// route: `#[http_route(server = "http", method = "GET", path = "/health")]` (method defaults
/// to GET).
#[proc_macro_attribute]
pub fn http_route(attr: TokenStream, item: TokenStream) -> TokenStream {
    debug("http_route", route::expand(attr.into(), item.into()))
}
