use ws_core::singleton;

pub trait Repo: Send + Sync {}

#[singleton(provides = Repo)]
pub struct Memory;
impl Repo for Memory {}

fn main() {}
