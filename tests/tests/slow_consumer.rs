//! A slow consumer (its queue full under `outbound_full = "close"`) is closed with 1008, and
//! a client that reads again gets that close frame, even when the server was blocked writing
//! to it: the queued messages are dropped and the close frame takes their place.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::time::Duration;

use ws_core::testing::{ClientEvent, TestServer};
use ws_core::{ws_controller, CloseCode, Conn, Controller, HookResult, Message};
use ws_tests::{test_config, within};

/// `push N`: pushes up to N messages of 100 KiB to itself through the `Sender` (which
/// follows `outbound_full`, unlike the connection's own sends), until one fails.
#[ws_controller(server = "ws", path = "/flood")]
#[derive(Debug, Default)]
pub struct Flood;

impl Controller for Flood {
    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        let n: usize = msg
            .as_text()
            .and_then(|t| t.strip_prefix("push "))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let payload = Message::binary(vec![7u8; 100 << 10]);
        for _ in 0..n {
            if cx.sender().push(cx.id(), payload.clone()).await.is_err() {
                break;
            }
            // Paced, so that the socket buffers fill before the queue does: the server is
            // then blocked in a write to this client when the queue is found full.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_slow_consumer_that_reads_again_gets_1008() {
    let mut config = test_config();
    let ws = config.servers.get_mut("ws").unwrap();
    // 50 messages queued at most; the socket buffers fill long before 400 are pushed, so the
    // server is blocked writing to this client when its queue is found full.
    ws.outbound_queue = 50;
    ws.outbound_bytes = 64 << 20;
    ws.write_timeout = Duration::from_secs(60);
    let server = TestServer::start(config).await;
    let mut client = server.connect("ws", "/flood").await;
    client.send_text("push 400").await;
    // Not reading while the pushes run and find the queue full.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // Reading again: what was in the socket, the message being written, then the close.
    let mut messages = 0;
    let code = within("close frame", async {
        loop {
            match client.recv_event().await {
                ClientEvent::Close(code, _) => break Some(code),
                ClientEvent::Message(_) => messages += 1,
                ClientEvent::Ping(_) | ClientEvent::Pong(_) => {}
                ClientEvent::Ended => break None,
            }
        }
    })
    .await;
    assert_eq!(code, Some(CloseCode::POLICY), "after {messages} messages");
    assert!(messages < 400, "the slow consumer got all {messages}");
    server.stop().await;
}
