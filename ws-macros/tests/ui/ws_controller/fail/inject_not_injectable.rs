use ws_core::{ws_controller, Controller};

#[ws_controller(server = "ws", path = "/room")]
pub struct Room {
    #[inject]
    count: u32,
}
impl Controller for Room {}

fn main() {}
