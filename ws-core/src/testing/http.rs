//! HTTP requests without a socket: [`oneshot`], [`TestRequest`], [`TestResponse`].

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST};
use http::{HeaderMap, Method, StatusCode};
use http_body_util::Full;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::app::App;

/// An HTTP request for [`oneshot`]: a method, a path with its query, headers and a body.
/// `http::Request<B>` (with a body that converts into `Bytes`) converts into one too.
#[derive(Debug, Clone)]
pub struct TestRequest {
    method: Method,
    uri: String,
    headers: HeaderMap,
    body: Bytes,
}

impl TestRequest {
    /// `METHOD path` (the path may carry a query: `/rooms/7?n=2`).
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            uri: path.into(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// `GET path`.
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    /// `POST path`.
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }

    /// Adds a header; panics if the name or value is not valid in HTTP.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name =
            HeaderName::try_from(name).unwrap_or_else(|e| panic!("header name {name:?}: {e}"));
        let value =
            HeaderValue::try_from(value).unwrap_or_else(|e| panic!("header value {value:?}: {e}"));
        self.headers.append(name, value);
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the body to `value` as JSON, with `Content-Type: application/json`.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        let json = serde_json::to_vec(value).unwrap_or_else(|e| panic!("JSON body: {e}"));
        self.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.body = json.into();
        self
    }

    fn into_http(self) -> http::Request<Full<Bytes>> {
        let mut request = http::Request::new(Full::new(self.body));
        *request.method_mut() = self.method;
        *request.uri_mut() = self
            .uri
            .parse()
            .unwrap_or_else(|e| panic!("request path {:?}: {e}", self.uri));
        *request.headers_mut() = self.headers;
        if !request.headers().contains_key(HOST) {
            request
                .headers_mut()
                .insert(HOST, HeaderValue::from_static("localhost"));
        }
        request
    }
}

impl<B: Into<Bytes>> From<http::Request<B>> for TestRequest {
    fn from(request: http::Request<B>) -> Self {
        let (parts, body) = request.into_parts();
        Self {
            method: parts.method,
            uri: parts.uri.to_string(),
            headers: parts.headers,
            body: body.into(),
        }
    }
}

/// The response to a [`oneshot`] request, body read whole.
#[derive(Debug, Clone)]
pub struct TestResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl TestResponse {
    /// The status code (compares with a number: `assert_eq!(r.status(), 200)`).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The value of header `name`, if it is there and is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The body as text; panics if it is not UTF-8.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body)
            .unwrap_or_else(|e| panic!("the body is not UTF-8 ({e}): {:?}", self.body))
    }

    /// The body parsed as JSON into `T`; panics (showing the body) if it does not parse.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "the body is not the JSON expected ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Sends `request` to server `server` of `app` and returns the response, with no socket: the
/// request is served as one from the network is (route lookup, the server's middleware, body
/// limits, the handler, 404 and 405, the metrics), over an in-memory pipe. The app need not
/// be started ([`App::build`] is enough). The routes see the peer `127.0.0.1:0`.
///
/// WebSocket routes take a [`TestClient`](super::TestClient) instead.
///
/// ```
/// use ws_core::http::{Request, StatusCode};
/// use ws_core::testing::{config, oneshot, TestRequest};
/// use ws_core::{http_route, middleware, App, Middleware, Rejection, RequestHead};
///
/// #[http_route(server = "http", method = "POST", path = "/double")]
/// async fn double(req: Request) -> String {
///     let n: u64 = std::str::from_utf8(req.body()).unwrap().parse().unwrap();
///     (2 * n).to_string()
/// }
///
/// /// Refuses requests without `x-key`.
/// #[middleware(server = "http")]
/// pub struct Key;
/// impl Middleware for Key {
///     async fn handle(&self, req: &mut RequestHead) -> Result<(), Rejection> {
///         req.header("x-key").map(drop).ok_or(Rejection::unauthorized("key?"))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = App::build(config()).unwrap(); // built, not started: no port is bound
/// let r = oneshot(&app, "http", TestRequest::post("/double").body("21")).await;
/// assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
/// let r = oneshot(&app, "http", TestRequest::post("/double").header("x-key", "k").body("21")).await;
/// assert_eq!((r.status(), r.text()), (StatusCode::OK, "42"));
/// let r = oneshot(&app, "http", TestRequest::get("/double").header("x-key", "k")).await;
/// assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
/// # }
/// ```
pub async fn oneshot(app: &App, server: &str, request: impl Into<TestRequest>) -> TestResponse {
    let Some((ctx, routes)) = app.server_parts(server) else {
        let names: Vec<_> = app.routes().map(|(name, _)| name.to_string()).collect();
        panic!("no server `{server}` in the app (servers: {names:?})");
    };
    let request = request.into().into_http();
    let what = format!("{} {}", request.method(), request.uri());
    let future = crate::server::oneshot::oneshot(ctx, routes, request);
    match super::within(&format!("the response to {what}"), future).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            TestResponse {
                status: parts.status,
                headers: parts.headers,
                body,
            }
        }
        Err(e) => panic!("{what}: the HTTP exchange failed: {e}"),
    }
}
