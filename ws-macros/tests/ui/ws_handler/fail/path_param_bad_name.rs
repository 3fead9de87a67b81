use ws_core::{ws_handler, WebSocket};

#[ws_handler(server = "ws", path = "/feed/{1st}")]
async fn feed(_ws: WebSocket) {}

fn main() {}
