use ws_core::{middleware, Config};

/// Any tower layer: this one leaves the service as it is.
pub struct Identity;

impl<S> tower_layer::Layer<S> for Identity {
    type Service = S;
    fn layer(&self, inner: S) -> S {
        inner
    }
}

// A plain `fn` returning a layer; its arguments are injected once at start-up.
#[middleware(server = "http", priority = -5)]
fn identity(_config: Config) -> Identity {
    Identity
}

fn main() {}
