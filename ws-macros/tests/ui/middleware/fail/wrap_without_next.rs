use ws_core::http::{Request, Response};
use ws_core::middleware;

#[middleware(server = "http")]
async fn timed(_req: Request) -> Response {
    Response::default()
}

fn main() {}
