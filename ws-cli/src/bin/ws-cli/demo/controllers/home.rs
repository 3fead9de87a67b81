//! Server `ws`, path `/`: the Hyperf seed's controller.

use ws_core::{ws_controller, Conn, Controller, HookResult, Message};

/// Sends `Opened` on open and answers each text message `X` with `Recv: X`.
#[ws_controller(server = "ws", path = "/")]
#[derive(Debug, Default)]
pub struct Home;

impl Controller for Home {
    async fn on_open(&self, cx: &mut Conn) -> HookResult {
        cx.send("Opened").await?;
        Ok(())
    }

    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        if let Message::Text(text) = msg {
            cx.send(format!("Recv: {text}")).await?;
        }
        Ok(())
    }
}
