use ws_core::singleton;

pub struct Rooms;

#[derive(Debug)]
pub struct NoRooms;

#[singleton]
impl Rooms {
    pub fn new() -> Result<Self, NoRooms> {
        Err(NoRooms)
    }
}

fn main() {}
