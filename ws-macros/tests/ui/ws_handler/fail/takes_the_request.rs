use ws_core::http::Request;
use ws_core::{ws_handler, WebSocket};

/// The handshake's request becomes the connection: a handler cannot take it.
#[ws_handler(server = "ws", path = "/feed")]
async fn feed(_ws: WebSocket, _req: Request) {}

fn main() {}
