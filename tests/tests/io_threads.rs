//! The thread-per-core layout (`io_threads`): connections are served on the I/O threads, each
//! new one on the thread serving the fewest, and stays there; HTTP routes answer there too, pushes
//! from any thread reach them, and a graceful stop closes them and stops the threads.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ws_core::{ws_controller, Conn, Controller, Filter, HookResult, Message};
use ws_tests::{chat_receivers, http_get, start, test_config, within, RawClient};

/// Answers every message with the name of the thread its hook runs on.
#[ws_controller(server = "ws", path = "/which-thread")]
#[derive(Debug, Default)]
pub struct WhichThread;

impl Controller for WhichThread {
    async fn on_message(&self, cx: &mut Conn, _msg: Message) -> HookResult {
        let name = std::thread::current().name().unwrap_or("").to_owned();
        cx.send(name).await?;
        Ok(())
    }
}

fn with_io_threads(count: usize) -> ws_core::Config {
    let mut config = test_config();
    config.io_threads = count;
    config
}

const CONNECTIONS: usize = 20;
const ROUNDS: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_spread_evenly_over_the_io_threads_and_stay_on_theirs() {
    let running = start(with_io_threads(2)).await;
    let ws = running.local_addr("ws").unwrap();
    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        clients.push(RawClient::connect(ws, "/which-thread").await);
    }
    let mut served = BTreeMap::<String, usize>::new();
    for (n, client) in clients.iter_mut().enumerate() {
        let mut names = BTreeSet::new();
        for _ in 0..ROUNDS {
            client.send_text("where?").await;
            names.insert(client.recv_text().await);
        }
        assert_eq!(names.len(), 1, "connection {n} moved: {names:?}");
        let name = names.pop_first().unwrap();
        assert!(
            name == "ws-io-0" || name == "ws-io-1",
            "connection {n} on {name:?}"
        );
        *served.entry(name).or_default() += 1;
    }
    // Each new connection went to the thread serving the fewest.
    assert_eq!(
        served.into_values().collect::<Vec<_>>(),
        [CONNECTIONS / 2, CONNECTIONS / 2]
    );
    // Plain HTTP is served on the I/O threads too; the metrics show each thread's share.
    let http = running.local_addr("http").unwrap();
    let (status, _) = http_get(http, "/health").await;
    assert_eq!(status, 200);
    let (status, metrics) = http_get(http, "/metrics").await;
    assert_eq!(status, 200);
    let mut shares: Vec<u64> = (0..2)
        .map(|t| {
            let line = format!("ws_io_thread_connections{{thread=\"{t}\"}} ");
            let at = metrics
                .find(&line)
                .unwrap_or_else(|| panic!("{line} in {metrics}"));
            let rest = &metrics[at + line.len()..];
            rest[..rest.find('\n').unwrap()].parse().unwrap()
        })
        .collect();
    // 10 WebSockets each, and the scrape's connection (the `/health` one may not have been
    // counted out yet).
    shares.sort_unstable();
    let half = CONNECTIONS as u64 / 2;
    assert!(shares[0] >= half, "{shares:?}");
    assert!(
        (2 * half + 1..=2 * half + 2).contains(&(shares[0] + shares[1])),
        "{shares:?}"
    );
    running.shutdown().await;
}

/// With `io_threads = 0` the hooks run on the runtime the app was started on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_io_threads_connections_are_tasks_of_the_apps_runtime() {
    let running = start(with_io_threads(0)).await;
    let ws = running.local_addr("ws").unwrap();
    let mut client = RawClient::connect(ws, "/which-thread").await;
    client.send_text("where?").await;
    let name = client.recv_text().await;
    assert!(!name.starts_with("ws-io-"), "{name:?}");
    running.shutdown().await;
}

const RECEIVERS: usize = 600;
const MESSAGES: usize = 20;

/// Over the 512 receivers at which a fan-out is split: each I/O thread writes its own
/// receivers' share; every receiver gets every message in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_from_outside_reaches_every_receiver_on_every_io_thread_in_order() {
    let running = start(with_io_threads(2)).await;
    let ws = running.local_addr("ws").unwrap();
    let clients = chat_receivers(&running, RECEIVERS).await;
    let sender = running.app().sender().clone();
    let chat = Filter::route("ws", "/chat");
    let mut readers = tokio::task::JoinSet::new();
    for (n, mut client) in clients.into_iter().enumerate() {
        readers.spawn(async move {
            for i in 0..MESSAGES {
                assert_eq!(client.recv_text().await, format!("m{i}"), "receiver {n}");
            }
            client
        });
    }
    for i in 0..MESSAGES {
        let delivery = sender
            .broadcast(&chat, Message::text(format!("m{i}")))
            .await;
        assert_eq!((delivery.queued, delivery.failed), (RECEIVERS, 0), "{i}");
    }
    let mut clients = Vec::new();
    while let Some(r) = within("all receivers read everything", readers.join_next()).await {
        clients.push(r.unwrap());
    }
    assert_eq!(clients.len(), RECEIVERS);
    // A graceful stop closes every one with 1001 and then stops accepting.
    let stopping = tokio::spawn(running.shutdown());
    for client in &mut clients {
        assert_eq!(within("close", client.expect_close()).await, Some(1001));
    }
    drop(clients);
    assert!(within("drained", stopping).await.unwrap());
    let refused = within("connect after the stop", async {
        loop {
            match tokio::net::TcpStream::connect(ws).await {
                Err(_) => break,
                // An accept queue drained by nobody: the listener is closed once the
                // threads have dropped their handles.
                Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    });
    refused.await;
}
