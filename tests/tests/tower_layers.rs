//! tower layers on our HTTP routes, unchanged: tower-http's `TraceLayer`, `CorsLayer`,
//! `CompressionLayer` and `TimeoutLayer` registered with `#[middleware]` on a `fn` that
//! returns them, in the server's one priority-ordered middleware list, skipped on WebSocket
//! handshakes.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnRequest, OnResponse, TraceLayer};
use ws_core::http::header::HeaderValue;
use ws_core::http::{Method, Request, StatusCode};
use ws_core::{http_route, middleware, singleton, Inject, Middleware, Rejection, RequestHead};
use ws_tests::{http_get, http_raw, start, test_config, within};

/// What the trace layer saw.
#[singleton]
#[derive(Debug)]
pub struct Traced {
    #[default]
    responses: AtomicUsize,
    #[default]
    last_status: AtomicUsize,
}

/// tower-http's `OnResponse`: counts the responses the layer traced.
#[derive(Debug, Clone)]
pub struct Count(Inject<Traced>);

impl<B> OnResponse<B> for Count {
    fn on_response(self, res: &http::Response<B>, _: Duration, _: &tracing::Span) {
        self.0.responses.fetch_add(1, Ordering::Relaxed);
        self.0
            .last_status
            .store(res.status().as_u16().into(), Ordering::Relaxed);
    }
}

type Trace =
    TraceLayer<SharedClassifier<ServerErrorsAsFailures>, DefaultMakeSpan, DefaultOnRequest, Count>;

/// Outermost on server `http`: every request, refusals included.
#[middleware(server = "http", priority = -20)]
fn trace(traced: Inject<Traced>) -> Trace {
    TraceLayer::new_for_http().on_response(Count(traced))
}

#[middleware(server = "http", paths = ["/cors"])]
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(HeaderValue::from_static("https://app.example"))
        .allow_methods([Method::GET, Method::POST])
}

#[middleware(server = "http", paths = ["/big"])]
fn compression() -> CompressionLayer {
    CompressionLayer::new()
}

#[middleware(server = "http", paths = ["/slow"])]
fn timeout() -> TimeoutLayer {
    TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_millis(200))
}

/// A guard inside the trace layer: its refusal is traced too.
#[middleware(server = "http", paths = ["/big"])]
#[derive(Debug)]
pub struct NoSecret;
impl Middleware for NoSecret {
    async fn handle(&self, req: &mut RequestHead) -> Result<(), Rejection> {
        match req.query() {
            Some("secret") => Err(Rejection::forbidden("no\n")),
            _ => Ok(()),
        }
    }
}

/// A layer on the `ws` server: handshakes go past it.
#[middleware(server = "ws")]
fn ws_compression() -> CompressionLayer {
    CompressionLayer::new()
}

#[http_route(server = "http", path = "/cors")]
async fn cors_route(_req: Request) -> &'static str {
    "shared"
}

#[http_route(server = "http", path = "/big")]
async fn big(_req: Request) -> String {
    "all work and no play makes jack a dull boy\n".repeat(500)
}

#[http_route(server = "http", path = "/slow")]
async fn slow(_req: Request) -> &'static str {
    tokio::time::sleep(Duration::from_secs(60)).await;
    "too late"
}

fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.split("\r\n\r\n").next()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A whole response read until the server closes (`Connection: close`).
async fn get_all(addr: std::net::SocketAddr, request: &str) -> Vec<u8> {
    let mut s = within("connect", TcpStream::connect(addr)).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    within("response", s.read_to_end(&mut out)).await.unwrap();
    out
}

#[tokio::test]
async fn tower_http_layers_work_unchanged_on_our_routes() {
    let running = start(test_config()).await;
    let addr = running.local_addr("http").unwrap();
    let lines: Vec<String> = running
        .app()
        .routes()
        .flat_map(|(_, r)| r.describe())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l == "MW    priority=-20 -> tower_layers::trace"),
        "{lines:#?}"
    );

    // CORS: the preflight of a method the route does not take reaches the layer.
    let preflight = format!(
        "OPTIONS /cors HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Origin: https://app.example\r\nAccess-Control-Request-Method: POST\r\n\r\n"
    );
    let (status, text) = http_raw(addr, &preflight).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        header(&text, "access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(
        header(&text, "access-control-allow-methods")
            .unwrap()
            .contains("POST"),
        "{text}"
    );
    let get = format!(
        "GET /cors HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nOrigin: https://app.example\r\n\r\n"
    );
    let (status, text) = http_raw(addr, &get).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        header(&text, "access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(text.ends_with("shared"), "{text}");
    // Without the layer's path: no CORS headers, and the method check is ours (405).
    let (status, text) = http_raw(
        addr,
        &format!("DELETE /big HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 405, "{text}");
    assert_eq!(header(&text, "allow"), Some("GET"));

    // Compression: gzip when asked, the body much smaller than the 21,500 bytes.
    let raw = get_all(
        addr,
        &format!("GET /big HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept-Encoding: gzip\r\n\r\n"),
    )
    .await;
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert_eq!(header(&text, "content-encoding"), Some("gzip"), "{text}");
    assert!(raw.len() < 2_000, "{} bytes", raw.len());
    let (status, text) = http_get(addr, "/big").await;
    assert_eq!(status, 200);
    assert!(
        header(&text, "content-encoding").is_none(),
        "not asked: {text}"
    );

    // Timeout: tower-http answers for a route that takes too long.
    let (status, text) = http_get(addr, "/slow").await;
    assert_eq!(status, 408, "{text}");

    // Trace: every request so far went through it, the guard's refusal included.
    let before = running_count(&running);
    let (status, _) = http_get(addr, "/big?secret").await;
    assert_eq!(status, 403);
    let traced = running_count(&running);
    assert_eq!(traced.0, before.0 + 1, "{before:?} -> {traced:?}");
    assert_eq!(traced.1, 403);
    assert_eq!(before.0, 6, "6 requests before");
    running.shutdown().await;
}

/// (responses traced, last status), read through a route-less peek at the singleton.
fn running_count(running: &ws_core::Running) -> (usize, usize) {
    let traced = running.app().singleton::<Traced>().unwrap();
    (
        traced.responses.load(Ordering::Relaxed),
        traced.last_status.load(Ordering::Relaxed),
    )
}

#[tokio::test]
async fn layers_do_not_run_on_websocket_handshakes() {
    let running = start(test_config()).await;
    let addr = running.local_addr("ws").unwrap();
    let handshake = format!(
        "GET /echo HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Accept-Encoding: gzip\r\n\r\n"
    );
    let (status, text) = http_raw(addr, &handshake).await;
    assert_eq!(status, 101, "{text}");
    assert!(header(&text, "content-encoding").is_none(), "{text}");
    assert!(header(&text, "vary").is_none(), "{text}");
    running.shutdown().await;
}
