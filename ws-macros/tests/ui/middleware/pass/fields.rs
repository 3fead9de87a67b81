use serde::Deserialize;
use ws_core::{middleware, Middleware, MiddlewareSettings, Rejection, RequestHead, Settings};

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct Limits {
    max: usize,
}
impl MiddlewareSettings for Limits {
    const NAME: &'static str = "limits";
}

#[middleware(server = "ws", priority = 5)]
pub struct Limit {
    #[inject]
    limits: Settings<Limits>,
    #[default]
    seen: std::sync::atomic::AtomicUsize,
}
impl Middleware for Limit {
    async fn handle(&self, req: &mut RequestHead) -> Result<(), Rejection> {
        let _ = (req, self.limits.get().max, &self.seen);
        Ok(())
    }
}

/// Built by its own `Default`.
#[middleware(global, default)]
#[derive(Default)]
pub struct Everywhere {
    _hits: Vec<u32>,
}
impl Middleware for Everywhere {
    async fn handle(&self, _req: &mut RequestHead) -> Result<(), Rejection> {
        Ok(())
    }
}

fn main() {}
