//! A Redis restart is survived: while Redis is away local delivery goes on and cross-node
//! pushes fail fast with `SendError::Unreachable`; once it is back, the nodes' subscriptions
//! and node id leases come back by themselves and delivery across nodes resumes.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::time::{Duration, Instant};

use ws_core::{App, BrokerAddr, Filter, Running, SendError};
use ws_tests::redis::RedisServer;
use ws_tests::{test_config, within, RawClient};

async fn node(redis_url: &str, cluster: &str, id: u16) -> Running {
    let mut config = test_config();
    config.node_id = id;
    config.broker = BrokerAddr::Redis(redis_url.to_owned());
    config.cluster = cluster.to_owned();
    App::build(config).unwrap().start().await.unwrap()
}

#[tokio::test]
async fn delivery_resumes_after_a_redis_restart() {
    let redis = RedisServer::start().await;
    let (port, url) = (redis.port(), redis.url());
    let cluster = format!("r{}", std::process::id());
    let n1 = node(&url, &cluster, 1).await;
    let n2 = node(&url, &cluster, 2).await;
    let mut c1 = RawClient::connect(n1.local_addr("ws").unwrap(), "/chat").await;
    let mut c2 = RawClient::connect(n2.local_addr("ws").unwrap(), "/chat").await;
    let chat = Filter::route("ws", "/chat");
    within("both registered", async {
        while n2.app().sender().count(&chat) < 1 || n1.app().sender().count(&chat) < 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let id2 = n2.app().sender().connections(&chat)[0].id;
    let s1 = n1.app().sender().clone();
    s1.push(id2, "before").await.unwrap();
    assert_eq!(within("before", c2.recv_text()).await, "before");

    redis.stop();
    // Local delivery goes on, and a connection's task is not held up by the broker being
    // away: 20 relays through node 2's lobby (each also published for the other nodes).
    c2.send_text("/whoami").await;
    assert!(within("whoami", c2.recv_text()).await.starts_with("id 2-"));
    let started = Instant::now();
    for i in 0..20 {
        c2.send_text(&format!("local {i}")).await;
        assert_eq!(
            within("local relay", c2.recv_text()).await,
            format!("local {i}")
        );
    }
    // Each used to wait for the broker's timeout (about 1.7 s: 33 s in all); now the first
    // finds the broker away and the others fail over at once.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "20 relays took {:?} while Redis was away",
        started.elapsed()
    );
    // A push across nodes fails fast, and says the node is unreachable.
    let started = Instant::now();
    let err = s1.push(id2, "while away").await.unwrap_err();
    assert!(
        matches!(err, SendError::Unreachable { node: 2, .. }),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    let _redis = RedisServer::start_on(port).await;
    // Pushes by id come back...
    within("pushes by id resume", async {
        let mut n = 0;
        loop {
            n += 1;
            if s1.push(id2, format!("after {n}")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    let got = within("after", c2.recv_text()).await;
    assert!(got.starts_with("after "), "{got}");
    // ...and so does room traffic: node 1's lobby message reaches node 2's client.
    within("room traffic resumes", async {
        let mut n = 0;
        loop {
            n += 1;
            let probe = format!("room {n}");
            c1.send_text(&probe).await;
            assert_eq!(c1.recv_text().await, probe);
            if let Ok(got) = tokio::time::timeout(Duration::from_millis(500), c2.recv_text()).await
            {
                if got.starts_with("room ") {
                    break;
                }
            }
        }
    })
    .await;
    // The node id leases are back: a second node 2 is refused again.
    within("lease renewed", async {
        loop {
            let mut config = test_config();
            config.node_id = 2;
            config.broker = BrokerAddr::Redis(url.clone());
            config.cluster = cluster.clone();
            match App::build(config).unwrap().start().await {
                Err(e) if e.to_string().contains("node_id 2 is held") => break,
                Err(e) => panic!("unexpected: {e}"),
                Ok(other) => {
                    other.shutdown().await;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    })
    .await;
    drop((c1, c2));
    n1.shutdown().await;
    n2.shutdown().await;
}
