//! Corking (uWebSockets' word): while the server holds whole frames a client pipelined beyond
//! the one being handled, the replies to them are queued and written together once the frames
//! run out (one send over plain TCP, `Shared::cork` in `ws-core`'s `engine::outbox`).
//! What a client sees must not change: every reply whole and in order, a ping answered in its
//! place, over every transport (TLS and HTTP/2 are not corked, and must behave the same); and
//! no reply waits for a later message's hook that has to wait. (The single write itself is
//! tested on one socket in `engine::outbox`.)

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::LazyLock;

use tokio::sync::Semaphore;
use ws_core::{ws_controller, Conn, Controller, HookResult, Message};
use ws_tests::{encode, over, start, start_demo_over, test_config, within, RawClient, Transport};

const TEXT: u8 = 1;
const BINARY: u8 = 2;
const PING: u8 = 9;
const PONG: u8 = 10;

/// Messages pipelined in one write: several corks' worth (a cork takes at most 32 messages).
const PIPELINED: usize = 300;

/// Message `i` of the pipeline: its number, then padding to a size that varies with `i`
/// (up to about 2 KiB, so some writes are large enough to be taken in part).
fn numbered(i: usize) -> Vec<u8> {
    let mut payload = format!("{i}:").into_bytes();
    payload.resize(payload.len() + (i * 37) % 2048, b'x');
    payload
}

fn opcode(i: usize) -> u8 {
    if i.is_multiple_of(3) {
        TEXT
    } else {
        BINARY
    }
}

over!(pipelined_messages_come_back_whole_and_in_order);
async fn pipelined_messages_come_back_whole_and_in_order(t: Transport) {
    let (running, addr, _files) = start_demo_over(t).await;
    let mut c = RawClient::connect_over(t, addr, "/echo", "").await;
    // Twice, so the second pipeline finds a connection that was corked and uncorked before.
    for round in 0..2 {
        let mut bytes = Vec::new();
        for i in 0..PIPELINED {
            if i == PIPELINED / 2 {
                bytes.extend(encode(true, 0, PING, b"halfway", true));
            }
            bytes.extend(encode(true, 0, opcode(i), &numbered(i), true));
        }
        c.send_raw(&bytes).await;
        for i in 0..PIPELINED {
            if i == PIPELINED / 2 {
                let pong = c.recv().await.unwrap();
                assert_eq!(
                    (pong.opcode, &pong.payload[..]),
                    (PONG, &b"halfway"[..]),
                    "round {round}: the pong in its place"
                );
            }
            let f = c.recv().await.unwrap();
            assert!(f.fin);
            assert_eq!(f.opcode, opcode(i), "round {round}: message {i}");
            assert_eq!(f.payload, numbered(i), "round {round}: message {i}");
        }
    }
    // And one message on its own (not corked) still comes straight back.
    c.send(true, TEXT, b"alone").await;
    assert_eq!(c.recv_text().await, "alone");
    running.shutdown().await;
}

/// Lets the hook of `hold` go on (one permit per `hold` message).
static RELEASE: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(0));

/// Echoes, except `hold`: that hook waits until the test releases it, then answers `held`.
#[ws_controller(server = "ws", path = "/held-echo")]
#[derive(Debug, Default)]
struct HeldEcho;

impl Controller for HeldEcho {
    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        if msg.as_bytes() == b"hold" {
            RELEASE.acquire().await.unwrap().forget();
            cx.send("held").await?;
        } else {
            cx.send(msg).await?;
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_reply_does_not_wait_for_a_later_hook_that_waits() {
    let running = start(test_config()).await;
    let addr = running.local_addr("ws").unwrap();
    let mut c = RawClient::connect(addr, "/held-echo").await;
    let mut bytes = Vec::new();
    for text in ["one", "two", "hold", "three"] {
        bytes.extend(encode(true, 0, TEXT, text.as_bytes(), true));
    }
    c.send_raw(&bytes).await;
    // "one" and "two" were corked behind "hold", whose hook now waits for the test: they
    // must arrive anyway (were they held for the cork, this would time out).
    assert_eq!(c.recv_text().await, "one");
    assert_eq!(c.recv_text().await, "two");
    RELEASE.add_permits(1);
    assert_eq!(c.recv_text().await, "held");
    assert_eq!(c.recv_text().await, "three");
    within("shutdown", running.shutdown()).await;
}
