use ws_core::http_fallback;

#[derive(Clone)]
pub struct Api;

#[http_fallback(server = "http")]
async fn api() -> Api {
    Api
}

fn main() {}
