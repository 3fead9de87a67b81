use ws_core::singleton;

#[singleton(lazy)]
#[derive(Default)]
pub struct Rooms;

fn main() {}
