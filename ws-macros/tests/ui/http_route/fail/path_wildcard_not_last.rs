use ws_core::http::Request;
use ws_core::http_route;

#[http_route(server = "http", path = "/files/{*path}/raw")]
pub async fn raw(_req: Request) -> &'static str {
    "raw"
}

fn main() {}
