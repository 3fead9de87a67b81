use ws_core::http::Request;
use ws_core::http_route;

#[http_route(server = "http", path = "/count")]
pub async fn count(_req: Request, start: u32) -> String {
    start.to_string()
}

fn main() {}
