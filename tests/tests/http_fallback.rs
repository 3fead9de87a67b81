//! A server's fallback tower service (an axum `Router`): it gets what no route takes, behind
//! the server's middleware (not the `paths` guards of other routes), with its bodies bounded
//! by `max_http_body`; `hand_over` refuses a path with no WebSocket route, and a handshake it
//! hands over passes the `paths` guards of its route; two fallbacks on one server stop the
//! start, naming both.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use axum::extract::Request as AxumRequest;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use ws_core::http::{hand_over, Request};
use ws_core::registry::{HttpFallbackDef, Registry};
use ws_core::{
    http_fallback, http_route, middleware, ws_controller, App, Conn, Controller, HookResult,
    Middleware, Rejection, RequestHead,
};
use ws_tests::{http_get, http_raw, start, test_config};

#[http_fallback(server = "http")]
fn api() -> axum::Router {
    axum::Router::new()
        .route(
            "/api/who",
            get(|req: AxumRequest| async move {
                // What our middleware set reaches the service in its extensions.
                let who = req.extensions().get::<Who>().map_or("?", |w| w.0);
                format!("axum sees {who}")
            }),
        )
        .route("/api/echo", post(|body: String| async move { body }))
        .route(
            "/api/live",
            get(|req: AxumRequest| async move { hand_over(req, "/live").await.into_response() }),
        )
        .route(
            "/api/topics/{topic}",
            get(|req: AxumRequest| async move {
                let topic = req
                    .uri()
                    .path()
                    .trim_start_matches("/api/topics/")
                    .to_owned();
                hand_over(req, &format!("/topics/{topic}"))
                    .await
                    .into_response()
            }),
        )
        .route(
            "/api/nowhere",
            get(|req: AxumRequest| async move {
                hand_over(req, "/no-such-route").await.into_response()
            }),
        )
}

#[http_route(server = "http", path = "/ours")]
async fn ours(_req: Request) -> &'static str {
    "ours"
}

