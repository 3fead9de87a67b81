//! tower interop: any `tower::Service<http::Request<Body>>` (an axum `Router` in particular)
//! as a server's fallback, and the other way, an axum handler handing a WebSocket upgrade to
//! one of our controllers ([`hand_over`]); tower layers (tower-http's trace, CORS,
//! compression, timeouts) in a server's middleware list.

use std::future::poll_fn;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::StatusCode;
use tower_service::Service;

use super::{Body, BoxError, IntoResponse, Response};
use crate::future::BoxFuture;
use crate::middleware::{ErasedMiddleware, Next};
use crate::request::{Rejection, RequestHead};

/// A tower service as the server calls it: cloned for each request (tower's way to share
/// one), made ready, then called.
pub(crate) trait ErasedService: Send + Sync + 'static {
    fn call(&self, req: http::Request<Body>) -> BoxFuture<'static, Response>;
}

struct Shared<S>(Mutex<S>);

impl<S, B> ErasedService for Shared<S>
where
    S: Service<http::Request<Body>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    fn call(&self, req: http::Request<Body>) -> BoxFuture<'static, Response> {
        let mut svc = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Box::pin(async move {
            let ready: Result<(), BoxError> =
                poll_fn(|cx| svc.poll_ready(cx)).await.map_err(Into::into);
            let answer: Result<S::Response, BoxError> = match ready {
                Ok(()) => svc.call(req).await.map_err(Into::into),
                Err(e) => Err(e),
            };
            match answer {
                Ok(res) => res.into_response(),
                Err(e) => {
                    tracing::error!("a tower service failed: {e}");
                    Response::text(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("the service failed: {e}\n"),
                    )
                }
            }
        })
    }
}

/// A server's fallback service (`#[http_fallback]`), built at start-up.
#[doc(hidden)]
pub struct HttpFallback(pub(crate) Arc<dyn ErasedService>);

impl std::fmt::Debug for HttpFallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpFallback")
    }
}

impl HttpFallback {
    pub(crate) fn new<S, B>(svc: S) -> Self
    where
        S: Service<http::Request<Body>, Response = http::Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Self(Arc::new(Shared(Mutex::new(svc))))
    }
}

/// What a request that came through one of our servers carries in its extensions, so that
/// [`hand_over`] can reach the server.
#[derive(Clone)]
pub(crate) struct Origin(pub(crate) Arc<dyn HandOver>);

/// The server side of [`hand_over`].
pub(crate) trait HandOver: Send + Sync + 'static {
    fn hand_over(&self, parts: http::request::Parts, path: &str) -> BoxFuture<'static, Response>;
}

/// Hands a WebSocket handshake that a tower service or axum handler received (on a server's
/// fallback) to the controller or `#[ws_handler]` registered at `path` on the same server:
/// the connection then gets that controller's hooks and everything the framework gives one
/// (`on_handshake`, the connection table and its id, rooms, `Sender` pushes, keep-alive,
/// limits, metrics). The request's extensions (what axum or tower middleware inserted) become
/// the connection's context.
///
/// The handshake is checked as on the route's own path (RFC 6455, admission limits,
/// subprotocols, then `on_handshake`); the server's middleware ran on the request already, on
/// its way to the fallback, and does not run again. The answer is the `101` (or the refusal)
/// for the handler to return.
///
/// ```
/// use ws_core::http::{hand_over, Body};
///
/// // An axum handler: `async fn chat(req: axum::extract::Request) -> http::Response<Body>`.
/// async fn chat<B>(req: http::Request<B>) -> http::Response<Body> {
///     hand_over(req, "/chat").await
/// }
/// ```
///
/// A request that did not come through one of our servers gets 500; a `path` with no
/// WebSocket route on the server, 404.
pub async fn hand_over<B>(req: http::Request<B>, path: &str) -> http::Response<Body> {
    let (parts, _body) = req.into_parts();
    let Some(origin) = parts.extensions.get::<Origin>().cloned() else {
        return Response::text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "hand_over: this request did not come through a ws-core server\n",
        )
        .into();
    };
    origin.0.hand_over(parts, path).await.into()
}

/// What a request carries through a tower layer, for the rest of the way: the [`Next`] and
/// the parts of its head that `http::Request` has no place for.
#[derive(Clone)]
struct Carry(Arc<Mutex<Option<Inside>>>);

struct Inside {
    next: Next,
    peer: std::net::SocketAddr,
    server: crate::config::ServerName,
    upgrade: bool,
    protocols: Vec<String>,
    ctx: Arc<crate::context::AppContext>,
}

/// The inner service of a tower layer registered with `#[middleware]`: the rest of the
/// request's way (the middleware after the layer, then the route).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default)]
pub struct NextService;

impl<B> Service<http::Request<B>> for NextService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<'static, Result<http::Response<Body>, std::convert::Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        let inside = parts
            .extensions
            .remove::<Carry>()
            .and_then(|c| c.0.lock().unwrap_or_else(PoisonError::into_inner).take());
        let Some(inside) = inside else {
            return Box::pin(std::future::ready(Ok(Response::text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "a tower layer dropped the request's extensions\n",
            )
            .into())));
        };
        let head = RequestHead {
            version: parts.version,
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            peer: inside.peer,
            server: inside.server,
            upgrade: inside.upgrade,
            protocols: inside.protocols,
            extensions: parts.extensions,
        };
        let req = super::Request {
            head,
            body: Bytes::new(),
            unread: Some(Body::new(body)),
            ctx: inside.ctx,
        };
        let next = inside.next;
        Box::pin(async move { Ok(next.run(req).await.into()) })
    }
}

/// A tower layer (over [`NextService`]) in a server's middleware list.
pub(crate) struct LayerLink(Arc<dyn ErasedService>);

impl LayerLink {
    pub(crate) fn new<L, B>(layer: L) -> Self
    where
        L: tower_layer::Layer<NextService>,
        L::Service:
            Service<http::Request<Body>, Response = http::Response<B>> + Clone + Send + 'static,
        <L::Service as Service<http::Request<Body>>>::Future: Send + 'static,
        <L::Service as Service<http::Request<Body>>>::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Self(Arc::new(Shared(Mutex::new(layer.layer(NextService)))))
    }
}

impl ErasedMiddleware for LayerLink {
    fn wraps(&self) -> bool {
        true
    }

    fn http_only(&self) -> bool {
        true
    }

    fn check<'a>(&'a self, _: &'a mut RequestHead) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn wrap(&self, req: super::Request, next: Next) -> BoxFuture<'static, Response> {
        let super::Request {
            head,
            body,
            unread,
            ctx,
        } = req;
        let body = unread.unwrap_or_else(|| Body::from(body));
        let mut out = http::Request::new(body);
        *out.method_mut() = head.method;
        *out.uri_mut() = head.uri;
        *out.headers_mut() = head.headers;
        *out.version_mut() = head.version;
        *out.extensions_mut() = head.extensions;
        out.extensions_mut()
            .insert(Carry(Arc::new(Mutex::new(Some(Inside {
                next,
                peer: head.peer,
                server: head.server,
                upgrade: head.upgrade,
                protocols: head.protocols,
                ctx,
            })))));
        self.0.call(out)
    }
}
