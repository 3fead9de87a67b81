use ws_core::http::Request;
use ws_core::http_route;

#[http_route(server = "http", path = "/health")]
pub fn health(_req: Request) -> &'static str {
    "ok"
}

fn main() {}