#[derive(Debug, Clone)]
struct Who(&'static str);

/// On every request of server `http`: refuses `x-deny`, marks the rest.
#[middleware(server = "http")]
#[derive(Debug)]
pub struct Mark;
impl Middleware for Mark {
    async fn handle(&self, req: &mut RequestHead) -> Result<(), Rejection> {
        if req.header("x-deny").is_some() {
            return Err(Rejection::forbidden("denied\n"));
        }
        req.extensions_mut().insert(Who("the mark"));
        Ok(())
    }
}

/// A guard of `/ours` only: not on the fallback's requests.
#[middleware(server = "http", paths = ["/ours"])]
#[derive(Debug)]
pub struct OursOnly;
impl Middleware for OursOnly {
    async fn handle(&self, _req: &mut RequestHead) -> Result<(), Rejection> {
        Err(Rejection::forbidden("ours is closed\n"))
    }
}

/// The WebSocket route that `/api/live` hands its handshakes over to: says who it is.
#[ws_controller(server = "http", path = "/live")]
#[derive(Debug)]
pub struct Live;
impl Controller for Live {
    async fn on_open(&self, cx: &mut Conn) -> HookResult {
        cx.send("live").await?;
        Ok(())
    }
}

/// A route with a parameter, reached by a hand-over to a path it matches.
#[ws_controller(server = "http", path = "/topics/{topic}")]
#[derive(Debug)]
pub struct Topic;
impl Controller for Topic {
    async fn on_open(&self, cx: &mut Conn) -> HookResult {
        let topic = cx.param("topic").unwrap_or("?").to_owned();
        cx.send(format!("topic {topic}")).await?;
        Ok(())
    }
}

/// A guard of `/live` only: handed-over handshakes pass it too.
#[middleware(server = "http", paths = ["/live"])]
#[derive(Debug)]
pub struct LiveKey;
impl Middleware for LiveKey {
    async fn handle(&self, req: &mut RequestHead) -> Result<(), Rejection> {
        match req.header("x-live-key") {
            Some("open") => Ok(()),
            _ => Err(Rejection::new(
                ws_core::http::StatusCode::UNAUTHORIZED,
                "no live key\n",
            )),
        }
    }
}

fn body(text: &str) -> &str {
    text.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[tokio::test]
async fn the_fallback_answers_what_no_route_takes_behind_the_middleware() {
    let mut config = test_config();
    config.servers.get_mut("http").unwrap().max_http_body = 64;
    let running = start(config).await;
    let addr = running.local_addr("http").unwrap();

    let (status, text) = http_get(addr, "/api/who").await;
    assert_eq!((status, body(&text)), (200, "axum sees the mark"), "{text}");
    let (status, text) = http_get(addr, "/ours").await;
    assert_eq!((status, body(&text)), (403, "ours is closed\n"), "{text}");
    let (status, _) = http_get(addr, "/nothing/here").await;
    assert_eq!(status, 404, "axum's own 404");
    let deny =
        format!("GET /api/who HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nX-Deny: 1\r\n\r\n");
    let (status, text) = http_raw(addr, &deny).await;
    assert_eq!((status, body(&text)), (403, "denied\n"), "{text}");

    let post = |body: &str| {
        format!(
            "POST /api/echo HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let (status, text) = http_raw(addr, &post("small")).await;
    assert_eq!((status, body(&text)), (200, "small"), "{text}");
    // Over `max_http_body`: axum reads the limit's error and answers 413.
    let (status, text) = http_raw(addr, &post(&"x".repeat(100))).await;
    assert_eq!(status, 413, "{text}");

    // A hand-over to a path with no WebSocket route.
    let handshake = format!(
        "GET /api/nowhere HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let (status, text) = http_raw(addr, &handshake).await;
    assert_eq!(status, 404, "{text}");
    assert!(
        body(&text).contains("no WebSocket route `/no-such-route` on server `http`"),
        "{text}"
    );

    // A hand-over to `/live` passes that route's guard: refused without its key...
    let (status, text) = http_raw(addr, &handshake.replace("/api/nowhere", "/api/live")).await;
    assert_eq!((status, body(&text)), (401, "no live key\n"), "{text}");
    // ...and the server's guard without `paths` ran once, on the way to the fallback.
    let denied = handshake
        .replace("/api/nowhere", "/api/live")
        .replace("\r\n\r\n", "\r\nx-live-key: open\r\nx-deny: 1\r\n\r\n");
    let (status, text) = http_raw(addr, &denied).await;
    assert_eq!((status, body(&text)), (403, "denied\n"), "{text}");
    // With the key: the WebSocket of `/live`.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{addr}/api/live"
        ))
        .unwrap();
    request
        .headers_mut()
        .insert("x-live-key", http::HeaderValue::from_static("open"));
    let (mut ws, response) =
        ws_tests::within("handshake", tokio_tungstenite::connect_async(request))
            .await
            .unwrap();
    assert_eq!(response.status(), 101);
    let first = ws_tests::within("first message", futures_util::StreamExt::next(&mut ws))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.into_text().unwrap().as_str(), "live");
    drop(ws);

    // A hand-over to a path that a pattern matches: the route gets its parameter.
    let (mut ws, _) = ws_tests::within(
        "handshake",
        tokio_tungstenite::connect_async(format!("ws://{addr}/api/topics/rust%20lang")),
    )
    .await
    .unwrap();
    let first = ws_tests::within("first message", futures_util::StreamExt::next(&mut ws))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.into_text().unwrap().as_str(), "topic rust lang");
    drop(ws);
    running.shutdown().await;
}

fn build_b() -> Result<ws_core::__private::HttpFallback, ws_core::StartupError> {
    Ok(ws_core::__private::fallback(api()))
}

static SECOND: [HttpFallbackDef; 2] = [
    HttpFallbackDef {
        origin: ws_core::Origin {
            name: "first::api",
            file: "first.rs",
            line: 1,
        },
        server: "http",
        deps: &[],
        build: |_| build_b(),
    },
    HttpFallbackDef {
        origin: ws_core::Origin {
            name: "second::api",
            file: "second.rs",
            line: 2,
        },
        server: "http",
        deps: &[],
        build: |_| build_b(),
    },
];

#[test]
fn two_fallbacks_on_one_server_stop_the_start() {
    let registry = Registry {
        http_fallbacks: &SECOND,
        ..Registry::linked()
    };
    let err = App::from_registry(registry, test_config())
        .unwrap_err()
        .to_string();
    assert!(err.contains("first::api"), "{err}");
    assert!(err.contains("second::api"), "{err}");
    assert!(err.contains("server `http`"), "{err}");
}
