use ws_core::singleton;

pub struct Rooms;

#[singleton(default)]
impl Rooms {
    pub fn new() -> Self {
        Rooms
    }
}

fn main() {}
