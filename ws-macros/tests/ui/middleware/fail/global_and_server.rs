use ws_core::{middleware, Middleware, Rejection, RequestHead};

#[middleware(global, server = "ws")]
pub struct Auth;
impl Middleware for Auth {
    async fn handle(&self, _req: &mut RequestHead) -> Result<(), Rejection> {
        Ok(())
    }
}

fn main() {}
