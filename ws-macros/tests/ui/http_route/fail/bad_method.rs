use ws_core::http::Request;
use ws_core::http_route;

#[http_route(server = "http", method = "FETCH", path = "/health")]
pub async fn health(_req: Request) -> &'static str {
    "ok"
}

fn main() {}
