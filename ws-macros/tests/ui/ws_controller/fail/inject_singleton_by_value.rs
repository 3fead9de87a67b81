use ws_core::{singleton, ws_controller, Controller};

#[singleton]
pub struct Counter;

#[ws_controller(server = "ws", path = "/room")]
pub struct Room {
    // A singleton is shared: `Inject<Counter>`.
    #[inject]
    counter: Counter,
}
impl Controller for Room {}

fn main() {}
