use ws_core::http::{IntoResponse, Request, Response};
use ws_core::{middleware, singleton, Inject, Next};

#[singleton]
pub struct Clock;

// A wrapper with an injected argument, returning any `IntoResponse`.
#[middleware(server = "http", priority = -1, paths = ["/a"])]
async fn timed(req: Request, next: Next, _clock: Inject<Clock>) -> impl IntoResponse {
    let res: Response = next.run(req).await;
    (ws_core::http::StatusCode::ACCEPTED, res)
}

#[middleware(global)]
async fn everywhere(req: Request, next: Next) -> Response {
    next.run(req).await
}

fn main() {}
