use ws_core::{singleton, ws_controller, Controller};

#[singleton]
pub struct Counter;

#[ws_controller(server = "ws", path = "/room")]
pub struct RoomCtl {
    // The singleton was meant: `#[inject] counter: Inject<Counter>`.
    counter: Counter,
}
impl Controller for RoomCtl {}

fn main() {}
