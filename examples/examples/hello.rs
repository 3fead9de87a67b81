//! Run with `cargo run -p ws-examples --example hello -- start`, then connect to
//! `ws://127.0.0.1:9502/` (e.g. `python3 -m websockets ws://127.0.0.1:9502/`).
//!
//! The smallest app: one controller (Hyperf's `WebSocketController`), one HTTP route, and
//! `main`. Nothing is registered by hand.

use ws_core::http::Request;
use ws_core::{http_route, ws_controller, Conn, Controller, HookResult, Message};

/// Greets on open and answers every text message.
#[ws_controller(server = "ws", path = "/")]
#[derive(Debug, Default)]
pub struct Hello;

impl Controller for Hello {
    async fn on_open(&self, cx: &mut Conn) -> HookResult {
        cx.send("Opened").await?;
        Ok(())
    }

    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        if let Some(text) = msg.as_text() {
            cx.send(format!("Recv: {text}")).await?;
        }
        Ok(())
    }
}

/// `GET /health` on the `http` server.
#[http_route(server = "http", path = "/health")]
async fn health(_req: Request) -> &'static str {
    "ok"
}

fn main() {
    // `--version` and `--help` show this crate's name, version and description.
    ws_cli::main!()
}
