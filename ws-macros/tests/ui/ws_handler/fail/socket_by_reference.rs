use ws_core::{ws_handler, WebSocket};

#[ws_handler(server = "ws", path = "/stream")]
async fn stream(ws: &mut WebSocket) {
    let _ = ws.recv().await;
}

fn main() {}
