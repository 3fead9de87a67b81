//! Used only by the code that ws-macros generates. Not public API.

pub use linkme;

pub use crate::di::{
    erase as singleton, provide, Binding, ConstructorResult, Dep, ErasedSingleton, FromResolver,
    Resolver,
};
pub use crate::error::{Origin, StartupError};
pub use crate::future::BoxFuture;
pub use crate::http::HttpFallback;
pub use crate::http::{
    request_not_taken, request_taken_once, request_taken_twice, HttpHandler, Request, RouteArg,
};
pub use crate::layer::NextService;
pub use crate::middleware::{ErasedMiddlewareHandle, Next};
pub use crate::registry::{
    ControllerDef, HttpFallbackDef, HttpRouteDef, MiddlewareDef, SingletonDef, CONTROLLERS,
    HTTP_FALLBACKS, HTTP_ROUTES, MIDDLEWARE, SINGLETONS,
};
pub use crate::server::driver::ErasedControllerHandle;
pub use crate::websocket::WebSocket;

use std::any::TypeId;
use std::sync::Arc;

use crate::controller::Controller;
use crate::http::IntoResponse;
use crate::middleware::{Guard, Middleware, Wrap};
use crate::websocket::{HandlerController, HandlerOutput};

/// Erases a built controller (checks `C: Controller` with a readable error).
pub fn controller<C: Controller>(c: C) -> Arc<dyn ErasedControllerHandle> {
    Arc::new(c)
}

/// Erases a built middleware.
pub fn middleware<M: Middleware>(m: M) -> Arc<dyn ErasedMiddlewareHandle> {
    Arc::new(Guard(m))
}

/// A wrapping `#[middleware]` function (with its injected arguments captured) as the
/// middleware the chain calls; checks that it returns an [`IntoResponse`].
pub fn wrap<F, Fut>(f: F) -> Arc<dyn ErasedMiddlewareHandle>
where
    F: Fn(Request, Next) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future + Send + 'static,
    Fut::Output: IntoResponse,
{
    Arc::new(Wrap(f))
}

/// Asserts at compile time that a wrapping middleware's second argument is the `Next`.
pub fn next_arg(next: Next) -> Next {
    next
}

/// The `TypeId` of a type (`dyn Trait` included).
pub fn type_id<T: ?Sized + 'static>() -> TypeId {
    TypeId::of::<T>()
}

/// The name of a type, for messages.
pub fn type_name<T: ?Sized>() -> &'static str {
    std::any::type_name::<T>()
}

/// One error for the injected values that could not be built (the `None`s are the ones that
/// could).
pub fn failed<const N: usize>(errors: [Option<StartupError>; N]) -> StartupError {
    let mut errors: Vec<StartupError> = errors.into_iter().flatten().collect();
    match errors.len() {
        1 => errors.remove(0),
        _ => StartupError::Many(errors),
    }
}

/// The value a singleton constructor returned, or its error naming the singleton.
pub fn constructed<T, R: ConstructorResult<T>>(r: R, origin: Origin) -> Result<T, StartupError> {
    r.into_result()
        .map_err(|message| StartupError::SingletonFailed { origin, message })
}

/// An `#[http_route]` function's adapter (which takes its arguments from the request and the
/// state prepared at start-up) as the handler the server calls per request.
pub fn http_route<F, Fut>(f: F) -> HttpHandler
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = crate::http::Response> + Send + 'static,
{
    Arc::new(move |req| Box::pin(f(req)))
}

/// Asserts at compile time that a wrapping middleware takes a `Request` first.
pub fn request_arg(r: Request) -> Request {
    r
}

/// What an `#[http_route]` function returned, as a response (checks that it is an
/// [`IntoResponse`]).
pub fn respond<R: IntoResponse>(r: R) -> crate::http::Response {
    r.into_response()
}

/// Wraps a `#[ws_handler]` function as a controller: `extract` takes its arguments (after the
/// socket) from each handshake, `f` calls it with them.
pub fn handler<F, Fut, A, X>(f: F, extract: X) -> Arc<dyn ErasedControllerHandle>
where
    F: Fn(WebSocket, A) -> Fut + Send + Sync + 'static,
    A: Send + 'static,
    Fut: std::future::Future + Send + 'static,
    Fut::Output: HandlerOutput,
    X: for<'r> Fn(&'r Request) -> BoxFuture<'r, Result<A, crate::http::Response>>
        + Send
        + Sync
        + 'static,
{
    let controller = HandlerController {
        f,
        args: std::marker::PhantomData,
    };
    Arc::new(crate::server::handler::Handler::new(controller, extract))
}

/// A `#[ws_handler]`'s taking of its arguments from a handshake (gives the closure its
/// signature, which it could not infer alone).
pub fn handshake_args<A, X>(extract: X) -> X
where
    X: for<'r> Fn(&'r Request) -> BoxFuture<'r, Result<A, crate::http::Response>>,
{
    extract
}

/// Asserts at compile time that a handler's first argument is the `WebSocket`.
pub fn websocket_arg(ws: WebSocket) -> WebSocket {
    ws
}

/// An `#[http_fallback]` function's service, erased; checks that it is a tower `Service` of
/// HTTP requests (an axum `Router`, `tower::service_fn(..)`, a layered service).
pub fn fallback<S, B>(svc: S) -> HttpFallback
where
    S: tower_service::Service<http::Request<crate::http::Body>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<crate::http::BoxError>,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<crate::http::BoxError>,
{
    HttpFallback::new(svc)
}

/// A tower `Layer` returned by a `#[middleware]` function, as a link of the server's
/// middleware list; checks that it layers HTTP services (tower-http's `TraceLayer`,
/// `CorsLayer`, `TimeoutLayer`, `CompressionLayer`, ..).
pub fn layer<L, B>(layer: L, handshakes: bool) -> Arc<dyn ErasedMiddlewareHandle>
where
    L: tower_layer::Layer<NextService>,
    L::Service: tower_service::Service<http::Request<crate::http::Body>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    <L::Service as tower_service::Service<http::Request<crate::http::Body>>>::Future:
        Send + 'static,
    <L::Service as tower_service::Service<http::Request<crate::http::Body>>>::Error:
        Into<crate::http::BoxError>,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<crate::http::BoxError>,
{
    Arc::new(crate::layer::LayerLink::new(layer, handshakes))
}
