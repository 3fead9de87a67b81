//! tower layers on our HTTP routes, unchanged: tower-http's `TraceLayer`, `CorsLayer`,
//! `CompressionLayer` and `TimeoutLayer` registered with `#[middleware]` on a `fn` that
//! returns them, in the server's one priority-ordered middleware list, skipped on WebSocket
//! handshakes unless registered with `handshakes` (a layer of the test's own that refuses,
//! passes and spoils handshakes).

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

/// A tower layer on the `ws` server's handshakes to `/echo`: 401 without `x-token`; with
/// `x-spoil`, the upgrade's answer replaced by a 403 (the client gets no WebSocket); else the
/// answer passes, marked with `x-gate: passed`.
#[middleware(server = "ws", paths = ["/echo"], handshakes)]
fn gate() -> Gate {
    Gate
}

/// The layer of [`gate`].
#[derive(Debug, Clone)]
pub struct Gate;

impl<S> tower_layer::Layer<S> for Gate {
    type Service = GateService<S>;
    fn layer(&self, inner: S) -> GateService<S> {
        GateService(inner)
    }
}

/// [`Gate`]'s service.
#[derive(Debug, Clone)]
pub struct GateService<S>(S);

type Answer = http::Response<ws_core::http::Body>;

impl<S, B> tower_service::Service<http::Request<B>> for GateService<S>
where
    S: tower_service::Service<
            http::Request<B>,
            Response = Answer,
            Error = std::convert::Infallible,
        > + Send,
    S::Future: Send + 'static,
{
    type Response = Answer;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Answer, std::convert::Infallible>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let status = |code: StatusCode| {
            let mut r = http::Response::new(ws_core::http::Body::empty());
            *r.status_mut() = code;
            r
        };
        if !req.headers().contains_key("x-token") {
            return Box::pin(std::future::ready(Ok(status(StatusCode::UNAUTHORIZED))));
        }
        let spoil = req.headers().contains_key("x-spoil");
        let inner = self.0.call(req);
        Box::pin(async move {
            let mut answer = inner.await?;
            if spoil {
                return Ok(status(StatusCode::FORBIDDEN));
            }
            answer
                .headers_mut()
                .insert("x-gate", HeaderValue::from_static("passed"));
            Ok(answer)
        })
    }
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
         Accept-Encoding: gzip\r\nx-token: t\r\n\r\n"
    );
    let (status, text) = http_raw(addr, &handshake).await;
    assert_eq!(status, 101, "{text}");
    // (The one layer with `handshakes` on `/echo` saw it.)
    assert_eq!(header(&text, "x-gate"), Some("passed"), "{text}");
    assert!(header(&text, "content-encoding").is_none(), "{text}");
    assert!(header(&text, "vary").is_none(), "{text}");
    running.shutdown().await;
}

#[tokio::test]
async fn a_layer_with_handshakes_refuses_passes_and_spoils_handshakes() {
    let mut config = test_config();
    // One WebSocket at a time: a spoiled handshake must give its place back.
    config.servers.get_mut("ws").unwrap().max_connections = 1;
    let running = start(config).await;
    let addr = running.local_addr("ws").unwrap();
    let handshake = |extra: &str| {
        format!(
            "GET /echo HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        )
    };

    // Refused by the layer before the upgrade.
    let (status, text) = http_raw(addr, &handshake("")).await;
    assert_eq!(status, 401, "{text}");

    // Spoiled after it: the layer replaced the 101; again and again, and each time the place
    // the handshake held is given back.
    for _ in 0..3 {
        let (status, text) = http_raw(addr, &handshake("x-token: t\r\nx-spoil: 1\r\n")).await;
        assert_eq!(status, 403, "{text}");
    }

    // Passed: a real WebSocket through the layer, its 101 marked by it.
    let url = format!("ws://{addr}/echo");
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            url.as_str(),
        )
        .unwrap();
    request
        .headers_mut()
        .insert("x-token", HeaderValue::from_static("t"));
    // The spoiled handshakes' tasks end as soon as hyper answers without upgrading, which
    // may be a moment after the client read the 403: a leaked place would stay taken (503).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let (mut ws, response) = loop {
        match within(
            "handshake",
            tokio_tungstenite::connect_async(request.clone()),
        )
        .await
        {
            Ok(done) => break done,
            Err(e) if std::time::Instant::now() < deadline => {
                eprintln!("not yet: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the one place is free again: {e}"),
        }
    };
    assert_eq!(response.status(), 101);
    assert_eq!(
        response.headers().get("x-gate").map(|v| v.as_bytes()),
        Some(&b"passed"[..])
    );
    use futures_util::{SinkExt, StreamExt};
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        "through the gate",
    ))
    .await
    .unwrap();
    let echoed = within("echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(echoed.into_text().unwrap().as_str(), "through the gate");
    ws.close(None).await.unwrap();
    running.shutdown().await;
}
