//! Run with `cargo run -p ws-examples --example axum_interop -- start`, then
//! `curl http://127.0.0.1:9501/api/hello/you` (axum), `curl http://127.0.0.1:9501/health`
//! (ours), and open `ws://127.0.0.1:9501/api/chat?user=ann` (axum checks the user, then
//! hands the upgrade to our `Chat` controller).
//!
//! An axum `Router` beside attribute controllers on one server: the router is the `http`
//! server's fallback (`#[http_fallback]`), so it answers every request that no route of
//! ours takes, behind our middleware; its handlers use what the app injects (`Sender`, a
//! singleton) and may hand a WebSocket upgrade to one of our controllers with
//! `ws_core::http::hand_over`, so that the connection gets our hooks, context, rooms and
//! pushes by id. `cargo test -p ws-examples --example axum_interop` runs it over real
//! sockets.

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Path, Request as AxumRequest};
use axum::http::StatusCode as AxumStatus;
use axum::response::IntoResponse as _;
use axum::routing::{get, post};
use axum::Router;
use ws_core::http::{hand_over, Request};
use ws_core::{
    http_fallback, http_route, singleton, ws_controller, Conn, ConnId, Controller, HookResult,
    Inject, Message, Sender,
};

/// Who axum let in: set by the axum handler, read by the controller's hooks.
#[derive(Debug, Clone)]
pub struct User(pub String);

/// Counts the greetings axum served.
#[singleton]
#[derive(Debug)]
pub struct Greetings {
    #[default]
    served: AtomicUsize,
}

/// Our controller. Reached directly at `/chat` on server `http`, or handed over by axum from
/// `/api/chat` with a [`User`] in its context.
#[ws_controller(server = "http", path = "/chat")]
#[derive(Debug, Default)]
pub struct Chat;

impl Controller for Chat {
    async fn on_open(&self, cx: &mut Conn) -> HookResult {
        let user = cx
            .get::<User>()
            .map_or("guest", |u| u.0.as_str())
            .to_owned();
        cx.join("lobby");
        cx.send(format!("welcome {user}, you are {}", cx.id()))
            .await?;
        Ok(())
    }

    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        let user = cx
            .get::<User>()
            .map_or("guest", |u| u.0.as_str())
            .to_owned();
        let line = format!("{user}: {}", msg.as_text().unwrap_or(""));
        cx.sender().to("lobby").push(line).await;
        Ok(())
    }
}

/// Ours, on the same server: `GET /health`.
#[http_route(server = "http", path = "/health")]
async fn health(_req: Request) -> &'static str {
    "ok"
}

/// The axum side, built once at start-up with what the app injects.
#[http_fallback(server = "http")]
fn api(sender: Sender, greetings: Inject<Greetings>) -> Router {
    Router::new()
        .route(
            "/api/hello/{name}",
            get(move |Path(name): Path<String>| async move {
                let n = greetings.served.fetch_add(1, Ordering::Relaxed) + 1;
                format!("hello {name} from axum (greeting {n})")
            }),
        )
        .route("/api/chat", get(chat))
        .route(
            "/api/push/{id}",
            post(move |Path(id): Path<String>, body: String| async move {
                let Ok(id) = id.parse::<ConnId>() else {
                    return (AxumStatus::BAD_REQUEST, "not a connection id\n").into_response();
                };
                match sender.push(id, body).await {
                    Ok(()) => "pushed\n".into_response(),
                    Err(e) => (AxumStatus::NOT_FOUND, format!("{e}\n")).into_response(),
                }
            }),
        )
}

/// Lets in `?user=NAME` (refusing others), then hands the upgrade to [`Chat`].
async fn chat(mut req: AxumRequest) -> axum::response::Response {
    let user = req
        .uri()
        .query()
        .and_then(|q| q.strip_prefix("user="))
        .filter(|u| !u.is_empty())
        .map(str::to_owned);
    let Some(user) = user else {
        return (AxumStatus::UNAUTHORIZED, "say who you are: ?user=NAME\n").into_response();
    };
    req.extensions_mut().insert(User(user));
    hand_over(req, "/chat").await.into_response()
}

