use std::sync::mpsc;

use ws_core::{ws_controller, Controller};

#[ws_controller(server = "ws", path = "/room")]
pub struct Room {
    #[default]
    jobs: mpsc::Sender<u32>,
}
impl Controller for Room {}

fn main() {}
