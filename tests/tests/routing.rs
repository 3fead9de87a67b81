//! Path patterns (`/rooms/{id}`, `/files/{*path}`) on HTTP routes, controllers and handlers,
//! their values in middleware, hooks and routes, precedence, 404, and typed query strings.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use serde::Deserialize;
use ws_core::http::Request;
use ws_core::testing::TestServer;
use ws_core::{
    http_route, middleware, ws_controller, ws_handler, Conn, Controller, HookResult, Message,
    Middleware, ParamError, QueryError, Recv, Rejection, RequestHead, WebSocket,
};
use ws_tests::test_config;

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

/// `GET /typed/{id}`: the parameter as a number, or 400 saying why.
#[http_route(server = "http", path = "/typed/{id}")]
async fn typed(req: Request) -> Result<String, ParamError> {
    let id: u64 = req.param_as("id")?;
    Ok(format!("id {id} + 1 = {}", id + 1))
}

/// Asks for a parameter its pattern does not have: a mistake of the app, 500.
#[http_route(server = "http", path = "/untyped/{name}")]
async fn untyped(req: Request) -> Result<String, ParamError> {
    let id: u64 = req.param_as("id")?;
    Ok(format!("id {id}"))
}

/// Counts up from its `{start}`; a start that is no number fails `on_open` (1011).
#[ws_controller(server = "ws", path = "/count/{start}")]
#[derive(Debug, Default)]
pub struct CountFrom;
impl Controller for CountFrom {
    async fn on_open(&self, cx: &mut Conn) -> HookResult {
        let start: u32 = cx.param_as("start")?;
        cx.send(format!("{}", start + 1)).await?;
        Ok(())
    }
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

#[tokio::test]
async fn http_routes_take_parameters_and_wildcards() {
    let server = TestServer::start(test_config()).await;

    // Listed (`ws-cli routes`, start-up logs) as written.
    let lines: Vec<String> = (server.app().routes())
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

    let r = server.get("http", "/rooms/42").await;
    assert_eq!((r.status().as_u16(), r.text()), (200, "room 42"), "{r:?}");
    // Percent-decoded.
    let r = server.get("http", "/rooms/a%20b").await;
    assert_eq!((r.status().as_u16(), r.text()), (200, "room a b"), "{r:?}");
    // The static route wins over `{id}`.
    let r = server.get("http", "/rooms/new").await;
    assert_eq!(
        (r.status().as_u16(), r.text()),
        (200, "the new-room form"),
        "{r:?}"
    );
    // The guard on `/rooms/{id}` sees the parameter.
    let r = server.get("http", "/rooms/secret").await;
    assert_eq!(
        (r.status().as_u16(), r.text()),
        (403, "not this room"),
        "{r:?}"
    );

    let r = server.get("http", "/files/docs/a/b.txt").await;
    assert_eq!(
        (r.status().as_u16(), r.text()),
        (200, "file docs/a/b.txt"),
        "{r:?}"
    );

    // No match: 404, and the demo's exact routes still answer.
    for path in ["/rooms", "/rooms/1/extra", "/files/", "/nothing/here"] {
        let r = server.get("http", path).await;
        assert_eq!(r.status(), 404, "{path}: {r:?}");
    }
    let r = server.get("http", "/health").await;
    assert_eq!((r.status().as_u16(), r.text()), (200, "ok"), "{r:?}");

    // A parameter that is not UTF-8 once decoded.
    let r = server.get("http", "/rooms/%FF").await;
    assert_eq!(r.status(), 400, "{r:?}");
    assert!(r.text().contains("`id`"), "{r:?}");
    server.stop().await;
}

#[tokio::test]
async fn query_strings_parse_into_typed_structs() {
    let server = TestServer::start(test_config()).await;

    let r = server.get("http", "/search?q=rust%20ws&limit=3").await;
    assert_eq!(
        (r.status().as_u16(), r.text()),
        (200, "q=rust ws limit=3"),
        "{r:?}"
    );
    let r = server.get("http", "/search?q=x").await;
    assert_eq!(
        (r.status().as_u16(), r.text()),
        (200, "q=x limit=10"),
        "{r:?}"
    );

    let r = server.get("http", "/search?q=x&limit=many").await;
    assert_eq!(r.status(), 400, "{r:?}");
    assert!(r.text().starts_with("bad query string:"), "{r:?}");
    let r = server.get("http", "/search").await;
    assert_eq!(r.status(), 400, "{r:?}");
    assert!(r.text().contains("missing field `q`"), "{r:?}");
    server.stop().await;
}

#[tokio::test]
async fn controllers_and_handlers_take_parameters() {
    let server = TestServer::start(test_config()).await;

    let mut lobby = server.connect("ws", "/chat/lobby").await;
    assert_eq!(lobby.recv_text().await, "joined lobby at /chat/{room}");
    let mut other = server.connect("ws", "/chat/room%202").await;
    assert_eq!(other.recv_text().await, "joined room 2 at /chat/{room}");
    // For the connection's life, each its own.
    lobby.send_text("hi").await;
    other.send_text("yo").await;
    assert_eq!(lobby.recv_text().await, "hi in lobby");
    assert_eq!(other.recv_text().await, "yo in room 2");

    // The handshake hook refuses by parameter.
    let refused = server.client("ws", "/chat/closed").reject().await;
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(refused.body.ends_with("room closed"), "{refused:?}");
    // The demo's exact `/chat` is still its own route.
    let mut chat = server.connect("ws", "/chat").await;
    chat.send_text("/whoami").await;
    assert!(chat.recv_text().await.starts_with("id "));
    // No match.
    let refused = server.client("ws", "/chat/a/b").reject().await;
    assert_eq!(refused.status, 404, "{refused:?}");

    let mut feed = server.connect("ws", "/feed/news").await;
    feed.send_text("one").await;
    assert_eq!(feed.recv_text().await, "news: one");
    server.stop().await;
}

#[tokio::test]
async fn parameters_parse_into_types() {
    let server = TestServer::start(test_config()).await;
    let r = server.get("http", "/typed/41").await;
    assert_eq!(
        (r.status().as_u16(), r.text()),
        (200, "id 41 + 1 = 42"),
        "{r:?}"
    );
    let r = server.get("http", "/typed/forty").await;
    assert_eq!(r.status(), 400, "{r:?}");
    assert!(
        r.text()
            .starts_with("path parameter `id`: \"forty\" is not valid: "),
        "{r:?}"
    );
    let r = server.get("http", "/untyped/x").await;
    assert_eq!(r.status(), 500, "{r:?}");
    assert!(r.text().contains("has no such parameter"), "{r:?}");

    let mut count = server.connect("ws", "/count/9").await;
    assert_eq!(count.recv_text().await, "10");
    let mut bad = server.connect("ws", "/count/nine").await;
    bad.expect_close(ws_core::CloseCode::INTERNAL).await;
    server.stop().await;
}
