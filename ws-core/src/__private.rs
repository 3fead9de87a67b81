//! Used only by the code that ws-macros generates. Not public API.

pub use linkme;

pub use crate::di::{Dep, FromResolver, Resolver};
pub use crate::error::{Origin, StartupError};
pub use crate::future::BoxFuture;
pub use crate::middleware::ErasedMiddlewareHandle;
pub use crate::registry::{
    ControllerDef, HttpRouteDef, MiddlewareDef, SingletonDef, CONTROLLERS, HTTP_ROUTES, MIDDLEWARE,
    SINGLETONS,
};
pub use crate::server::driver::ErasedControllerHandle;

use std::any::{Any, TypeId};
use std::sync::Arc;

use crate::controller::Controller;
use crate::http::{IntoResponse, Request, Response};
use crate::middleware::Middleware;
use crate::websocket::{HandlerController, HandlerOutput, WebSocket};

/// Erases a built controller (checks `C: Controller` with a readable error).
pub fn controller<C: Controller>(c: C) -> Arc<dyn ErasedControllerHandle> {
    Arc::new(c)
}

/// Erases a built middleware.
pub fn middleware<M: Middleware>(m: M) -> Arc<dyn ErasedMiddlewareHandle> {
    Arc::new(m)
}

/// Erases a built singleton.
pub fn singleton<T: Send + Sync + 'static>(t: T) -> Arc<dyn Any + Send + Sync> {
    Arc::new(t)
}

/// The `TypeId` of a singleton type.
pub fn type_id<T: 'static>() -> TypeId {
    TypeId::of::<T>()
}

/// Boxes an HTTP handler's future and converts its output.
pub fn http_handler<F, R>(fut: F) -> BoxFuture<'static, Response>
where
    F: std::future::Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    Box::pin(async move { fut.await.into_response() })
}

/// Asserts at compile time that a handler takes a `Request`.
pub fn request_arg(r: Request) -> Request {
    r
}

/// Turns a singleton constructor's error into a start-up error naming the singleton.
pub fn constructor_failed<E: std::fmt::Display>(origin: Origin, e: E) -> StartupError {
    StartupError::SingletonFailed {
        origin,
        message: e.to_string(),
    }
}

/// Wraps a `#[ws_handler]` function (with its injected arguments captured) as a controller.
pub fn handler<F, Fut>(f: F) -> Arc<dyn ErasedControllerHandle>
where
    F: Fn(WebSocket) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future + Send + 'static,
    Fut::Output: HandlerOutput,
{
    Arc::new(HandlerController { f })
}

/// Asserts at compile time that a handler's first argument is the `WebSocket`.
pub fn websocket_arg(ws: WebSocket) -> WebSocket {
    ws
}

/// An injected HTTP handler argument that could not be built: a 500 naming the type (start-up
/// validation makes this unreachable for registered singletons).
pub fn injection_failed(e: StartupError) -> Response {
    tracing::error!("{e}");
    Response::text(
        crate::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal error\n",
    )
}
