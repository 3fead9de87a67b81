use ws_core::singleton;

pub struct Rooms;

#[singleton]
impl Rooms {
    pub fn create() -> Self {
        Rooms
    }
}

fn main() {}
