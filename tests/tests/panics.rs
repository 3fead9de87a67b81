//! A hook that panics ends its connection, and only its connection.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::time::Duration;

use ws_core::{ws_controller, Conn, Controller, Filter, HookResult, Message};
use ws_tests::{start, test_config, within, RawClient};

/// Echoes, and panics on `panic`.
#[ws_controller(server = "ws", path = "/panics")]
#[derive(Debug, Default)]
pub struct Panics;

impl Controller for Panics {
    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        if msg.as_text() == Some("panic") {
            panic!("a bug in a hook");
        }
        cx.send(msg).await?;
        Ok(())
    }
}

#[tokio::test]
async fn a_panicking_hook_drops_its_connection_and_leaves_the_table() {
    let running = start(test_config()).await;
    let addr = running.local_addr("ws").unwrap();
    let sender = running.app().sender().clone();
    let route = Filter::route("ws", "/panics");
    let mut bad = RawClient::connect(addr, "/panics").await;
    let mut good = RawClient::connect(addr, "/panics").await;
    within("both registered", async {
        while sender.count(&route) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;

    bad.send(true, 1, b"panic").await;
    // The socket is closed (no close frame: the task that would send it is gone).
    within("the panicking connection ends", async {
        while let Some(f) = bad.recv().await {
            assert_eq!(f.opcode, 8, "only a close frame may come: {f:?}");
        }
    })
    .await;
    within("the connection leaves the table", async {
        while sender.count(&route) > 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;

    // The other connection and the server carry on.
    good.send(true, 1, b"still here").await;
    let echo = good.recv().await.unwrap();
    assert_eq!(echo.payload, b"still here");
    running.shutdown().await;
}
