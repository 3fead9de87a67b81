use ws_core::{ws_controller, Controller, Sender};

#[ws_controller(server = "ws", path = "/room")]
pub struct Room {
    #[inject(lazy)]
    sender: Sender,
}
impl Controller for Room {}

fn main() {}
