//! A hook that panics ends its connection, and only its connection.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use ws_core::testing::{ClientEvent, TestServer};
use ws_core::{ws_controller, Conn, Controller, Filter, HookResult, Message};
use ws_tests::{test_config, within};

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
    let server = TestServer::start(test_config()).await;
    let route = Filter::route("ws", "/panics");
    let mut bad = server.connect("ws", "/panics").await;
    let mut good = server.connect("ws", "/panics").await;
    server.wait_for_count(&route, 2).await;

    bad.send_text("panic").await;
    // The socket is closed (no close frame: the task that would send it is gone).
    within("the panicking connection ends", async {
        loop {
            match bad.recv_event().await {
                ClientEvent::Ended => break,
                ClientEvent::Close(..) => {}
                other => panic!("only a close frame may come: {other:?}"),
            }
        }
    })
    .await;
    server.wait_for_count(&route, 1).await;

    // The other connection and the server carry on.
    good.send_text("still here").await;
    assert_eq!(good.recv_text().await, "still here");
    server.stop().await;
}
