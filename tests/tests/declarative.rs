//! Middleware order and rejection, `on_handshake`, connected context, singleton injection,
//! the slow-consumer policy — through real sockets.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::atomic::{AtomicUsize, Ordering};

use ws_core::http::StatusCode;
use ws_core::testing::{ClientEvent, TestRequest, TestServer};
use ws_core::{
    middleware, singleton, ws_controller, CloseCode, Conn, Controller, HookResult, Inject, Message,
    Middleware, Rejection, RequestHead,
};
use ws_tests::{test_config, within};

/// Counts opened connections; shared by every controller that injects it.
#[singleton]
#[derive(Debug)]
pub struct Opened(#[default] AtomicUsize);

/// Order in which middleware ran, carried into the connection context.
#[derive(Debug, Clone, Default)]
struct Trail(Vec<&'static str>);

/// Runs second (priority 20): refuses `X-Reject`.
#[middleware(server = "ws", priority = 20)]
#[derive(Debug, Default)]
pub struct Gate;
impl Middleware for Gate {
    async fn handle(&self, req: &mut RequestHead) -> Result<(), Rejection> {
        if req.header("x-reject").is_some() {
            return Err(Rejection::forbidden("rejected by Gate"));
        }
        req.extensions_mut()
            .get_or_insert_default::<Trail>()
            .0
            .push("gate");
        Ok(())
    }
}

/// Runs first (priority -5).
#[middleware(server = "ws", priority = -5)]
#[derive(Debug, Default)]
pub struct First;
impl Middleware for First {
    async fn handle(&self, req: &mut RequestHead) -> Result<(), Rejection> {
        req.extensions_mut()
            .get_or_insert_default::<Trail>()
            .0
            .push("first");
        Ok(())
    }
}

/// Runs on every server, before everything else here (priority -100).
#[middleware(global, priority = -100)]
#[derive(Debug, Default)]
pub struct Everywhere;
impl Middleware for Everywhere {
    async fn handle(&self, req: &mut RequestHead) -> Result<(), Rejection> {
        if req.header("x-teapot").is_some() {
            return Err(Rejection::new(StatusCode::IM_A_TEAPOT, "global says no"));
        }
        req.extensions_mut()
            .get_or_insert_default::<Trail>()
            .0
            .push("global");
        Ok(())
    }
}

/// Username from the handshake, kept in the connected context (Hyperf's example).
#[derive(Debug, Clone)]
struct Username(String);

/// `/ctx`: reads the handshake, keeps state per connection, injects a singleton.
#[ws_controller(server = "ws", path = "/ctx")]
#[derive(Debug)]
pub struct Ctx {
    #[inject]
    opened: Inject<Opened>,
}

impl Controller for Ctx {
    async fn on_handshake(&self, req: &mut RequestHead) -> Result<(), Rejection> {
        let Some(name) = req.query().and_then(|q| q.strip_prefix("user=")) else {
            return Err(Rejection::new(StatusCode::UNAUTHORIZED, "who are you?"));
        };
        let name = name.to_owned();
        req.extensions_mut().insert(Username(name));
        req.extensions_mut()
            .get_or_insert_default::<Trail>()
            .0
            .push("handshake");
        Ok(())
    }

    async fn on_open(&self, cx: &mut Conn) -> HookResult {
        let n = self.opened.0.fetch_add(1, Ordering::SeqCst) + 1;
        let trail = cx.get::<Trail>().cloned().unwrap_or_default().0.join(">");
        cx.send(format!("trail {trail}; opened {n}")).await?;
        cx.insert(0usize);
        Ok(())
    }

    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        if msg.as_text() == Some("fail") {
            return Err("asked to fail".into());
        }
        let count = cx.get_mut::<usize>().unwrap();
        *count += 1;
        let count = *count;
        let name = cx.get::<Username>().unwrap().0.clone();
        cx.send(format!("Username: {name} #{count}")).await?;
        Ok(())
    }
}

#[tokio::test]
async fn middleware_runs_in_priority_order_then_handshake_then_context_lives_on() {
    let server = TestServer::start(test_config()).await;
    let mut a = server.connect("ws", "/ctx?user=ada").await;
    let first = a.recv_text().await;
    assert!(
        first.starts_with("trail global>first>gate>handshake; opened "),
        "{first}"
    );
    a.send_text("hi").await;
    assert_eq!(a.recv_text().await, "Username: ada #1");
    a.send_text("hi").await;
    assert_eq!(a.recv_text().await, "Username: ada #2");

    // A second connection has its own context but shares the singleton.
    let mut b = server.connect("ws", "/ctx?user=bob").await;
    let first_b = b.recv_text().await;
    let n_a: usize = first.rsplit(' ').next().unwrap().parse().unwrap();
    let n_b: usize = first_b.rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(n_b, n_a + 1, "{first} / {first_b}");
    b.send_text("x").await;
    assert_eq!(b.recv_text().await, "Username: bob #1");
    server.stop().await;
}

#[tokio::test]
async fn middleware_and_handshake_rejections_give_their_status() {
    let server = TestServer::start(test_config()).await;
    let refused = server
        .client("ws", "/ctx?user=x")
        .header("x-reject", "1")
        .reject()
        .await;
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(refused.body.ends_with("rejected by Gate"), "{refused:?}");
    let refused = server.client("ws", "/ctx").reject().await;
    assert_eq!(refused.status, 401, "{refused:?}");
    // Middleware runs on plain HTTP routes of its server too.
    let rejected = TestRequest::get("/health").header("x-reject", "1");
    let r = server.oneshot("ws", rejected.clone()).await;
    assert_eq!(r.status(), 403);
    // ...but not on another server's.
    let r = server.oneshot("http", rejected).await;
    assert_eq!(r.status(), 200);
    // Global middleware runs on both servers.
    for name in ["ws", "http"] {
        let teapot = TestRequest::get("/health").header("x-teapot", "1");
        let r = server.oneshot(name, teapot).await;
        assert_eq!(r.status(), 418, "{r:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn hook_error_closes_with_1011() {
    let server = TestServer::start(test_config()).await;
    let mut c = server.connect("ws", "/ctx?user=e").await;
    let _ = c.recv_text().await;
    c.send_text("fail").await;
    c.expect_close(CloseCode::INTERNAL).await;
    server.stop().await;
}

#[tokio::test]
async fn slow_consumer_is_dropped_and_others_keep_receiving() {
    let mut config = test_config();
    let ws = config.servers.get_mut("ws").unwrap();
    ws.outbound_queue = 4;
    let server = TestServer::start(config).await;

    let mut slow = server.connect("ws", "/chat").await; // never reads until the end
    let mut fast = server.connect("ws", "/chat").await;
    let filter = ws_core::Filter::route("ws", "/chat");
    server.wait_for_count(&filter, 2).await;
    let payload = vec![b'x'; 64 * 1024];
    let total = 300; // ~19 MiB: more than loopback socket buffers hold
    for _ in 0..total {
        fast.send_binary(payload.clone()).await;
        assert_eq!(fast.recv_binary().await.len(), payload.len());
    }
    // The slow client gets what was buffered, then the close frame 1008 that took the place
    // of its queued messages: never all 300 messages.
    let mut received = 0;
    let code = within("slow consumer's close", async {
        loop {
            match slow.recv_event().await {
                ClientEvent::Message(Message::Binary(_)) => received += 1,
                ClientEvent::Close(code, _) => break Some(code),
                ClientEvent::Ended => break None,
                _ => {}
            }
        }
    })
    .await;
    assert_eq!(code, Some(CloseCode::POLICY), "after {received} messages");
    // Once its close frame is written, the slow consumer leaves the table.
    server.wait_for_count(&filter, 1).await;
    assert!(received < total, "slow consumer got all {received}");
    server.stop().await;
}
