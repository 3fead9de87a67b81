use ws_core::http::{Request, Response};
use ws_core::{middleware, Next, Sender};

#[middleware(server = "http")]
async fn timed(_req: Request, _sender: Sender, next: Next) -> Response {
    let _ = next;
    Response::default()
}

fn main() {}
