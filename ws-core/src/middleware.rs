//! Middleware: code that runs on every request of one named server, in two forms.
//!
//! - A **guard**: a struct implementing [`Middleware`], which sees the request head and
//!   lets it through or refuses it with a [`Rejection`].
//! - A **wrapper**: an `async fn(req: Request, next: Next, ..) -> impl IntoResponse`, which
//!   runs code before and after the rest ([`Next::run`]), and sees and may change the
//!   response (axum's `middleware::from_fn`).
//!
//! Both are registered with `#[middleware(..)]` and run as one list, lower `priority` first.

use std::future::Future;
use std::sync::Arc;

use crate::future::BoxFuture;
use crate::http::{IntoResponse, Request, Response};
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

/// A built middleware of either form, as the chain calls it.
pub(crate) trait ErasedMiddleware: Send + Sync + 'static {
    /// Whether it is a wrapper (else a guard).
    fn wraps(&self) -> bool;

    /// Whether it runs on HTTP requests only, not on WebSocket handshakes (a tower layer
    /// registered without `handshakes`).
    fn http_only(&self) -> bool {
        false
    }

    /// A guard's check of the head (a wrapper's lets everything through).
    fn check<'a>(&'a self, req: &'a mut RequestHead) -> BoxFuture<'a, Result<(), Rejection>>;

    /// A wrapper's call (a guard's goes straight on).
    fn wrap(&self, req: Request, next: Next) -> BoxFuture<'static, Response>;
}

/// A [`Middleware`] struct in the chain.
pub(crate) struct Guard<M>(pub(crate) M);

impl<M: Middleware> ErasedMiddleware for Guard<M> {
    fn wraps(&self) -> bool {
        false
    }

    fn check<'a>(&'a self, req: &'a mut RequestHead) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(Middleware::handle(&self.0, req))
    }

    fn wrap(&self, req: Request, next: Next) -> BoxFuture<'static, Response> {
        Box::pin(next.run(req))
    }
}

/// A wrapping `async fn` in the chain (its injected arguments captured).
pub(crate) struct Wrap<F>(pub(crate) F);

impl<F, Fut> ErasedMiddleware for Wrap<F>
where
    F: Fn(Request, Next) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoResponse,
{
    fn wraps(&self) -> bool {
        true
    }

    fn check<'a>(&'a self, _: &'a mut RequestHead) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn wrap(&self, req: Request, next: Next) -> BoxFuture<'static, Response> {
        let fut = (self.0)(req, next);
        Box::pin(async move { fut.await.into_response() })
    }
}

/// Opaque middleware handle used by generated code.
#[doc(hidden)]
#[allow(private_bounds)]
pub trait ErasedMiddlewareHandle: ErasedMiddleware {}
impl<T: ErasedMiddleware> ErasedMiddlewareHandle for T {}

/// The middleware list of a server, as a request's [`Next`] walks it.
pub(crate) trait Chain: Send + Sync + 'static {
    /// The first middleware at or after `from` that runs on a request to the route at
    /// `pattern`, with its index.
    fn link(&self, from: usize, pattern: &str) -> Option<(usize, &dyn ErasedMiddleware)>;
}

/// What answers once every middleware has let a request through: the route.
pub(crate) type Endpoint = Box<dyn FnOnce(Request) -> BoxFuture<'static, Response> + Send>;

/// The rest of a request's way: the middleware after this one, then the route. A wrapping
/// middleware calls [`run`](Self::run) once (or not at all, to answer by itself).
///
/// ```
/// use std::time::Instant;
/// use ws_core::http::header::HeaderValue;
/// use ws_core::http::{Request, Response};
/// use ws_core::{middleware, Next};
///
/// /// Adds `x-response-time` to every response of server `http`.
/// #[middleware(server = "http")]
/// async fn timing(req: Request, next: Next) -> Response {
///     let started = Instant::now();
///     let mut res = next.run(req).await;
///     let ms = format!("{:.1}ms", started.elapsed().as_secs_f64() * 1000.0);
///     if let Ok(v) = HeaderValue::from_str(&ms) {
///         res.headers.insert("x-response-time", v);
///     }
///     res
/// }
/// ```
#[must_use = "a request goes on only when `next.run(req)` is awaited"]
pub struct Next {
    chain: Arc<dyn Chain>,
    pattern: &'static str,
    index: usize,
    endpoint: Endpoint,
}

impl std::fmt::Debug for Next {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next")
            .field("route", &self.pattern)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl Next {
    /// The whole way of a request to the route at `pattern`.
    pub(crate) fn new(chain: Arc<dyn Chain>, pattern: &'static str, endpoint: Endpoint) -> Self {
        Self {
            chain,
            pattern,
            index: 0,
            endpoint,
        }
    }

    /// Runs the rest: the guards and wrappers after this middleware, in order, then the
    /// route; returns the response, which the caller may change. A guard's refusal comes
    /// back as its response (status, headers, text).
    pub async fn run(mut self, mut req: Request) -> Response {
        let chain = Arc::clone(&self.chain);
        while let Some((i, m)) = chain.link(self.index, self.pattern) {
            self.index = i + 1;
            if m.http_only() && req.head.upgrade {
                continue;
            }
            if m.wraps() {
                return m.wrap(req, self).await;
            }
            if let Err(rejection) = m.check(&mut req.head).await {
                return rejection.into();
            }
        }
        (self.endpoint)(req).await
    }
}
