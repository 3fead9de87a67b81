//! Server `ws`, path `/echo`: every message back, exactly.

use ws_core::{ws_controller, Conn, Controller, HookResult, Message};

/// Echoes every text and binary message (any size up to `max_message_size`).
#[ws_controller(server = "ws", path = "/echo")]
#[derive(Debug, Default)]
pub struct Echo;

impl Controller for Echo {
    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        cx.send(msg).await?;
        Ok(())
    }
}
