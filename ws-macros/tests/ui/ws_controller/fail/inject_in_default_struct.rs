use ws_core::{ws_controller, Controller, Sender};

#[ws_controller(server = "ws", path = "/room", default)]
pub struct Room {
    #[inject]
    sender: Sender,
}
impl Controller for Room {}

fn main() {}
