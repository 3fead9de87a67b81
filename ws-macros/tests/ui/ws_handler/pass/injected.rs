use ws_core::{singleton, ws_handler, Config, Inject, Recv, Sender, WebSocket};

#[singleton]
#[derive(Default)]
pub struct Rooms;

#[ws_handler(server = "ws", path = "/stream", protocol = "chat")]
async fn stream(mut ws: WebSocket, _rooms: Inject<Rooms>, _sender: Sender, _config: Config) -> Result<(), String> {
    while let Recv::Message(m) = ws.recv().await {
        ws.push(m).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn main() {}
