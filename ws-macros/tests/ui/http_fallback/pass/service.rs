use std::convert::Infallible;
use std::future::{ready, Ready};
use std::task::{Context, Poll};

use ws_core::http::Body;
use ws_core::{http_fallback, Sender};

/// Any tower service of HTTP requests (an axum `Router` is one).
#[derive(Clone)]
pub struct Hello(Sender);

impl tower_service::Service<http::Request<Body>> for Hello {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _req: http::Request<Body>) -> Self::Future {
        ready(Ok(http::Response::new(Body::from("hello"))))
    }
}

// Its arguments are injected once at start-up.
#[http_fallback(server = "http")]
fn api(sender: Sender) -> Hello {
    Hello(sender)
}

fn main() {}
