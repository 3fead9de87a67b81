use ws_core::{ws_controller, Controller};

#[ws_controller(path = "/")]
pub struct Home;
impl Controller for Home {}

fn main() {}
