use ws_core::{ws_controller, Controller};

#[ws_controller(server = "ws", path = "/room", default)]
pub struct Room {
    name: String,
}
impl Controller for Room {}

fn main() {}
