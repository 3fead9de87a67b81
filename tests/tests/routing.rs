//! Path patterns (`/rooms/{id}`, `/files/{*path}`) on HTTP routes, controllers and handlers,
//! their values in middleware, hooks and routes, precedence, 404, and typed query strings.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use serde::Deserialize;
use ws_core::http::Request;
use ws_core::{
    http_route, middleware, ws_controller, ws_handler, Conn, Controller, HookResult, Message,
    Middleware, QueryError, Recv, Rejection, RequestHead, WebSocket,
};
use ws_tests::{http_get, http_raw, start, test_config, within, RawClient};

#[http_route(server = "http", path = "/rooms/{id}")]
async fn room(req: Request) -> String {
    format!("room {}", req.param("id").unwrap_or("?"))
}

/// A static segment outranks `{id}`.
#[http_route(server = "http", path = "/rooms/new")]
async fn new_room(_req: Request) -> &'static str {
    "the new-room form"
}

#[http_route(server = "http", path = "/files/{*path}")]
async fn file(req: Request) -> String {
    format!("file {}", req.param("path").unwrap_or("?"))
}

/// Guards every room; sees the parameter before the route does.
#[middleware(server = "http", paths = ["/rooms/{id}"])]
#[derive(Debug)]
pub struct NoSecretRoom;
impl Middleware for NoSecretRoom {
    async fn handle(&self, req: &mut RequestHead) -> Result<(), Rejection> {
        match req.param("id") {
            Some("secret") => Err(Rejection::forbidden("not this room")),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Search {
    q: String,
    limit: Option<u32>,
}

#[http_route(server = "http", path = "/search")]
async fn search(req: Request) -> Result<String, QueryError> {
    let s: Search = req.query_as()?;
    Ok(format!("q={} limit={}", s.q, s.limit.unwrap_or(10)))
}

/// Reads its room in the handshake (refusing one) and for the connection's life.
#[ws_controller(server = "ws", path = "/chat/{room}")]
#[derive(Debug, Default)]
pub struct RoomChat;
impl Controller for RoomChat {
    async fn on_handshake(&self, req: &mut RequestHead) -> Result<(), Rejection> {
        match req.param("room") {
            Some("closed") => Err(Rejection::forbidden("room closed")),
            Some(_) => Ok(()),
            None => Err(Rejection::bad_request("no room parameter")),
        }
    }
    async fn on_open(&self, cx: &mut Conn) -> HookResult {
        let text = format!(
            "joined {} at {}",
            cx.param("room").unwrap_or("?"),
            cx.path()
        );
        cx.send(text).await?;
        Ok(())
    }
    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        let text = format!(
            "{} in {}",
            msg.as_text().unwrap_or(""),
            cx.param("room").unwrap_or("?")
        );
        cx.send(text).await?;
        Ok(())
    }
}

#[ws_handler(server = "ws", path = "/feed/{topic}")]
async fn feed(mut ws: WebSocket) {
    let topic = ws.param("topic").unwrap_or("?").to_owned();
    while let Recv::Message(msg) = ws.recv().await {
        let reply = format!("{topic}: {}", msg.as_text().unwrap_or(""));
        if ws.push(reply).await.is_err() {
            break;
        }
    }
}

fn body(text: &str) -> &str {
    text.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[tokio::test]
async fn http_routes_take_parameters_and_wildcards() {
    let running = start(test_config()).await;
    let addr = running.local_addr("http").unwrap();

    // Listed (`ws-cli routes`, start-up logs) as written.
    let lines: Vec<String> = (running.app().routes())
        .flat_map(|(_, r)| r.describe())
        .collect();
    for line in [
        "GET   /rooms/{id} -> routing::room",
        "GET   /files/{*path} -> routing::file",
        "WS    /chat/{room} -> routing::RoomChat",
        "MW    priority=0 paths=/rooms/{id} -> routing::NoSecretRoom",
    ] {
        assert!(lines.iter().any(|l| l == line), "{line}: {lines:#?}");
    }

    let (status, text) = http_get(addr, "/rooms/42").await;
    assert_eq!((status, body(&text)), (200, "room 42"), "{text}");
    // Percent-decoded.
    let (status, text) = http_get(addr, "/rooms/a%20b").await;
    assert_eq!((status, body(&text)), (200, "room a b"), "{text}");
    // The static route wins over `{id}`.
    let (status, text) = http_get(addr, "/rooms/new").await;
    assert_eq!((status, body(&text)), (200, "the new-room form"), "{text}");
    // The guard on `/rooms/{id}` sees the parameter.
    let (status, text) = http_get(addr, "/rooms/secret").await;
    assert_eq!((status, body(&text)), (403, "not this room"), "{text}");

    let (status, text) = http_get(addr, "/files/docs/a/b.txt").await;
    assert_eq!((status, body(&text)), (200, "file docs/a/b.txt"), "{text}");

    // No match: 404, and the demo's exact routes still answer.
    for path in ["/rooms", "/rooms/1/extra", "/files/", "/nothing/here"] {
        let (status, text) = http_get(addr, path).await;
        assert_eq!(status, 404, "{path}: {text}");
    }
    let (status, text) = http_get(addr, "/health").await;
    assert_eq!((status, body(&text)), (200, "ok"), "{text}");

    // A parameter that is not UTF-8 once decoded.
    let (status, text) = http_get(addr, "/rooms/%FF").await;
    assert_eq!(status, 400, "{text}");
    assert!(body(&text).contains("`id`"), "{text}");
    running.shutdown().await;
}

#[tokio::test]
async fn query_strings_parse_into_typed_structs() {
    let running = start(test_config()).await;
    let addr = running.local_addr("http").unwrap();

    let (status, text) = http_get(addr, "/search?q=rust%20ws&limit=3").await;
    assert_eq!((status, body(&text)), (200, "q=rust ws limit=3"), "{text}");
    let (status, text) = http_get(addr, "/search?q=x").await;
    assert_eq!((status, body(&text)), (200, "q=x limit=10"), "{text}");

    let (status, text) = http_get(addr, "/search?q=x&limit=many").await;
    assert_eq!(status, 400, "{text}");
    assert!(body(&text).starts_with("bad query string:"), "{text}");
    let (status, text) = http_get(addr, "/search").await;
    assert_eq!(status, 400, "{text}");
    assert!(body(&text).contains("missing field `q`"), "{text}");
    running.shutdown().await;
}

fn upgrade(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

#[tokio::test]
async fn controllers_and_handlers_take_parameters() {
    let running = start(test_config()).await;
    let addr = running.local_addr("ws").unwrap();

    let mut lobby = RawClient::connect(addr, "/chat/lobby").await;
    assert_eq!(lobby.recv_text().await, "joined lobby at /chat/{room}");
    let mut other = RawClient::connect(addr, "/chat/room%202").await;
    assert_eq!(other.recv_text().await, "joined room 2 at /chat/{room}");
    // For the connection's life, each its own.
    lobby.send_text("hi").await;
    other.send_text("yo").await;
    assert_eq!(lobby.recv_text().await, "hi in lobby");
    assert_eq!(other.recv_text().await, "yo in room 2");

    // The handshake hook refuses by parameter.
    let (status, text) = http_raw(addr, &upgrade("/chat/closed")).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.ends_with("room closed"), "{text}");
    // The demo's exact `/chat` is still its own route.
    let mut chat = RawClient::connect(addr, "/chat").await;
    chat.send_text("/whoami").await;
    assert!(chat.recv_text().await.starts_with("id "));
    // No match.
    let (status, text) = http_raw(addr, &upgrade("/chat/a/b")).await;
    assert_eq!(status, 404, "{text}");

    let mut feed = RawClient::connect(addr, "/feed/news").await;
    feed.send_text("one").await;
    assert_eq!(within("feed", feed.recv_text()).await, "news: one");
    running.shutdown().await;
}
