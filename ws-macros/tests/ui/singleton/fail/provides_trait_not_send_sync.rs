use ws_core::singleton;

// Shared between connections: the trait needs `Send + Sync` (`pub trait Repo: Send + Sync`).
pub trait Repo {}

#[singleton(provides = dyn Repo)]
pub struct Memory;
impl Repo for Memory {}

fn main() {}
