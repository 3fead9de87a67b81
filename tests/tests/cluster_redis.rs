//! Three nodes in one process joined through a real Redis (config `broker`): broadcasts,
//! rooms, pushes by id, counts and is-established cross nodes exactly once; a node id that is
//! taken stops the start; an id that no node holds is an error at once.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::time::Duration;

use ws_core::{App, BrokerAddr, Filter, Running, SendError};
use ws_tests::redis::RedisServer;
use ws_tests::{test_config, within, RawClient};

async fn node(
    redis: &RedisServer,
    cluster: &str,
    id: u16,
) -> Result<Running, ws_core::StartupError> {
    let mut config = test_config();
    config.node_id = id;
    config.broker = BrokerAddr::Redis(redis.url());
    config.cluster = cluster.to_owned();
    App::build(config)?.start().await
}

/// The next text frame, skipping pings.
async fn text(c: &mut RawClient) -> String {
    within("a text message", c.recv_text()).await
}

/// Sends `probe` from `c` to itself through the lobby and checks it is the next message: no
/// duplicate of anything before it is still on its way.
async fn nothing_more(c: &mut RawClient, probe: &str) {
    c.send_text(probe).await;
    // Other nodes' copies of earlier messages would arrive before our own relay of the probe
    // comes back through Redis? Not necessarily: give them time first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(text(c).await, probe, "a duplicate arrived before the probe");
}

