use ws_core::singleton;

pub struct Rooms;

#[singleton]
impl Rooms {
    pub fn new() -> Option<Self> {
        Some(Rooms)
    }
}

fn main() {}