fn main() {
    ws_cli::main!()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

    use std::net::SocketAddr;
    use std::time::Duration;

    use futures_util::{SinkExt, StreamExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    use ws_core::{App, Config};

    const TIMEOUT: Duration = Duration::from_secs(30);

    async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(TIMEOUT, f)
            .await
            .unwrap_or_else(|_| panic!("timed out: {what}"))
    }

    /// One HTTP/1.1 request with `Connection: close`; the status and the whole response.
    async fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut s = within("connect", TcpStream::connect(addr)).await.unwrap();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        within("response", s.read_to_end(&mut out)).await.unwrap();
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
        (status, text)
    }

    fn body(text: &str) -> &str {
        text.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }

    type Client = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;

    async fn next_text(ws: &mut Client) -> String {
        loop {
            match within("a message", ws.next()).await.unwrap().unwrap() {
                WsMessage::Text(t) => return t.as_str().to_owned(),
                WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
                other => panic!("{other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn axum_router_beside_attribute_routes_over_real_sockets() {
        let mut config = Config::embedded().unwrap();
        for server in config.servers.values_mut() {
            server.port = 0;
            // The test's clients do not answer the server's close frame at the stop.
            server.close_timeout = Duration::from_millis(500);
        }
        let running = App::build(config).unwrap().start().await.unwrap();
        let addr = running.local_addr("http").unwrap();

        // Listed beside our routes.
        let lines: Vec<String> = running
            .app()
            .routes()
            .flat_map(|(_, r)| r.describe())
            .collect();
        assert!(
            lines
                .iter()
                .any(|l| l == "ANY   (fallback) -> axum_interop::api"),
            "{lines:#?}"
        );

        // Ours, then axum's, on one port; axum's handler uses the injected singleton.
        let (status, text) = request(addr, "GET", "/health", "").await;
        assert_eq!((status, body(&text)), (200, "ok"), "{text}");
        let (status, text) = request(addr, "GET", "/api/hello/ann", "").await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(body(&text), "hello ann from axum (greeting 1)");
        let (_, text) = request(addr, "GET", "/api/hello/bob", "").await;
        assert_eq!(body(&text), "hello bob from axum (greeting 2)");
        // What neither takes: axum's 404.
        let (status, _) = request(addr, "GET", "/nowhere", "").await;
        assert_eq!(status, 404);

        // axum refuses a handshake without a user...
        let refused = within(
            "refused",
            tokio_tungstenite::connect_async(format!("ws://{addr}/api/chat")),
        )
        .await;
        let tokio_tungstenite::tungstenite::Error::Http(r) = refused.unwrap_err() else {
            panic!("not an HTTP refusal");
        };
        assert_eq!(r.status(), 401);

        // ...and hands one with a user to our controller: our hooks, its context, rooms.
        let (mut ann, response) = within(
            "handshake",
            tokio_tungstenite::connect_async(format!("ws://{addr}/api/chat?user=ann")),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 101);
        let welcome = next_text(&mut ann).await;
        let id = welcome
            .strip_prefix("welcome ann, you are ")
            .unwrap_or_else(|| panic!("{welcome}"))
            .to_owned();
        // A guest straight on our own path, in the same room.
        let (mut guest, _) = within(
            "handshake",
            tokio_tungstenite::connect_async(format!("ws://{addr}/chat")),
        )
        .await
        .unwrap();
        assert!(next_text(&mut guest)
            .await
            .starts_with("welcome guest, you are "));
        ann.send(WsMessage::text("hi all")).await.unwrap();
        assert_eq!(next_text(&mut guest).await, "ann: hi all");
        assert_eq!(next_text(&mut ann).await, "ann: hi all");

        // axum pushes to the handed-over connection by its id, through our Sender.
        let (status, text) = request(addr, "POST", &format!("/api/push/{id}"), "from axum").await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(next_text(&mut ann).await, "from axum");
        let (status, _) = request(addr, "POST", "/api/push/0-999999", "x").await;
        assert_eq!(status, 404);

        // Counted in the metrics as the fallback's.
        let (status, text) = request(addr, "GET", "/metrics", "").await;
        assert_eq!(status, 200);
        assert!(
            text.lines().any(|l| l.starts_with("http_requests_total{")
                && l.contains("route=\"(fallback)\"")
                && l.contains("status=\"200\"")),
            "{text}"
        );

        assert!(running.shutdown().await);
    }
}
