//! Run with `cargo run -p ws-examples --example coroutine -- start`, then connect to
//! `ws://127.0.0.1:9502/websocket`.
//!
//! Swoole's coroutine server, in Rust: the handler owns the socket and loops on `recv`;
//! `close` (the text) closes, and every other message gets two answers. A shared `Visitors`
//! singleton counts connections across handlers.

use std::sync::atomic::{AtomicUsize, Ordering};

use ws_core::{singleton, ws_handler, CloseCode, Inject, Recv, WebSocket};

/// How many connections the handler has seen.
#[singleton]
#[derive(Debug)]
pub struct Visitors(#[default] AtomicUsize);

#[ws_handler(server = "ws", path = "/websocket")]
async fn websocket(mut ws: WebSocket, visitors: Inject<Visitors>) {
    let n = visitors.0.fetch_add(1, Ordering::Relaxed) + 1;
    let _ = ws.push(format!("You are visitor {n}")).await;
    // `Close` and `Error` end the loop: the connection is over.
    while let Recv::Message(frame) = ws.recv().await {
        let data = frame.as_text().unwrap_or_default().to_owned();
        if data == "close" {
            ws.close(CloseCode::NORMAL, "bye");
            continue; // the next `recv` returns the end of the close handshake
        }
        let _ = ws.push(format!("Hello {data}!")).await;
        let _ = ws.push(format!("How are you, {data}?")).await;
    }
}

fn main() {
    // `--version` and `--help` show this crate's name, version and description.
    ws_cli::main!()
}
