use ws_core::{singleton, Inject};

pub trait Repo: Send + Sync {}
pub trait Cache: Send + Sync {}

/// Injected as `Inject<Memory>`, `Inject<dyn Repo>` and `Inject<dyn Cache>`.
#[singleton(default, provides = [dyn Repo, dyn Cache])]
#[derive(Default)]
pub struct Memory;
impl Repo for Memory {}
impl Cache for Memory {}

pub struct Service {
    _repo: Inject<dyn Repo>,
}

#[singleton(provides = dyn Fallible)]
impl Service {
    pub fn new(repo: Inject<dyn Repo>, _cache: Inject<dyn Cache>) -> Result<Self, String> {
        Ok(Self { _repo: repo })
    }
}

pub trait Fallible: Send + Sync {}
impl Fallible for Service {}

fn main() {}
