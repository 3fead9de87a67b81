//! Room operations on the connection (`cx.join`, `cx.leave`, `cx.rooms`) and a room push that
//! leaves one member out (`to(room).except(id)`).

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use ws_core::testing::TestServer;
use ws_core::{ws_controller, Conn, Controller, HookResult, Message};
use ws_tests::test_config;

/// `join R` / `leave R` / `rooms`; any other text goes to the room `r` except its sender, who
/// is told how many got it.
#[ws_controller(server = "ws", path = "/rooms-on-conn")]
#[derive(Debug, Default)]
pub struct RoomsOnConn;

impl Controller for RoomsOnConn {
    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        let text = msg.as_text().unwrap_or_default();
        if let Some(room) = text.strip_prefix("join ") {
            cx.join(room);
            cx.send(format!("rooms: {}", cx.rooms().join(","))).await?;
        } else if let Some(room) = text.strip_prefix("leave ") {
            let was = cx.leave(room);
            cx.send(format!(
                "left {room}: {was}; rooms: {}",
                cx.rooms().join(",")
            ))
            .await?;
        } else {
            let delivery = cx.sender().to("r").except(cx.id()).push(msg).await;
            cx.send(format!("relayed to {}", delivery.queued)).await?;
        }
        Ok(())
    }
}

#[tokio::test]
async fn join_leave_on_the_connection_and_a_room_push_without_its_sender() {
    let server = TestServer::start(test_config()).await;
    let mut a = server.connect("ws", "/rooms-on-conn").await;
    let mut b = server.connect("ws", "/rooms-on-conn").await;
    let mut c = server.connect("ws", "/rooms-on-conn").await;
    for client in [&mut a, &mut b, &mut c] {
        client.send_text("join r").await;
        assert_eq!(client.recv_text().await, "rooms: r");
    }
    a.send_text("join s").await;
    assert_eq!(a.recv_text().await, "rooms: r,s");

    // a's message reaches b and c, not a.
    a.send_text("hello").await;
    assert_eq!(a.recv_text().await, "relayed to 2");
    assert_eq!(b.recv_text().await, "hello");
    assert_eq!(c.recv_text().await, "hello");

    // c leaves: b's message reaches a only; b does not hear itself.
    c.send_text("leave r").await;
    assert_eq!(c.recv_text().await, "left r: true; rooms: ");
    c.send_text("leave r").await;
    assert_eq!(c.recv_text().await, "left r: false; rooms: ");
    b.send_text("again").await;
    assert_eq!(b.recv_text().await, "relayed to 1");
    assert_eq!(a.recv_text().await, "again");
    // c got nothing: its next message is the answer to its own next request.
    c.send_text("join q").await;
    assert_eq!(c.recv_text().await, "rooms: q");
    server.stop().await;
}
