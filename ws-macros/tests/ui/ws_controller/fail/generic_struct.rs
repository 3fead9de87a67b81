use ws_core::ws_controller;

#[ws_controller(server = "ws", path = "/")]
pub struct Home<T> {
    t: T,
}

fn main() {}
