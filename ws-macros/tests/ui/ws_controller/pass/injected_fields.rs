use serde::Deserialize;
use ws_core::{
    singleton, ws_controller, Config, Controller, Inject, LiveConfig, MiddlewareSettings, Sender,
    Settings,
};

pub trait Repo: Send + Sync {}

#[singleton(provides = dyn Repo)]
pub struct Memory;
impl Repo for Memory {}

#[derive(Deserialize)]
pub struct Limits {}
impl MiddlewareSettings for Limits {
    const NAME: &'static str = "limits";
}

/// Every injectable type, and a value of its own.
#[ws_controller(server = "ws", path = "/all")]
pub struct All {
    #[inject]
    _memory: Inject<Memory>,
    #[inject]
    _repo: Inject<dyn Repo>,
    #[inject]
    _limits: Settings<Limits>,
    #[inject]
    _sender: Sender,
    #[inject]
    _config: Config,
    #[inject]
    _live: LiveConfig,
    #[default]
    _seen: std::sync::atomic::AtomicUsize,
}
impl Controller for All {}

/// Tuple fields take the attributes too.
#[ws_controller(server = "ws", path = "/tuple")]
pub struct Tuple(#[inject] Inject<Memory>, #[default] Vec<String>);
impl Controller for Tuple {}

/// A unit struct needs nothing.
#[ws_controller(server = "ws", path = "/unit")]
pub struct Unit;
impl Controller for Unit {}

fn main() {}
