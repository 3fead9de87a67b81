//! Server `ws`, path `/chat`: a relay to everyone on `/chat`.

use ws_core::{ws_controller, Conn, Controller, Filter, HookResult, Message};

/// Relays each message to every connection on `/chat`, the sender included (the Swoole
/// seed's batch-send example). The payload is shared, not copied, between receivers.
#[ws_controller(server = "ws", path = "/chat")]
#[derive(Debug, Default)]
pub struct Chat;

impl Controller for Chat {
    async fn on_message(&self, cx: &mut Conn, msg: Message) -> HookResult {
        let everyone = Filter::route(cx.server().as_str(), cx.path());
        cx.sender().broadcast(&everyone, msg).await;
        Ok(())
    }
}
