use ws_core::singleton;

pub struct Rooms {
    _capacity: usize,
}

#[singleton]
impl Rooms {
    pub fn new(capacity: usize) -> Self {
        Self { _capacity: capacity }
    }
}

fn main() {}
