use ws_core::{singleton, Config, Inject};

#[singleton]
#[derive(Default)]
pub struct Users;

pub struct Rooms {
    _users: Inject<Users>,
}

#[singleton]
impl Rooms {
    pub fn new(users: Inject<Users>, _config: Config) -> Result<Self, std::io::Error> {
        Ok(Self { _users: users })
    }
}

fn main() {}
