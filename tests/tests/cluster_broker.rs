//! The Broker seam: two nodes in one process, joined by a test broker, behave as one cluster
//! for the demo's controllers (which know nothing about it).

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::{Arc, Mutex};

use ws_core::broker::{Broker, BrokerError, Envelope, Target};
use ws_core::testing::{wait_until, TestServer};
use ws_core::{BoxFuture, Filter, Sender};
use ws_tests::test_config;

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
    let mut servers = Vec::new();
    for node in [1u16, 2] {
        let mut config = test_config();
        config.node_id = node;
        let server = TestServer::builder(config)
            .broker(broker.clone())
            .start()
            .await;
        broker.nodes.lock().unwrap().push(server.sender().clone());
        servers.push(server);
    }
    let (a, b) = (&servers[0], &servers[1]);
    let mut on_a = a.connect("ws", "/chat").await;
    let mut on_b = b.connect("ws", "/chat").await;
    let chat = Filter::route("ws", "/chat");
    wait_until("registered", || {
        a.sender().count(&chat) + b.sender().count(&chat) >= 2
    })
    .await;

    // The demo's chat relays through rooms; the room push crosses to node 2.
    on_a.send_text("hello cluster").await;
    assert_eq!(on_a.recv_text().await, "hello cluster");
    assert_eq!(on_b.recv_text().await, "hello cluster");

    // A push from node 1 to a connection of node 2.
    let id_b = b.sender().connections(&chat)[0].id;
    assert_eq!(id_b.node(), 2);
    a.sender().push(id_b, "direct").await.unwrap();
    assert_eq!(on_b.recv_text().await, "direct");

    // A broadcast from node 2 reaches node 1 once (not echoed back to node 2 twice).
    b.sender().broadcast(&chat, "everyone").await;
    assert_eq!(on_a.recv_text().await, "everyone");
    assert_eq!(on_b.recv_text().await, "everyone");
    on_b.send_text("ping").await;
    assert_eq!(
        on_b.recv_text().await,
        "ping",
        "no duplicate of `everyone` before it"
    );

    drop((on_a, on_b));
    for server in servers {
        server.stop().await;
    }
}
