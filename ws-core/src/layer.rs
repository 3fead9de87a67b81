//! tower layers (tower-http's trace, CORS, compression, timeouts) in a server's middleware
//! list: registered with `#[middleware]` on a `fn` that returns one, each wraps the rest of
//! the request's way ([`NextService`]: the middleware after it, then the route), on HTTP
//! requests, and on WebSocket handshakes too when registered with `handshakes`: the
//! handshake's way ends in the upgrade, whose `101` (or HTTP/2's `200`) the layer sees and may
//! replace, and then the client gets no WebSocket (the connection's task, waiting for an
//! upgrade that does not come, ends and frees its place).

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::StatusCode;
use sync_wrapper::SyncWrapper;
use tower_service::Service;

use crate::future::BoxFuture;
use crate::http::{Body, BoxError, ErasedService, Request, Response, Shared};
use crate::middleware::{ErasedMiddleware, Next};
use crate::request::{Rejection, RequestHead};

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
        let req = Request {
            head,
            body: Bytes::new(),
            unread: Some(SyncWrapper::new(Body::new(body))),
            ctx: inside.ctx,
        };
        let next = inside.next;
        Box::pin(async move { Ok(next.run(req).await.into()) })
    }
}

/// A tower layer (over [`NextService`]) in a server's middleware list.
pub(crate) struct LayerLink {
    service: Arc<dyn ErasedService>,
    /// Whether WebSocket handshakes go through it too (`#[middleware(handshakes)]`).
    handshakes: bool,
}

impl LayerLink {
    pub(crate) fn new<L, B>(layer: L, handshakes: bool) -> Self
    where
        L: tower_layer::Layer<NextService>,
        L::Service:
            Service<http::Request<Body>, Response = http::Response<B>> + Clone + Send + 'static,
        <L::Service as Service<http::Request<Body>>>::Future: Send + 'static,
        <L::Service as Service<http::Request<Body>>>::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Self {
            service: Arc::new(Shared(Mutex::new(layer.layer(NextService)))),
            handshakes,
        }
    }
}

impl ErasedMiddleware for LayerLink {
    fn wraps(&self) -> bool {
        true
    }

    fn http_only(&self) -> bool {
        !self.handshakes
    }

    fn check<'a>(&'a self, _: &'a mut RequestHead) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn wrap(&self, req: Request, next: Next) -> BoxFuture<'static, Response> {
        let Request {
            head,
            body,
            unread,
            ctx,
        } = req;
        let body = unread.map_or_else(|| Body::from(body), SyncWrapper::into_inner);
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
        self.service.call(out)
    }
}
