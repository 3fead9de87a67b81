//! The Broker seam: two nodes in one process, joined by a test broker, behave as one cluster
//! for the demo's controllers (which know nothing about it).

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ws_core::broker::{Broker, BrokerError, Envelope, Target};
use ws_core::registry::Registry;
use ws_core::{App, BoxFuture, Filter, Sender};
use ws_tests::{test_config, within, RawClient};

/// Hands every envelope to the other nodes' `deliver_local`, as a pub/sub broker would.
#[derive(Debug, Default)]
struct Loopback {
    nodes: Mutex<Vec<Sender>>,
}

impl Broker for Loopback {
    fn publish(&self, envelope: Envelope) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            let nodes = self.nodes.lock().unwrap().clone();
            if let Target::Conn(id) = &envelope.target {
                if !nodes.iter().any(|n| n.node() == id.node()) {
                    return Err(BrokerError::UnknownNode(id.node()));
                }
            }
            for node in nodes {
                node.deliver_local(&envelope);
            }
            Ok(())
        })
    }
}

#[tokio::test]
async fn broadcast_rooms_and_pushes_cross_nodes() {
    let broker = Arc::new(Loopback::default());
    let mut running = Vec::new();
    for node in [1u16, 2] {
        let mut config = test_config();
        config.node_id = node;
        let app = App::with_broker(Registry::linked(), config, broker.clone()).unwrap();
        broker.nodes.lock().unwrap().push(app.sender().clone());
        running.push(app.start().await.unwrap());
    }
    let (a, b) = (&running[0], &running[1]);
    let mut on_a = RawClient::connect(a.local_addr("ws").unwrap(), "/chat").await;
    let mut on_b = RawClient::connect(b.local_addr("ws").unwrap(), "/chat").await;
    let chat = Filter::route("ws", "/chat");
    within("registered", async {
        while a.app().sender().count(&chat) + b.app().sender().count(&chat) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;

    // The demo's chat relays through rooms; the room push crosses to node 2.
    on_a.send_text("hello cluster").await;
    assert_eq!(on_a.recv_text().await, "hello cluster");
    assert_eq!(on_b.recv_text().await, "hello cluster");

    // A push from node 1 to a connection of node 2.
    let id_b = b.app().sender().connections(&chat)[0].id;
    assert_eq!(id_b.node(), 2);
    a.app().sender().push(id_b, "direct").await.unwrap();
    assert_eq!(on_b.recv_text().await, "direct");

    // A broadcast from node 2 reaches node 1 once (not echoed back to node 2 twice).
    b.app().sender().broadcast(&chat, "everyone").await;
    assert_eq!(on_a.recv_text().await, "everyone");
    assert_eq!(on_b.recv_text().await, "everyone");
    on_b.send_text("ping").await;
    assert_eq!(
        on_b.recv_text().await,
        "ping",
        "no duplicate of `everyone` before it"
    );

    drop((on_a, on_b));
    for r in running {
        r.shutdown().await;
    }
}
