use ws_core::{ws_controller, Controller, Inject, Sender, singleton};

#[singleton]
pub struct Rooms;

#[ws_controller(server = "ws", path = "/rpc", protocol = ["jsonrpc", "v2"], protocol_required = true, compression = true)]
pub struct Rpc {
    #[default]
    _rooms: Option<Inject<Rooms>>,
}
impl Controller for Rpc {}

#[ws_controller(server = "ws", path = "/x")]
pub struct WithInjected {
    #[inject]
    _rooms: Inject<Rooms>,
    #[inject]
    _sender: Sender,
    #[default]
    _count: u32,
}
impl Controller for WithInjected {}

fn main() {}
