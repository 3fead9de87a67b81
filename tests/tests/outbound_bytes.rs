//! The outbound queue is bounded in bytes as well as messages (`outbound_bytes`): a client
//! that stops reading cannot make the server hold more than that (plus one message) for it.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::time::Duration;

use ws_core::testing::TestServer;
use ws_core::{ws_controller, Conn, Controller, HookResult, Message, OutboundPolicy, SendError};
use ws_tests::test_config;

/// `push N`: pushes N messages of 100 KiB to itself (one shared payload) through the
/// `Sender`, then sends back how many were queued and how many found the queue full.
#[ws_controller(server = "ws", path = "/self-push")]
#[derive(Debug, Default)]
pub struct SelfPush;

impl Controller for SelfPush {
    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        let n: usize = msg
            .as_text()
            .and_then(|t| t.strip_prefix("push "))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let payload = Message::binary(vec![1u8; 100 << 10]);
        let (mut queued, mut full) = (0, 0);
        for _ in 0..n {
            match cx.sender().push(cx.id(), payload.clone()).await {
                Ok(()) => queued += 1,
                Err(SendError::Full { .. }) => full += 1,
                Err(e) => return Err(e.into()),
            }
        }
        // The report waits for room (a connection's own hooks always wait).
        cx.send(format!("queued {queued} full {full}")).await?;
        Ok(())
    }
}

#[tokio::test]
async fn pushes_past_outbound_bytes_find_the_queue_full() {
    let mut config = test_config();
    let ws = config.servers.get_mut("ws").unwrap();
    ws.outbound_bytes = 64 << 10;
    // Drop what does not fit (the default, `close`, would close the client at the first).
    ws.outbound_full = OutboundPolicy::Drop;
    ws.write_timeout = Duration::ZERO;
    let server = TestServer::start(config).await;
    let mut client = server.connect("ws", "/self-push").await;
    // 400 x 100 KiB = 40 MiB: well under the 1024-message count bound, and far more than the
    // socket buffers hold while the client does not read. A message (larger than the 64 KiB
    // bound) goes into an empty queue; pushes that find one queued ahead find the queue full.
    client.send_text("push 400").await;
    // The binary messages that were queued, then the report (a close fails the test: the
    // connection stays open).
    let report = loop {
        if let Message::Text(report) = client.recv().await {
            break report.as_str().to_owned();
        }
    };
    let (queued, full) = report
        .strip_prefix("queued ")
        .and_then(|r| r.split_once(" full "))
        .map(|(q, f)| (q.parse::<usize>().unwrap(), f.parse::<usize>().unwrap()))
        .unwrap();
    assert_eq!(queued + full, 400, "{report}");
    assert!(full > 0, "the byte bound refused some: {report}");
    assert!(
        queued > 0,
        "one message larger than the bound goes into an empty queue: {report}"
    );
    drop(client);
    server.stop().await;
}
