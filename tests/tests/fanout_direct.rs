//! Fan-out writes straight into the receivers' sockets (no queue, no task per receiver when
//! a socket takes the frame), spread over the runtime's workers: every receiver still gets
//! every message, whole and in order, the slow ones too. (The partial writes themselves are
//! tested on one socket in `ws-core`'s `engine::outbox`.)

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use ws_core::{Filter, Message};
use ws_tests::{chat_receivers, start, test_config, within, RawClient};

const RECEIVERS: usize = 1000;
/// Receivers that read nothing until every message is published.
const SLOW: usize = 100;
const MESSAGES: usize = 50;
/// 50 × 4 KiB: under the default `outbound_bytes` (256 KiB), so nobody is a slow consumer.
const SIZE: usize = 4 << 10;

/// Message `i`: its number, then padding to `SIZE` bytes.
fn numbered(i: usize) -> String {
    let mut text = format!("{i}:");
    text.extend(std::iter::repeat_n('x', SIZE - text.len()));
    text
}

async fn check(n: usize, mut client: RawClient) -> RawClient {
    for i in 0..MESSAGES {
        let text = client.recv_text().await;
        assert_eq!(text.len(), SIZE, "receiver {n}: message {i} whole");
        let got: usize = text.split_once(':').unwrap().0.parse().unwrap();
        assert_eq!(got, i, "receiver {n}: out of order, lost or duplicated");
    }
    client
}

/// Two workers, so a publish to 1,000 receivers is written in two shares in parallel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_to_1000_sockets_reaches_every_one_whole_and_in_order() {
    let running = start(test_config()).await;
    let mut clients = chat_receivers(&running, RECEIVERS).await;
    let sender = running.app().sender().clone();
    let chat = Filter::route("ws", "/chat");
    let slow: Vec<RawClient> = clients.drain(..SLOW).collect();
    let mut readers = tokio::task::JoinSet::new();
    for (n, client) in clients.into_iter().enumerate() {
        readers.spawn(check(n + SLOW, client));
    }
    for i in 0..MESSAGES {
        let delivery = sender.broadcast(&chat, Message::text(numbered(i))).await;
        assert_eq!((delivery.queued, delivery.failed), (RECEIVERS, 0), "{i}");
    }
    for (n, client) in slow.into_iter().enumerate() {
        readers.spawn(check(n, client));
    }
    let mut done = 0;
    while let Some(r) = within("all receivers read everything", readers.join_next()).await {
        drop(r.unwrap());
        done += 1;
    }
    assert_eq!(done, RECEIVERS);
    running.shutdown().await;
}
