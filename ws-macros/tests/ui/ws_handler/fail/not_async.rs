use ws_core::{ws_handler, WebSocket};

#[ws_handler(server = "ws", path = "/stream")]
fn stream(_ws: WebSocket) {}

fn main() {}
