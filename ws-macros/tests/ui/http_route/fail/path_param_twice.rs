use ws_core::http::Request;
use ws_core::http_route;

#[http_route(server = "http", path = "/a/{id}/b/{id}")]
pub async fn twice(_req: Request) -> &'static str {
    "twice"
}

fn main() {}
