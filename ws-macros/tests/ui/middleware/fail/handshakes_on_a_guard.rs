use ws_core::{middleware, Middleware, Rejection, RequestHead};

/// Guards run on handshakes already: `handshakes` is for a tower layer.
#[middleware(server = "ws", handshakes)]
#[derive(Debug)]
pub struct Auth;

impl Middleware for Auth {
    async fn handle(&self, _req: &mut RequestHead) -> Result<(), Rejection> {
        Ok(())
    }
}

fn main() {}
