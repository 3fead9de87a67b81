use ws_core::http::Request;
use ws_core::http_route;

#[http_route(server = "http", path = "/health")]
pub async fn health(req: &Request) -> String {
    req.path().to_owned()
}

fn main() {}
