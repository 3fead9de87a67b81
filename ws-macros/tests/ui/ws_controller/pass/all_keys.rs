use ws_core::{ws_controller, Controller, Inject, Sender, singleton};

#[singleton]
#[derive(Default)]
pub struct Rooms;

#[ws_controller(server = "ws", path = "/rpc", protocol = ["jsonrpc", "v2"], protocol_required = true)]
#[derive(Default)]
pub struct Rpc {
    _rooms: Option<Inject<Rooms>>,
}
impl Controller for Rpc {}

#[ws_controller(server = "ws", path = "/x")]
pub struct WithInjected {
    _rooms: Inject<Rooms>,
    _sender: Sender,
    _count: u32,
}
impl Controller for WithInjected {}

fn main() {}
