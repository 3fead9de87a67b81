//! Run with `cargo run -p ws-examples --example push_http -- start`, then open
//! `ws://127.0.0.1:9502/inbox/ada` and push to it from the shell:
//!
//! ```text
//! WS_SECRET_KEY=s3cret cargo run -p ws-examples --example push_http -- start
//! curl -H 'Authorization: Bearer s3cret' -d 'hello' 127.0.0.1:9501/notify/ada
//! curl -H 'Authorization: Bearer s3cret' -d 'to all' 127.0.0.1:9501/broadcast
//! ```
//!
//! Its tests: `cargo test -p ws-examples --example push_http`.
//!
//! Push from HTTP: WebSocket clients subscribe to their user's inbox (`/inbox/{user}`); HTTP
//! routes on the other server push to one user's connections (all their tabs) or to every
//! inbox, through the `Sender`. A guard on those routes checks the bearer key before any body
//! is read.

use ws_core::http::{Path, Request, StatusCode};
use ws_core::{
    http_route, middleware, ws_controller, Conn, Controller, Filter, HookResult, LiveConfig,
    Middleware, Rejection, RequestHead, Sender,
};

/// Every connection of a user is in the room `user:NAME`.
fn inbox(user: &str) -> String {
    format!("user:{user}")
}

/// `/inbox/{user}`: a connection that receives what is pushed to its user.
#[ws_controller(server = "ws", path = "/inbox/{user}")]
#[derive(Debug, Default)]
pub struct Inbox;

impl Controller for Inbox {
    async fn on_open(&self, cx: &mut Conn) -> HookResult {
        let user = cx.param("user").unwrap_or_default().to_owned();
        cx.join(&inbox(&user));
        Ok(())
    }
}

/// `POST /notify/{user}`: the body to every connection of `user`; 404 when none is open.
/// Its arguments are taken from the request (the path's `{user}`, the body as text: 400 if it
/// is not UTF-8) or injected (the `Sender`), in any order.
#[http_route(server = "http", method = "POST", path = "/notify/{user}")]
async fn notify(Path(user): Path<String>, text: String, sender: Sender) -> (StatusCode, String) {
    let delivery = sender.to(inbox(&user)).push(text).await;
    match delivery.queued {
        0 => (StatusCode::NOT_FOUND, format!("{user} has no open inbox\n")),
        n => (StatusCode::OK, format!("pushed to {n} connection(s)\n")),
    }
}

/// `POST /broadcast`: the body to every open inbox.
#[http_route(server = "http", method = "POST", path = "/broadcast")]
async fn broadcast(req: Request, sender: Sender) -> String {
    let text = String::from_utf8_lossy(req.body()).into_owned();
    let everyone = Filter::route("ws", "/inbox/{user}");
    let delivery = sender.broadcast(&everyone, text).await;
    format!("pushed to {} connection(s)\n", delivery.queued)
}

/// Both push routes need `Authorization: Bearer <secret_key>` (config `secret_key`, read per
/// request so that a reload applies a new one).
#[middleware(server = "http", paths = ["/notify/{user}", "/broadcast"])]
#[derive(Debug)]
pub struct PushKey {
    #[inject]
    config: LiveConfig,
}

impl Middleware for PushKey {
    async fn handle(&self, req: &mut RequestHead) -> Result<(), Rejection> {
        let config = self.config.get();
        let expected = config.secret_key.as_deref().map(|k| format!("Bearer {k}"));
        match (req.header("authorization"), expected) {
            (Some(given), Some(expected)) if given == expected => Ok(()),
            _ => Err(Rejection::unauthorized("a bearer key is needed\n")),
        }
    }
}

fn main() {
    ws_cli::main!()
}

#[cfg(test)]
mod tests {
    use ws_core::testing::{config, TestRequest, TestServer};
    use ws_core::Filter;

    fn push(path: &str, body: &str) -> TestRequest {
        TestRequest::post(path)
            .header("authorization", "Bearer s3cret")
            .body(body.to_owned())
    }

    async fn server() -> TestServer {
        let mut config = config();
        config.secret_key = Some("s3cret".into());
        TestServer::start(config).await
    }

    #[tokio::test]
    async fn a_push_reaches_every_tab_of_its_user_and_nobody_else() {
        let server = server().await;
        let mut ada1 = server.connect("ws", "/inbox/ada").await;
        let mut ada2 = server.connect("ws", "/inbox/ada").await;
        let mut bob = server.connect("ws", "/inbox/bob").await;
        // The connections are registered once their handshakes are done.
        let inboxes = Filter::route("ws", "/inbox/{user}");
        server.wait_for_count(&inboxes, 3).await;

        let r = server.oneshot("http", push("/notify/ada", "hi ada")).await;
        assert_eq!(r.status(), 200, "{r:?}");
        assert_eq!(r.text(), "pushed to 2 connection(s)\n");
        assert_eq!(ada1.recv_text().await, "hi ada");
        assert_eq!(ada2.recv_text().await, "hi ada");

        let r = server.oneshot("http", push("/broadcast", "to all")).await;
        assert_eq!(r.text(), "pushed to 3 connection(s)\n");
        // bob's first message is the broadcast: the push to ada never reached him.
        assert_eq!(bob.recv_text().await, "to all");
        assert_eq!(ada1.recv_text().await, "to all");

        let r = server.oneshot("http", push("/notify/eve", "anyone?")).await;
        assert_eq!(r.status(), 404);
    }

    #[tokio::test]
    async fn pushes_need_the_bearer_key() {
        let server = server().await;
        let r = server
            .oneshot("http", TestRequest::post("/broadcast").body("x"))
            .await;
        assert_eq!(r.status(), 401);
        let wrong = TestRequest::post("/notify/ada")
            .header("authorization", "Bearer nope")
            .body("x");
        assert_eq!(server.oneshot("http", wrong).await.status(), 401);
    }
}
