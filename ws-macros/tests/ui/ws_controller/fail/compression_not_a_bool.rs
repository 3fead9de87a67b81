use ws_core::{ws_controller, Controller};

#[ws_controller(server = "ws", path = "/", compression = "yes")]
pub struct Home;
impl Controller for Home {}

fn main() {}
