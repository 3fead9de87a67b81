use ws_core::{ws_controller, Controller};

#[ws_controller(server = "ws", path = "chat")]
pub struct Chat;
impl Controller for Chat {}

fn main() {}
