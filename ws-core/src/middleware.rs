//! The `Middleware` trait: checks that run on every request of one named server.

use std::future::Future;

use crate::future::BoxFuture;
use crate::request::{Rejection, RequestHead};

/// Runs on every request arriving at its server (HTTP requests and WebSocket handshakes),
/// before the route's handler or the controller's `on_handshake`. Registered with
/// `#[middleware(server = "ws", priority = N)]` for one server or `#[middleware(global)]` for
/// every server. On each server, the global and the server's own middleware run as one list:
/// lower `priority` first (default 0), ties by full type name. Return a [`Rejection`] to
/// answer with that HTTP status instead; later middleware and the route do not run.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is registered with #[middleware] but does not implement `Middleware`",
    label = "add `impl ws_core::Middleware for {Self} {{ async fn handle(..) }}`"
)]
pub trait Middleware: Send + Sync + 'static {
    /// Inspects (and may annotate, through its extensions) the request head.
    fn handle(&self, req: &mut RequestHead) -> impl Future<Output = Result<(), Rejection>> + Send;
}

pub(crate) trait ErasedMiddleware: Send + Sync + 'static {
    fn handle<'a>(&'a self, req: &'a mut RequestHead) -> BoxFuture<'a, Result<(), Rejection>>;
}

impl<M: Middleware> ErasedMiddleware for M {
    fn handle<'a>(&'a self, req: &'a mut RequestHead) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(Middleware::handle(self, req))
    }
}

/// Opaque middleware handle used by generated code.
#[doc(hidden)]
#[allow(private_bounds)]
pub trait ErasedMiddlewareHandle: ErasedMiddleware {}
impl<T: ErasedMiddleware> ErasedMiddlewareHandle for T {}
