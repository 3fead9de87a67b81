use ws_core::ws_controller;

#[ws_controller(server = "ws", path = "/")]
pub struct Home<T> {
    #[default]
    t: T,
}

fn main() {}
