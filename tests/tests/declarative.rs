//! Middleware order and rejection, `on_handshake`, connected context, singleton injection,
//! the slow-consumer policy — through real sockets.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ws_core::http::StatusCode;
use ws_core::{
    middleware, singleton, ws_controller, Conn, Controller, HookResult, Inject, Message,
    Middleware, Rejection, RequestHead,
};
use ws_tests::{http_raw, start, test_config, within, RawClient};

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

fn upgrade(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

async fn text(c: &mut RawClient) -> String {
    loop {
        let f = c.recv().await.expect("a frame");
        if f.opcode == 1 {
            return String::from_utf8(f.payload).unwrap();
        }
    }
}

#[tokio::test]
async fn middleware_runs_in_priority_order_then_handshake_then_context_lives_on() {
    let running = start(test_config()).await;
    let addr = running.local_addr("ws").unwrap();
    let mut a = RawClient::connect(addr, "/ctx?user=ada").await;
    let first = text(&mut a).await;
    assert!(
        first.starts_with("trail global>first>gate>handshake; opened "),
        "{first}"
    );
    a.send(true, 1, b"hi").await;
    assert_eq!(text(&mut a).await, "Username: ada #1");
    a.send(true, 1, b"hi").await;
    assert_eq!(text(&mut a).await, "Username: ada #2");

    // A second connection has its own context but shares the singleton.
    let mut b = RawClient::connect(addr, "/ctx?user=bob").await;
    let first_b = text(&mut b).await;
    let n_a: usize = first.rsplit(' ').next().unwrap().parse().unwrap();
    let n_b: usize = first_b.rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(n_b, n_a + 1, "{first} / {first_b}");
    b.send(true, 1, b"x").await;
    assert_eq!(text(&mut b).await, "Username: bob #1");
    running.shutdown().await;
}

#[tokio::test]
async fn middleware_and_handshake_rejections_give_their_status() {
    let running = start(test_config()).await;
    let addr = running.local_addr("ws").unwrap();
    let (status, body) = http_raw(addr, &upgrade("/ctx?user=x", "X-Reject: 1\r\n")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.ends_with("rejected by Gate"), "{body}");
    let (status, body) = http_raw(addr, &upgrade("/ctx", "")).await;
    assert_eq!(status, 401, "{body}");
    // Middleware runs on plain HTTP routes of its server too.
    let (status, _) = http_raw(
        addr,
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Reject: 1\r\n\r\n",
    )
    .await;
    assert_eq!(status, 403);
    // ...but not on another server's.
    let http = running.local_addr("http").unwrap();
    let (status, _) = http_raw(
        http,
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Reject: 1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    // Global middleware runs on both servers.
    for addr in [addr, http] {
        let req = "GET /health HTTP/1.1\r\nHost: x\r\nX-Teapot: 1\r\nConnection: close\r\n\r\n";
        let (status, body) = http_raw(addr, req).await;
        assert_eq!(status, 418, "{body}");
    }
    running.shutdown().await;
}

#[tokio::test]
async fn hook_error_closes_with_1011() {
    let running = start(test_config()).await;
    let addr = running.local_addr("ws").unwrap();
    let mut c = RawClient::connect(addr, "/ctx?user=e").await;
    let _ = text(&mut c).await;
    c.send(true, 1, b"fail").await;
    assert_eq!(c.expect_close().await, Some(1011));
    running.shutdown().await;
}

#[tokio::test]
async fn slow_consumer_is_dropped_and_others_keep_receiving() {
    let mut config = test_config();
    let ws = config.servers.get_mut("ws").unwrap();
    ws.outbound_queue = 4;
    let running = start(config).await;
    let addr = running.local_addr("ws").unwrap();

    let mut slow = RawClient::connect(addr, "/chat").await; // never reads until the end
    let mut fast = RawClient::connect(addr, "/chat").await;
    let sender = running.app().sender().clone();
    let filter = ws_core::Filter::route("ws", "/chat");
    within("both registered", async {
        while sender.count(&filter) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let payload = vec![b'x'; 64 * 1024];
    let total = 300; // ~19 MiB: more than loopback socket buffers hold
    for i in 0..total {
        fast.send(true, 2, &payload).await;
        let f = fast
            .recv()
            .await
            .unwrap_or_else(|| panic!("fast client lost at {i}"));
        assert_eq!(f.payload.len(), payload.len());
    }
    // The slow client gets what was buffered, then the close frame 1008 that took the place
    // of its queued messages: never all 300 messages.
    let mut received = 0;
    let code = within("slow consumer's close", async {
        loop {
            match slow.recv().await {
                Some(f) if f.opcode == 2 => received += 1,
                Some(f) if f.opcode == 8 => break f.close_code(),
                Some(_) => {}
                None => break None,
            }
        }
    })
    .await;
    assert_eq!(code, Some(1008), "after {received} messages");
    // Once its close frame is written, the slow consumer leaves the table.
    within("slow consumer removed", async {
        while sender.count(&filter) > 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(received < total, "slow consumer got all {received}");
    running.shutdown().await;
}
