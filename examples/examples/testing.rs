//! How an app tests itself with the test kit (`ws_core::testing`, ws-core's feature
//! `testing`, enabled in `[dev-dependencies]` only). Run the tests with
//! `cargo test -p ws-examples --example testing`; run the app with
//! `cargo run -p ws-examples --example testing -- start`, then open
//! `ws://127.0.0.1:9502/dm/ada` and send `{"to": "ada", "text": "hi"}`.
//!
//! The app: direct messages. A client connects as a user (`/dm/{user}`), sends JSON
//! `{"to": USER, "text": ..}` and receives `{"from": USER, "text": ..}`; anything else closes
//! it with 1003. `GET /online` lists who is connected. The tests below start it on free
//! ports, talk to it with typed clients, call its HTTP route without a socket, and move the
//! keep-alive clock instead of waiting for the idle timeout.

use serde::{Deserialize, Serialize};
use ws_core::http::Request;
use ws_core::{
    http_route, ws_controller, CloseCode, Conn, Controller, Filter, HookResult, Message, Rejection,
    RequestHead, Sender,
};

/// What a client sends.
#[derive(Debug, Serialize, Deserialize)]
pub struct Outgoing {
    /// The user it is for.
    pub to: String,
    /// The message.
    pub text: String,
}

/// What a client receives.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Incoming {
    /// Who sent it.
    pub from: String,
    /// The message.
    pub text: String,
}

/// `/dm/{user}`: direct messages between users.
#[ws_controller(server = "ws", path = "/dm/{user}")]
#[derive(Debug, Default)]
pub struct Direct;

impl Controller for Direct {
    async fn on_handshake(&self, req: &mut RequestHead) -> Result<(), Rejection> {
        match req.param("user") {
            Some("root") => Err(Rejection::forbidden("not as root")),
            _ => Ok(()),
        }
    }

    async fn on_open(&self, cx: &mut Conn) -> HookResult {
        let user = cx.param("user").unwrap_or_default().to_owned();
        cx.sender().set_meta(cx.id(), "user", &user);
        cx.join(&format!("user:{user}"));
        Ok(())
    }

    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        let Some(out) = msg
            .as_text()
            .and_then(|t| serde_json::from_str::<Outgoing>(t).ok())
        else {
            cx.close(CloseCode::UNSUPPORTED, "send {\"to\", \"text\"}");
            return Ok(());
        };
        let incoming = Incoming {
            from: cx.param("user").unwrap_or_default().to_owned(),
            text: out.text,
        };
        let json = serde_json::to_string(&incoming).map_err(|e| e.to_string())?;
        cx.sender().to(format!("user:{}", out.to)).push(json).await;
        Ok(())
    }
}

/// `GET /online` on the `http` server: the users connected to this node, sorted, as JSON.
#[http_route(server = "http", path = "/online")]
async fn online(_req: Request, sender: Sender) -> String {
    let mut users: Vec<String> = sender
        .connections(&Filter::route("ws", "/dm/{user}"))
        .iter()
        .filter_map(|c| sender.meta(c.id)?.get("user").cloned())
        .collect();
    users.sort();
    users.dedup();
    serde_json::to_string(&users).unwrap_or_default()
}

fn main() {
    ws_cli::main!()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Incoming, Outgoing};
    use ws_core::testing::{config, FakeClock, TestServer};
    use ws_core::{CloseCode, Filter};

    fn dm(to: &str, text: &str) -> Outgoing {
        Outgoing {
            to: to.into(),
            text: text.into(),
        }
    }

    #[tokio::test]
    async fn direct_messages_go_to_every_connection_of_their_user() {
        let server = TestServer::start(config()).await;
        let mut ada = server.connect("ws", "/dm/ada").await;
        let mut bob_phone = server.connect("ws", "/dm/bob").await;
        let mut bob_laptop = server.connect("ws", "/dm/bob").await;
        server
            .wait_for_count(&Filter::route("ws", "/dm/{user}"), 3)
            .await;

        ada.send_json(&dm("bob", "hi bob")).await;
        let expected = Incoming {
            from: "ada".into(),
            text: "hi bob".into(),
        };
        assert_eq!(bob_phone.recv_json::<Incoming>().await, expected);
        assert_eq!(bob_laptop.recv_json::<Incoming>().await, expected);

        bob_phone.send_json(&dm("ada", "hello")).await;
        let reply: Incoming = ada.recv_json().await;
        assert_eq!((reply.from.as_str(), reply.text.as_str()), ("bob", "hello"));
    }

    #[tokio::test]
    async fn anything_but_a_message_closes_with_1003() {
        let server = TestServer::start(config()).await;
        let mut ada = server.connect("ws", "/dm/ada").await;
        ada.send_text("hello?").await;
        let reason = ada.expect_close(CloseCode::UNSUPPORTED).await;
        assert!(reason.starts_with("send"), "{reason}");
    }

    #[tokio::test]
    async fn root_is_refused_at_the_handshake() {
        let server = TestServer::start(config()).await;
        let refused = server.client("ws", "/dm/root").reject().await;
        assert_eq!(refused.status, 403);
        assert_eq!(refused.body, "not as root");
    }

    #[tokio::test]
    async fn online_lists_the_connected_users_without_a_socket() {
        let server = TestServer::start(config()).await;
        assert_eq!(server.get("http", "/online").await.text(), "[]");
        let _bob = server.connect("ws", "/dm/bob").await;
        let _ada = server.connect("ws", "/dm/ada").await;
        server
            .wait_for_count(&Filter::route("ws", "/dm/{user}"), 2)
            .await;
        let response = server.get("http", "/online").await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Vec<String>>(), ["ada", "bob"]);
    }

    #[tokio::test]
    async fn a_silent_client_is_closed_after_the_idle_timeout_at_once() {
        let mut config = config();
        let ws = config.servers.get_mut("ws").unwrap();
        ws.idle_timeout = Duration::from_secs(300);
        ws.ping_interval = Duration::ZERO;
        let clock = FakeClock::new();
        let server = TestServer::builder(config).clock(&clock).start().await;
        let mut ada = server.connect("ws", "/dm/ada").await;

        clock.advance(Duration::from_secs(299)).await;
        ada.send_json(&dm("ada", "still here")).await; // to herself: a round trip
        assert_eq!(ada.recv_json::<Incoming>().await.text, "still here");
        clock.advance(Duration::from_secs(300)).await;
        assert_eq!(
            ada.expect_close(CloseCode::GOING_AWAY).await,
            "idle timeout"
        );
    }
}
