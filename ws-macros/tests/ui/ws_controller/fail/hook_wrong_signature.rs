use ws_core::{ws_controller, Conn, Controller, HookResult};

#[ws_controller(server = "ws", path = "/")]
pub struct Home;

impl Controller for Home {
    async fn on_message(&self, _cx: &mut Conn, _msg: String) -> HookResult {
        Ok(())
    }
}

fn main() {}
