use ws_core::{ws_controller, Controller};

#[ws_controller(server = "ws", path = "/rooms/room-{id}")]
pub struct Room;
impl Controller for Room {}

fn main() {}
