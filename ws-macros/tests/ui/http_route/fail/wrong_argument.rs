use ws_core::http_route;

#[http_route(server = "http", path = "/health")]
pub async fn health(_req: String) -> &'static str {
    "ok"
}

fn main() {}
