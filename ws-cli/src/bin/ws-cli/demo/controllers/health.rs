//! Server `http`: a health check and the chat page.

use ws_core::http::{Request, Response};
use ws_core::http_route;

/// `GET /health`: 200 `ok`.
#[http_route(server = "http", method = "GET", path = "/health")]
pub async fn health(_req: Request) -> &'static str {
    "ok"
}

/// `GET /`: a page whose script talks to `/chat` on the `ws` server.
#[http_route(server = "http", method = "GET", path = "/")]
pub async fn index(req: Request) -> Response {
    let ws = req
        .local_addr("ws")
        .map_or_else(|| "127.0.0.1:9502".to_owned(), |a| a.to_string());
    // `wss:` when the `ws` server speaks TLS (a page served over https may not open `ws:`).
    let tls = req.config().server("ws").is_some_and(|s| s.tls());
    let scheme = if tls { "wss" } else { "ws" };
    Response::html(
        include_str!("../assets/chat.html")
            .replace("{{WS_ADDR}}", &ws)
            .replace("{{WS_SCHEME}}", scheme),
    )
}

/// `GET /health` on the `ws` server too: plain HTTP beside the WebSocket routes on one port.
#[http_route(server = "ws", method = "GET", path = "/health")]
pub async fn ws_health(_req: Request) -> &'static str {
    "ok"
}
