//! Plain HTTP routes beside the WebSocket routes of a server (Swoole's `onRequest`).
//!
//! Register a handler with `#[http_route(server = "http", method = "GET", path = "/health")]`
//! on an `async fn(..) -> impl IntoResponse`. Its arguments, in any order, are taken from the
//! request ([`FromRequest`]: the whole [`Request`], [`Path`], [`Query`], [`Json`], [`Form`],
//! [`Extension`], the body, the head's parts, the client's address and certificate, or an
//! extractor of the app's own) or injected
//! (`Inject<T>`, `Settings<T>`, `Sender`, `Config`, `LiveConfig`: resolved once at start-up,
//! then cloned for each request).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use sync_wrapper::SyncWrapper;

use crate::config::Config;
use crate::context::AppContext;
use crate::future::BoxFuture;
use crate::params::ParamError;
use crate::push::Sender;
use crate::request::{QueryError, Rejection, RequestHead};

mod body;
mod extract;
mod json;
mod parts;
pub mod sse;
mod tower;

pub use body::{Body, BoxError};
#[doc(hidden)]
pub use extract::{request_not_taken, request_taken_once, request_taken_twice, RouteArg};
pub use extract::{Extension, Form, FromRequest, Path, Query};
pub use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
pub use json::{Json, JsonRejection};
pub use parts::{Html, IntoResponseParts};
pub use sse::Sse;
pub use tower::hand_over;
#[doc(hidden)]
pub use tower::HttpFallback;
pub(crate) use tower::{ErasedService, HandOver, Origin as Through, Shared};

/// An HTTP request with its whole body (bounded by `max_http_body`): the [`RequestHead`]
/// that middleware saw (its methods are available on the request), the body, and the app's
/// context.
#[derive(Debug)]
pub struct Request {
    pub(crate) head: RequestHead,
    pub(crate) body: Bytes,
    /// The body not read yet: middleware runs on the head before it is read (then `body`
    /// is empty); the route gets it read. (In a `SyncWrapper`, reached only through
    /// `&mut`, so that `&Request` can cross an `.await` of a route's extractors.)
    pub(crate) unread: Option<SyncWrapper<Body>>,
    pub(crate) ctx: Arc<AppContext>,
}

impl Request {
    /// The request head: method, URI, headers, peer, server, and the extensions middleware set.
    pub fn head(&self) -> &RequestHead {
        &self.head
    }
    /// The body, read whole within the server's bounds before the route runs. In a
    /// wrapping middleware, which runs before it is read (so that a refused client costs no
    /// body memory), it is empty.
    pub fn body(&self) -> &Bytes {
        &self.body
    }
    /// The body as JSON, deserialized into `T`. The request must say
    /// `Content-Type: application/json` (or `application/*+json`); the body was read within
    /// `max_http_body` before the route ran. A [`JsonRejection`] is an HTTP response (415 for
    /// another content type, 400 for malformed JSON, 422 for JSON that does not fit `T`,
    /// each saying why), so a route can use `?` on it.
    ///
    /// ```
    /// use ws_core::http::{Json, JsonRejection, Request};
    ///
    /// #[derive(serde::Deserialize, serde::Serialize)]
    /// struct Note {
    ///     text: String,
    /// }
    ///
    /// async fn create(req: Request) -> Result<Json<Note>, JsonRejection> {
    ///     let note: Note = req.json()?;
    ///     Ok(Json(note))
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// Another content type, malformed JSON, or JSON that does not fit `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, JsonRejection> {
        json::from_request(&self.head, &self.body)
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

/// `extensions_mut` on the request itself (a wrapping middleware passes values on to the
/// route).
impl std::ops::DerefMut for Request {
    fn deref_mut(&mut self) -> &mut RequestHead {
        &mut self.head
    }
}

/// An HTTP response.
#[derive(Debug, Default)]
pub struct Response {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body: bytes in memory, or a stream sent as it comes.
    pub body: Body,
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
            body: Body::from(body.into()),
        }
    }

    /// A response with `status`, no headers, and `body`.
    pub fn new(status: StatusCode, body: impl Into<Body>) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
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

/// Anything an `#[http_route]` (or a wrapping middleware) can return.
///
/// | type | response |
/// | --- | --- |
/// | `&'static str`, `String` | 200, `text/plain; charset=utf-8` |
/// | `Bytes`, `Vec<u8>` | 200, `application/octet-stream` |
/// | `()` | 200, empty |
/// | [`Json<T>`] (`T: Serialize`) | 200, `application/json` (500 if it does not serialize) |
/// | [`Html<T>`] | 200, `text/html; charset=utf-8` |
/// | [`Body`] (e.g. [`Body::from_stream`]) | 200, the body as it is |
/// | [`Sse<S>`](Sse) | 200, `text/event-stream`, each event sent as it comes |
/// | `StatusCode` | that status, its reason as text |
/// | [`Response`], `http::Response<B>` | as it is |
/// | [`Rejection`], [`QueryError`], [`ParamError`], [`JsonRejection`] | their status, headers and text |
/// | `HeaderMap`, `[(K, V); N]` ([`IntoResponseParts`]) | 200, empty, with those headers |
/// | `(StatusCode, T)` | `T` with that status |
/// | `(P1, .., T)`, `(StatusCode, P1, .., T)` (up to 3 parts) | `T` with the parts' headers (and that status) |
/// | `Result<T, E>` (`T`, `E` of these) | `T` or `E` |
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an HTTP response",
    label = "an #[http_route] returns a type that implements `IntoResponse`",
    note = "`Response`, `&'static str`, `String`, `Json<T>`, `Html<T>`, `Body`, `Sse<S>`, `StatusCode`, `Rejection`, `QueryError`, `ParamError`, `(StatusCode, T)`, `(StatusCode, headers, T)` and `Result<T, E>` of those do; or `impl IntoResponse for {Self}`"
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

impl IntoResponse for Bytes {
    fn into_response(self) -> Response {
        octets(self.into())
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        octets(self.into())
    }
}

fn octets(body: Body) -> Response {
    let mut r = Response::new(StatusCode::OK, body);
    r.headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    r
}

impl IntoResponse for std::borrow::Cow<'static, str> {
    fn into_response(self) -> Response {
        match self {
            std::borrow::Cow::Borrowed(s) => s.into_response(),
            std::borrow::Cow::Owned(s) => s.into_response(),
        }
    }
}

/// 200 with an empty body.
impl IntoResponse for () {
    fn into_response(self) -> Response {
        Response::new(StatusCode::OK, Body::empty())
    }
}

/// 200 with this body (a stream is sent as it comes).
impl IntoResponse for Body {
    fn into_response(self) -> Response {
        Response::new(StatusCode::OK, self)
    }
}

impl IntoResponse for std::convert::Infallible {
    fn into_response(self) -> Response {
        match self {}
    }
}

/// A response of `http`'s type (what tower services and axum handlers return); its
/// extensions are dropped.
impl<B> IntoResponse for http::Response<B>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    fn into_response(self) -> Response {
        let (parts, body) = self.into_parts();
        Response {
            status: parts.status,
            headers: parts.headers,
            body: Body::new(body),
        }
    }
}

impl From<Response> for http::Response<Body> {
    fn from(r: Response) -> Self {
        let mut out = http::Response::new(r.body);
        *out.status_mut() = r.status;
        *out.headers_mut() = r.headers;
        out
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

/// 400 Bad Request naming the path parameter and saying why (500 for one the route lacks).
impl IntoResponse for ParamError {
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
