use ws_core::http::Request;
use ws_core::http_route;

#[http_route(server = "http", path = "/health")]
pub async fn health(_first: Request, _second: Request) -> &'static str {
    "ok"
}

fn main() {}
