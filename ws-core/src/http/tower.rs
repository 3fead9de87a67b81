//! tower interop: any `tower::Service<http::Request<Body>>` (an axum `Router` in particular)
//! as a server's fallback, and the other way, an axum handler handing a WebSocket upgrade to
//! one of our controllers ([`hand_over`]). Layers are in `layer.rs`.

use std::future::poll_fn;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::StatusCode;
use tower_service::Service;

use super::{Body, BoxError, IntoResponse, Response};
use crate::future::BoxFuture;

/// A tower service as the server calls it: cloned for each request (tower's way to share
/// one), made ready, then called.
pub(crate) trait ErasedService: Send + Sync + 'static {
    fn call(&self, req: http::Request<Body>) -> BoxFuture<'static, Response>;
}

pub(crate) struct Shared<S>(pub(crate) Mutex<S>);

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
/// fallback) to the controller or `#[ws_handler]` whose pattern `path` matches on the same
/// server, as a request's path would (`/rooms/42` reaches `/rooms/{id}`, and `cx.param("id")`
/// is `42`):
/// the connection then gets that controller's hooks and everything the framework gives one
/// (`on_handshake`, the connection table and its id, rooms, `Sender` pushes, keep-alive,
/// limits, metrics). The request's extensions (what axum or tower middleware inserted) become
/// the connection's context.
///
/// The handshake is checked as on the route's own path (RFC 6455, admission limits,
/// subprotocols, then `on_handshake`); the server's middleware without `paths` ran on the
/// request already, on its way to the fallback, and does not run again, while the guards
/// registered with `paths` that name the route's pattern run now, as on its own path. The answer is
/// the `101` (or the refusal) for the handler to return.
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
