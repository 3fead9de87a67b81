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
use http::Extensions;

use crate::app::App;
use crate::config::{Config, ServerName};
use crate::sender::Sender;

pub use http::{header, HeaderMap, Method, StatusCode, Uri};

/// An HTTP request with its whole body (bounded by `max_http_body`).
#[derive(Debug)]
pub struct Request {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) peer: SocketAddr,
    pub(crate) server: ServerName,
    pub(crate) extensions: Extensions,
    pub(crate) app: App,
}

impl Request {
    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }
    /// The URI.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }
    /// The path.
    pub fn path(&self) -> &str {
        self.uri.path()
    }
    /// The query string, if any.
    pub fn query(&self) -> Option<&str> {
        self.uri.query()
    }
    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
    /// A header value as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }
    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }
    /// The server (config name) the request arrived at.
    pub fn server(&self) -> &ServerName {
        &self.server
    }
    /// Values that middleware put in the request head's extensions.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }
    /// The handle for pushing to WebSocket connections.
    pub fn sender(&self) -> &Sender {
        self.app.sender()
    }
    /// The app's configuration in effect (a reload may have changed it since start-up).
    pub fn config(&self) -> Arc<Config> {
        self.app.config()
    }
    /// The address server `name` listens on (the real port once started).
    pub fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        self.app.local_addr(name)
    }
    /// The singleton bound to `T` (a `#[singleton]` type or a provided `dyn Trait`). A route
    /// usually takes `Inject<T>` as an argument instead, resolved once at start-up.
    pub fn singleton<T: ?Sized + Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.app.singleton::<T>()
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
    note = "`Response`, `&'static str`, `String`, `StatusCode`, `(StatusCode, T)` and `Result<T, E>` of those do; or `impl IntoResponse for {Self}`"
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

impl From<crate::request::Rejection> for Response {
    fn from(r: crate::request::Rejection) -> Self {
        Response::text(r.status, r.body)
    }
}
