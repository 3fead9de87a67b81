//! Plain HTTP routes beside the WebSocket routes of a server (Swoole's `onRequest`).
//!
//! Register a handler with `#[http_route(server = "http", method = "GET", path = "/health")]`
//! on an `async fn(Request) -> impl IntoResponse`. Arguments after the request are injected
//! (`Inject<T>`, `Settings<T>`, `Sender`, `Config`, `LiveConfig`): resolved once at start-up,
//! then cloned for each request.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};

use crate::config::Config;
use crate::context::AppContext;
use crate::future::BoxFuture;
use crate::push::Sender;
use crate::request::{QueryError, Rejection, RequestHead};

pub use http::{header, HeaderMap, Method, StatusCode, Uri};

/// An HTTP request with its whole body (bounded by `max_http_body`): the [`RequestHead`]
/// that middleware saw (its methods are available on the request), the body, and the app's
/// context.
#[derive(Debug)]
pub struct Request {
    pub(crate) head: RequestHead,
    pub(crate) body: Bytes,
    pub(crate) ctx: Arc<AppContext>,
}

impl Request {
    /// The request head: method, URI, headers, peer, server, and the extensions middleware set.
    pub fn head(&self) -> &RequestHead {
        &self.head
    }
    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }
    /// The handle for pushing to WebSocket connections.
    pub fn sender(&self) -> &Sender {
        &self.ctx.sender
    }
    /// The app's configuration in effect (a reload may have changed it since start-up).
    pub fn config(&self) -> Arc<Config> {
        self.ctx.config()
    }
    /// The address server `name` listens on (the real port once started).
    pub fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        self.ctx.local_addr(name)
    }
    /// The singleton bound to `T` (a `#[singleton]` type or a provided `dyn Trait`). A route
    /// usually takes `Inject<T>` as an argument instead, resolved once at start-up.
    pub fn singleton<T: ?Sized + Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.ctx.singleton::<T>()
    }
}

/// An `#[http_route]` with its injected arguments resolved at start-up: called per request.
#[doc(hidden)]
pub type HttpHandler = Arc<dyn Fn(Request) -> BoxFuture<'static, Response> + Send + Sync>;

/// The head's methods (`method`, `uri`, `path`, `query`, `headers`, `header`, `peer_addr`,
/// `server`, `extensions`) on the request itself.
impl std::ops::Deref for Request {
    type Target = RequestHead;
    fn deref(&self) -> &RequestHead {
        &self.head
    }
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Response {
    /// A response with `status`, a plain-text `body`.
    pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Self {
            status,
            headers,
            body: body.into(),
        }
    }

    /// A 200 HTML page.
    pub fn html(body: impl Into<Bytes>) -> Self {
        let mut r = Self::text(StatusCode::OK, body);
        r.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r
    }

    /// Adds or replaces a header.
    pub fn with_header(mut self, name: http::HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }
}

/// Anything an `#[http_route]` can return.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an HTTP response",
    label = "an #[http_route] returns a type that implements `IntoResponse`",
    note = "`Response`, `&'static str`, `String`, `StatusCode`, `Rejection`, `QueryError`, `(StatusCode, T)` and `Result<T, E>` of those do; or `impl IntoResponse for {Self}`"
)]
pub trait IntoResponse {
    /// The response.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        Response::text(StatusCode::OK, self)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        Response::text(StatusCode::OK, self)
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        Response::text(self, self.canonical_reason().unwrap_or(""))
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> Response {
        let mut r = self.1.into_response();
        r.status = self.0;
        r
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(t) => t.into_response(),
            Err(e) => e.into_response(),
        }
    }
}

/// Its status, headers and body.
impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.into()
    }
}

/// 400 Bad Request, saying what is wrong with the query.
impl IntoResponse for QueryError {
    fn into_response(self) -> Response {
        Rejection::from(self).into()
    }
}

impl From<Rejection> for Response {
    fn from(r: Rejection) -> Self {
        let mut response = Response::text(r.status, r.body);
        response.headers.extend(r.headers);
        response
    }
}
