use ws_core::ws_handler;

#[ws_handler(server = "ws", path = "/stream")]
async fn stream() {}

fn main() {}