#[tokio::test]
async fn three_nodes_deliver_across_the_cluster_exactly_once() {
    let redis = RedisServer::start().await;
    let cluster = format!("t{}", std::process::id());
    let mut nodes = Vec::new();
    for id in [1, 2, 3] {
        nodes.push(node(&redis, &cluster, id).await.unwrap());
    }
    let addr = |i: usize| nodes[i].local_addr("ws").unwrap();
    let chat = Filter::route("ws", "/chat");

    // One `/chat` client per node; each starts in the lobby room.
    let mut c1 = RawClient::connect(addr(0), "/chat").await;
    let mut c2 = RawClient::connect(addr(1), "/chat").await;
    let mut c3 = RawClient::connect(addr(2), "/chat").await;
    let s1 = nodes[0].app().sender().clone();
    within("every node counts its client", async {
        loop {
            let count = s1.cluster_count(&chat).await;
            if count.total == 3 && count.is_complete() {
                assert_eq!(count.nodes.len(), 3, "{count:?}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    // Room subscriptions are made when a room gets its first local member; let them land.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A room message from node 1 reaches the lobby on every node once.
    c1.send_text("hello cluster").await;
    for c in [&mut c1, &mut c2, &mut c3] {
        assert_eq!(text(c).await, "hello cluster");
    }

    // Rooms: node 2's and node 3's clients move to `blue`; node 1's stays in the lobby.
    c2.send_text("/join blue").await;
    assert_eq!(text(&mut c2).await, "joined blue");
    c3.send_text("/join blue").await;
    assert_eq!(text(&mut c3).await, "joined blue");
    tokio::time::sleep(Duration::from_millis(500)).await;
    c3.send_text("in blue").await;
    assert_eq!(text(&mut c2).await, "in blue");
    assert_eq!(text(&mut c3).await, "in blue");
    nothing_more(&mut c1, "lobby probe").await;

    // A broadcast by filter from node 3 reaches every `/chat` client once.
    nodes[2]
        .app()
        .sender()
        .broadcast(&chat, "to everyone")
        .await;
    for c in [&mut c1, &mut c2, &mut c3] {
        assert_eq!(text(c).await, "to everyone");
    }
    nothing_more(&mut c1, "after broadcast").await;

    // A push by id from node 1 to node 3's client.
    let id3 = nodes[2].app().sender().connections(&chat)[0].id;
    assert_eq!(id3.node(), 3);
    assert!(s1.is_established_anywhere(id3).await);
    s1.push(id3, "direct").await.unwrap();
    assert_eq!(text(&mut c3).await, "direct");

    // Closed on its node: the push says so (the node answers that it has no such id).
    drop(c3);
    within("node 3's client gone", async {
        while s1.is_established_anywhere(id3).await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(matches!(
        s1.push(id3, "late").await,
        Err(SendError::Closed { .. })
    ));
    // An id of a node that does not exist: an error at once, not a hang.
    let nowhere: ws_core::ConnId = "9-1".parse().unwrap();
    let started = std::time::Instant::now();
    assert!(matches!(
        s1.push(nowhere, "lost").await,
        Err(SendError::Closed { .. })
    ));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // A second node with a taken id does not start, and says why.
    let Err(err) = node(&redis, &cluster, 2).await else {
        panic!("node id 2 is taken, yet a second node 2 started");
    };
    let text = err.to_string();
    assert!(text.contains("node_id 2 is held by another node"), "{text}");

    drop((c1, c2));
    for n in nodes {
        n.shutdown().await;
    }
}

/// `POST /push?id=` with the demo's key, on node `i`'s `http` server.
async fn push_to(nodes: &[Running], i: usize, query: &str, body: &str) -> (u16, String) {
    let http = nodes[i].local_addr("http").unwrap();
    let request = format!(
        "POST /push{query} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    ws_tests::http_raw(http, &request).await
}

const KEY: &str = "cluster-key";

#[tokio::test]
async fn the_demo_pushes_by_id_and_counts_across_nodes() {
    let redis = RedisServer::start().await;
    let cluster = format!("d{}", std::process::id());
    let mut nodes = Vec::new();
    for id in [1, 2] {
        let mut config = test_config();
        config.node_id = id;
        config.broker = BrokerAddr::Redis(redis.url());
        config.cluster = cluster.clone();
        config.secret_key = Some(KEY.to_owned());
        nodes.push(App::build(config).unwrap().start().await.unwrap());
    }
    let mut on2 = RawClient::connect(nodes[1].local_addr("ws").unwrap(), "/chat").await;
    on2.send_text("/whoami").await;
    let who = text(&mut on2).await;
    let id = who.strip_prefix("id ").unwrap().to_owned();
    assert!(id.starts_with("2-"), "{who}");

    // Pushed through node 1's HTTP server to node 2's connection.
    let (status, body) = push_to(&nodes, 0, &format!("?id={id}"), "hi there").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(text(&mut on2).await, "hi there");
    let (status, body) = push_to(&nodes, 0, "?id=not-an-id", "x").await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = push_to(&nodes, 0, "?id=2-999999", "x").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = push_to(&nodes, 0, "?id=7-1", "x").await;
    assert_eq!(status, 404, "no node 7: {body}");

    // Counts over the cluster, from either node; the key is required.
    let http = nodes[0].local_addr("http").unwrap();
    let (status, _) = ws_tests::http_get(http, "/connections").await;
    assert_eq!(status, 401);
    let request = format!(
        "GET /connections HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nConnection: close\r\n\r\n"
    );
    let (status, body) = ws_tests::http_raw(http, &request).await;
    assert_eq!(status, 200, "{body}");
    let json = body.split("\r\n\r\n").nth(1).unwrap();
    let value: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(value["total"], 1, "{value}");
    assert_eq!(value["nodes"]["1"], 0, "{value}");
    assert_eq!(value["nodes"]["2"], 1, "{value}");

    drop(on2);
    for n in nodes {
        n.shutdown().await;
    }
}

#[tokio::test]
async fn a_password_in_the_broker_url_is_used_and_never_shown() {
    let redis = RedisServer::with_password("s3cr3t-pw").await;
    let cluster = format!("p{}", std::process::id());
    let url = |password: &str| format!("redis://:{password}@127.0.0.1:{}", redis.port());
    let start = |broker: String| {
        let cluster = cluster.clone();
        async move {
            let mut config = test_config();
            config.node_id = 1;
            config.broker = BrokerAddr::Redis(broker);
            config.cluster = cluster;
            App::build(config).unwrap().start().await
        }
    };
    let Err(err) = start(url("wrong-pw")).await else {
        panic!("a wrong password joined the cluster");
    };
    let text = err.to_string();
    assert!(text.contains(":***@127.0.0.1"), "{text}");
    assert!(!text.contains("wrong-pw"), "the password is shown: {text}");
    let running = start(url("s3cr3t-pw")).await.unwrap();
    let count = running.app().sender().cluster_count(&Filter::all()).await;
    assert!(count.is_complete(), "{count:?}");
    running.shutdown().await;
}
