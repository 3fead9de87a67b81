use ws_core::http::Request;
use ws_core::http_route;

#[http_route(server = "http", path = "/count")]
pub async fn count(_req: Request) -> u32 {
    3
}

fn main() {}
