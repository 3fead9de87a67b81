//! A connection that is closing stays bounded: a client that stopped reading, let its queue
//! back up and then sent its close frame is dropped after `write_timeout` without progress,
//! like an open one, instead of waiting forever for its last writes.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ws_core::{ws_controller, CloseFrame, Conn, Controller, Filter, HookResult, Message};
use ws_tests::{start, test_config, within, RawClient};

/// `on_close` calls so far.
static CLOSED: AtomicUsize = AtomicUsize::new(0);

/// `flood N` queues N messages of 1 MiB for this connection (one shared payload).
#[ws_controller(server = "ws", path = "/stalled-close")]
#[derive(Debug, Default)]
pub struct StalledClose;

impl Controller for StalledClose {
    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        let n: usize = msg
            .as_text()
            .and_then(|t| t.strip_prefix("flood "))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let payload = Message::binary(vec![7u8; 1 << 20]);
        for _ in 0..n {
            cx.sender().push(cx.id(), payload.clone()).await?;
        }
        Ok(())
    }

    async fn on_close(&self, _cx: &mut Conn, _close: CloseFrame) {
        CLOSED.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_then_closes_is_dropped_after_write_timeout() {
    let mut config = test_config();
    let ws = config.servers.get_mut("ws").unwrap();
    ws.write_timeout = Duration::from_millis(500);
    let running = start(config).await;
    let addr = running.local_addr("ws").unwrap();
    let sender = running.app().sender().clone();
    let route = Filter::route("ws", "/stalled-close");

    let mut client = RawClient::connect(addr, "/stalled-close").await;
    // 40 MiB queued, far more than the socket buffers of both ends hold: the server's writes
    // block, since this client never reads.
    client.send_text("flood 40").await;
    // Then its close frame (1000): the server starts its closing handshake, with the writes
    // still stuck behind the unread messages.
    client.send(true, 8, &1000u16.to_be_bytes()).await;

    within(
        "the closing connection is dropped and on_close runs",
        async {
            while CLOSED.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        },
    )
    .await;
    assert_eq!(sender.count(&route), 0, "it left the table");
    drop(client);
    running.shutdown().await;
}
