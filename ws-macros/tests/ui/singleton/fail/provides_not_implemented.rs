use ws_core::singleton;

pub trait Repo: Send + Sync {}

#[singleton(provides = dyn Repo)]
pub struct Memory;

fn main() {}
