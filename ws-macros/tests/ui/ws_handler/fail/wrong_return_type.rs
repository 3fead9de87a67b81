use ws_core::{ws_handler, WebSocket};

#[ws_handler(server = "ws", path = "/stream")]
async fn stream(_ws: WebSocket) -> u32 {
    3
}

fn main() {}
