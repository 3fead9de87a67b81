use ws_core::{ws_controller, Controller, HookResult};

#[ws_controller(server = "ws", path = "/")]
pub struct Home;

impl Controller for Home {
    // The context parameter is missing.
    async fn on_open(&self) -> HookResult {
        Ok(())
    }
}

fn main() {}
