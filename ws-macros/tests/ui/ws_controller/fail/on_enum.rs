use ws_core::ws_controller;

#[ws_controller(server = "ws", path = "/")]
pub enum Home {
    A,
}

fn main() {}
