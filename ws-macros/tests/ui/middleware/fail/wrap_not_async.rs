use ws_core::http::{Request, Response};
use ws_core::{middleware, Next};

#[middleware(server = "http")]
fn timed(req: Request, next: Next) -> Response {
    let _ = (req, next);
    Response::default()
}

fn main() {}
