//! The head of an incoming HTTP request or WebSocket handshake, as middleware and the
//! `on_handshake` hook see it, and the rejection they may answer with.

use std::net::SocketAddr;

use http::header::{HeaderName, HeaderValue};
use http::{Extensions, HeaderMap, Method, StatusCode, Uri};

use serde::de::DeserializeOwned;

use crate::client_cert::ClientCert;
use crate::config::ServerName;
use crate::params::{ParamError, PathParams};

/// The head of a request arriving at a server: method, URI, headers, peer, and typed
/// extensions that travel on to the connection's context (WebSocket) or the HTTP handler.
#[derive(Debug)]
pub struct RequestHead {
    pub(crate) version: http::Version,
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) peer: SocketAddr,
    pub(crate) server: ServerName,
    pub(crate) upgrade: bool,
    pub(crate) protocols: Vec<String>,
    pub(crate) extensions: Extensions,
}

impl RequestHead {
    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }
    /// The request URI.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }
    /// The path of the URI.
    pub fn path(&self) -> &str {
        self.uri.path()
    }
    /// The query string, if any.
    pub fn query(&self) -> Option<&str> {
        self.uri.query()
    }
    /// The value of path parameter `name`, percent-decoded: what the route's `{name}` segment
    /// (or `{*name}` wildcard) matched. `None` when the route has no such parameter.
    ///
    /// ```
    /// # use ws_core::{Rejection, RequestHead};
    /// // On `#[ws_controller(server = "ws", path = "/chat/{room}")]`, a request for
    /// // `/chat/lobby` gives `Some("lobby")`.
    /// fn room(req: &RequestHead) -> Result<&str, Rejection> {
    ///     req.param("room").ok_or_else(|| Rejection::bad_request("no room"))
    /// }
    /// ```
    pub fn param(&self, name: &str) -> Option<&str> {
        self.extensions.get::<PathParams>()?.get(name)
    }
    /// Path parameter `name` parsed as `T` (any [`FromStr`](std::str::FromStr) type: numbers,
    /// `Uuid`, your own). A [`ParamError`] is a 400 [`Rejection`] naming the parameter and
    /// saying why (500 when the route's pattern has no such parameter), and itself an HTTP
    /// response, so a route or hook can use `?` on it.
    ///
    /// ```
    /// # use ws_core::{ParamError, RequestHead};
    /// // On `#[http_route(server = "http", path = "/rooms/{id}")]`: `/rooms/42` gives 42,
    /// // `/rooms/abc` a 400 saying `id` is not valid.
    /// fn room_id(req: &RequestHead) -> Result<u64, ParamError> {
    ///     req.param_as("id")
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// The parameter's value does not parse as `T`, or the route has no such parameter.
    pub fn param_as<T>(&self, name: &str) -> Result<T, ParamError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        crate::params::parse(self.extensions.get::<PathParams>(), name)
    }
    /// The query string parsed into `T` (`application/x-www-form-urlencoded`, with
    /// `serde_urlencoded`); no query parses as an empty one, so optional fields and
    /// `#[serde(default)]` work. A [`QueryError`] converts into a 400 [`Rejection`] saying
    /// what is wrong, and is itself an HTTP response, so a route can use `?` on it.
    ///
    /// ```
    /// # use ws_core::http::{IntoResponse, Request};
    /// # use ws_core::QueryError;
    /// #[derive(serde::Deserialize)]
    /// struct Page {
    ///     n: u32,
    ///     size: Option<u32>,
    /// }
    /// async fn list(req: Request) -> Result<String, QueryError> {
    ///     let page: Page = req.query_as()?; // `?n=x` answers 400
    ///     Ok(format!("page {} of size {}", page.n, page.size.unwrap_or(20)))
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// The query does not deserialize into `T` (a missing field, a value of the wrong type).
    pub fn query_as<T: DeserializeOwned>(&self) -> Result<T, QueryError> {
        serde_urlencoded::from_str(self.uri.query().unwrap_or("")).map_err(|e| QueryError {
            reason: e.to_string(),
        })
    }
    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
    /// A header value as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }
    /// The server (config name) the request arrived at.
    pub fn server(&self) -> &ServerName {
        &self.server
    }
    /// Whether this is a WebSocket handshake.
    pub fn is_upgrade(&self) -> bool {
        self.upgrade
    }
    /// Subprotocols the client offered (`Sec-WebSocket-Protocol`), in its order.
    pub fn offered_protocols(&self) -> &[String] {
        &self.protocols
    }
    /// The certificate the client presented in the TLS handshake, verified against the
    /// server's `tls_client_ca`; `None` on servers without one.
    pub fn client_cert(&self) -> Option<&ClientCert> {
        self.extensions.get()
    }
    /// Typed values that travel on to the connection context or the HTTP handler.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }
    /// Typed values that travel on to the connection context or the HTTP handler.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }
}

/// A query string that does not fit the type asked for ([`RequestHead::query_as`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad query string: {reason}")]
pub struct QueryError {
    reason: String,
}

impl QueryError {
    /// What serde said is wrong (e.g. `missing field `n``).
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// 400 Bad Request, saying what is wrong with the query.
impl From<QueryError> for Rejection {
    fn from(e: QueryError) -> Self {
        Self::bad_request(format!("{e}\n"))
    }
}

/// 400 Bad Request naming the parameter and saying why; 500 for a parameter the route's
/// pattern does not have.
impl From<ParamError> for Rejection {
    fn from(e: ParamError) -> Self {
        let status = if e.is_missing() {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::BAD_REQUEST
        };
        Self::new(status, format!("{e}\n"))
    }
}

/// A refusal from middleware or `on_handshake`: the HTTP status and body the client gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The status code.
    pub status: StatusCode,
    /// A plain-text body saying why.
    pub body: String,
    /// Extra response headers (e.g. `WWW-Authenticate`, `Retry-After`).
    pub headers: HeaderMap,
}

impl Rejection {
    /// A refusal with `status` and a plain-text `body`.
    pub fn new(status: StatusCode, body: impl Into<String>) -> Self {
        Self {
            status,
            body: body.into(),
            headers: HeaderMap::new(),
        }
    }

    /// The same refusal with one more response header.
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// 401 Unauthorized.
    pub fn unauthorized(body: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, body)
    }

    /// 403 Forbidden.
    pub fn forbidden(body: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, body)
    }

    /// 400 Bad Request.
    pub fn bad_request(body: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, body)
    }
}
