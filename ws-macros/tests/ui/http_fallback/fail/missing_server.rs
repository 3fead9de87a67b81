use ws_core::http_fallback;

#[derive(Clone)]
pub struct Api;

#[http_fallback]
fn api() -> Api {
    Api
}

fn main() {}
